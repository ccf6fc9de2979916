//! The columns of a runs listing: what `--columns` accepts, each column's header, and each
//! run's cell in it, for people (tables, the UI) or for programs (CSV, Markdown). Also the
//! default choice of columns, shared by `kiroku runs ls` and the UI's runs screen.
use super::format::Format;
use super::number::format_value_as;
use super::time::{format_relative, format_run_duration, format_timestamp};
use crate::error::{KirokuError, Result};
use crate::model::Run;
use std::collections::BTreeSet;

/// A column of the runs table.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Status,
    Id,
    Name,
    Experiment,
    User,
    Host,
    Started,
    Duration,
    Stars,
    Param(String),
    Metric(String),
    Tag(String),
}

impl Column {
    pub fn parse(spec: &str) -> Result<Column> {
        let lower = spec.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "status" | "st" => Column::Status,
            "id" | "run_id" => Column::Id,
            "name" | "run_name" => Column::Name,
            "experiment" | "exp" => Column::Experiment,
            "user" => Column::User,
            "host" => Column::Host,
            "started" | "start" | "start_time" => Column::Started,
            "duration" | "dur" => Column::Duration,
            "stars" | "star" => Column::Stars,
            _ => match spec.split_once('.') {
                Some(("params" | "param", k)) => Column::Param(k.into()),
                Some(("metrics" | "metric", k)) => Column::Metric(k.into()),
                Some(("tags" | "tag", k)) => Column::Tag(k.into()),
                _ => {
                    return Err(KirokuError::Invalid(format!(
                        "unknown column '{spec}' (known: status, id, name, experiment, user, host, started, duration, stars, params.KEY, metrics.KEY, tags.KEY)"
                    )))
                }
            },
        })
    }

    /// The spec `parse` reads back (`status`, `params.lr`), for saving column choices.
    pub fn spec(&self) -> String {
        match self {
            Column::Status => "status".into(),
            Column::Id => "id".into(),
            Column::Name => "name".into(),
            Column::Experiment => "experiment".into(),
            Column::User => "user".into(),
            Column::Host => "host".into(),
            Column::Started => "started".into(),
            Column::Duration => "duration".into(),
            Column::Stars => "stars".into(),
            Column::Param(k) => format!("params.{k}"),
            Column::Metric(k) => format!("metrics.{k}"),
            Column::Tag(k) => format!("tags.{k}"),
        }
    }

    pub fn header(&self) -> String {
        match self {
            Column::Status => "ST".into(),
            Column::Id => "ID".into(),
            Column::Name => "NAME".into(),
            Column::Experiment => "EXPERIMENT".into(),
            Column::User => "USER".into(),
            Column::Host => "HOST".into(),
            Column::Started => "STARTED".into(),
            Column::Duration => "DUR".into(),
            Column::Stars => "★".into(),
            Column::Param(k) | Column::Metric(k) | Column::Tag(k) => k.clone(),
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Column::Metric(_) | Column::Duration)
    }

    pub fn cell(&self, run: &Run, format: Format, now: i64) -> String {
        let human = format == Format::Table;
        match self {
            Column::Status => run.status.to_string(),
            Column::Id => {
                if human {
                    crate::ids::short(&run.id).to_string()
                } else {
                    run.id.clone()
                }
            }
            Column::Name => run.name.clone(),
            Column::Experiment => run.experiment.clone(),
            Column::User => run.user.clone(),
            Column::Host => run.host.clone().unwrap_or_default(),
            Column::Started => {
                if human {
                    format_relative(run.start_time, now)
                } else {
                    format_timestamp(run.start_time)
                }
            }
            Column::Duration => {
                let d = format_run_duration(run.status, run.start_time, run.end_time, now);
                if run.end_time.is_none() && !run.status.is_terminal() && human {
                    format!("{d}…")
                } else {
                    d
                }
            }
            Column::Stars => {
                if run.stars.is_empty() {
                    String::new()
                } else {
                    run.stars.len().to_string()
                }
            }
            Column::Param(k) => run.params.get(k).cloned().unwrap_or_default(),
            Column::Metric(k) => run
                .metrics
                .get(k)
                .map(|m| format_value_as(m.last, format))
                .unwrap_or_default(),
            Column::Tag(k) => run.tags.get(k).cloned().unwrap_or_default(),
        }
    }
}

/// Status, id, name (experiment when several), user, started, duration, then the params that
/// vary among the runs, the metrics, and last the params that are the same everywhere (left
/// out with `only_changed`). Narrow terminals drop columns from the right, so what tells runs
/// apart stays visible longest.
pub fn default_columns(runs: &[Run], only_changed: bool) -> Vec<Column> {
    let mut cols = vec![Column::Status, Column::Id, Column::Name];
    let experiments: BTreeSet<&str> = runs.iter().map(|r| r.experiment.as_str()).collect();
    if experiments.len() > 1 {
        cols.push(Column::Experiment);
    }
    cols.extend([Column::User, Column::Started, Column::Duration]);
    let param_keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.params.keys()).collect();
    let (varying, constant): (Vec<&String>, Vec<&String>) =
        param_keys.into_iter().partition(|key| {
            runs.iter()
                .map(|r| r.params.get(*key))
                .collect::<BTreeSet<_>>()
                .len()
                > 1
        });
    // Params stay together: those that vary, then (unless only changed ones) the constant ones.
    cols.extend(varying.into_iter().map(|k| Column::Param(k.clone())));
    if !only_changed {
        cols.extend(constant.into_iter().map(|k| Column::Param(k.clone())));
    }
    let metric_keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.metrics.keys()).collect();
    cols.extend(metric_keys.into_iter().map(|k| Column::Metric(k.clone())));
    cols
}
