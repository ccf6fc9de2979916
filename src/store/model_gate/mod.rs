//! Moving a model's alias, the one way every move takes (`kiroku model alias|rollback`, the TUI,
//! and MLflow's `registered-models/alias` routes in `kiroku serve`): the alias's gate is judged,
//! a refusal lists every failing condition, and an allowed move is written with its deploy
//! hooks' deliveries in one transaction (`ModelStore::set_alias`). It lives in the store layer,
//! as `checks_gate` does for data checks, because the server judges gates too and cannot import
//! `models` (which delivers the outbox and submits jobs).
//!
//! - `policy`: an alias's gate judged over plain inputs;
//! - `facts`: a query-language filter evaluated over one run in memory (the `require` rules);
//! - `gather`: what a gate is judged on, from the store;
//! - `evaluations`: following evaluations of versions to their jobs;
//! - `hooks`: which hooks an event fires and what each delivery carries;
//! - `alias_move`: the move itself (promote, rollback, delete).
pub mod alias_move;
pub mod evaluations;
pub mod facts;
pub mod gather;
pub mod hooks;
pub mod policy;
