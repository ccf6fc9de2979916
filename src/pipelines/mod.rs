//! Pipelines: `dvc.yaml` run as tracked, cached, parallel jobs (issue 11).
//! (Stand-in until the definition side lands: the execution side's modules.)
pub mod cache;
pub mod executor;
pub mod stage_job;
