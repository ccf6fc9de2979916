//! kiroku: a terminal workbench for machine-learning teams.
//!
//!
//! # Layers
//!
//! A module imports only modules of the layers below its own; `main.rs` may import anything.
//! `tests/layers.rs` holds the same table and fails on an import against it, on a top-level
//! module it does not place, and on any circle. Names in *italics* are planned, not written yet.
//!
//! | layer          | modules                                            | what lives there |
//! |----------------|----------------------------------------------------|------------------|
//! | command line   | `cli`                                              | one file per command; opens the UI (the only import of `tui`) |
//! | terminal UI    | `tui`                                              | the interactive workbench |
//! | agent interface | `mcp`                                             | kiroku as an MCP server: tools and resources for agents (stdio, and `/mcp` for `kiroku serve`) |
//! | presentation   | `present`                                          | formatting and columns shared by `cli` and `tui` |
//! | run wrapper    | `wrap`, `pipelines`, `models`                      | `kiroku run` (may start a background `server` for `--mlflow`); pipelines; the model registry's gates and hooks |
//! | services       | `server`, `supervise`, `jobs`, `checks`              | the HTTP server; lost-run recovery; the job queue; the data checks engine |
//! | ingest         | `ingest`                                           | output scalars, the metrics file, MLflow stores, files attached to runs |
//! | store          | `store`                                            | `trait Store`: SQLite and the HTTP client; store discovery |
//! | domain logic   | `api`, `config`, `query`, `compare`, `demo_model`, `ids` | wire types, configuration, the query language, comparison, run ids |
//! | metric series  | `series`                                           | downsampling metric histories for charts |
//! | domain types   | `model`                                            | plain records shared by everything above |
//! | leaf helpers   | `fsutil`, `limits`, `mlflow_names`, `process`, `suggest`, `user_dirs` | file helpers, input size limits, MLflow's names, process identity, close matches, per-user folders |
//! | errors         | `error`                                            | `KirokuError` |
pub mod api;
pub mod checks;
pub mod cli;
pub mod compare;
pub mod config;
pub mod demo_model;
pub mod error;
pub mod fsutil;
pub mod ids;
pub mod ingest;
pub mod jobs;
pub mod limits;
pub mod mcp;
pub mod mlflow_names;
pub mod model;
pub mod models;
pub mod pipelines;
pub mod present;
pub mod process;
pub mod query;
pub mod series;
pub mod server;
pub mod store;
pub mod suggest;
pub mod supervise;
pub mod tui;
pub mod user_dirs;
pub mod wrap;
