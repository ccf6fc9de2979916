//! The two dialects of the run query language, and every rule in which they differ.
//!
//! One lexer, one parser and one SQL compiler serve both; each place where the dialects part
//! asks one of the methods below, so this file is the whole list of differences (the README's
//! query-language section carries the same table). The registry's searches
//! (`store::sqlite::registry_filter`) read their filters with the same lexer in MLflow's
//! dialect:
//!
//! | rule | kiroku (CLI, TUI, `/api/v1`) | MLflow (`/api/2.0/mlflow/*`, `/ajax-api/*`) |
//! |---|---|---|
//! | quotes inside strings ([`quotes_escape`](Dialect::quotes_escape)) | `'it''s'` is `it's` | no escape: `'it''s'` is the text `it''s`, as written |
//! | params ([`params_are_numbers`](Dialect::params_are_numbers)) | numeric when the value is a number: `params.lr = '1e-3'` matches `0.001`; numbers sort before text, by value | text: `'0.001'` matches only `0.001`; `order_by params.x` is text order |
//! | `run_id`, `parent_id` ([`ids_ignore_case`](Dialect::ids_ignore_case)) | ignore case | case-sensitive (`LIKE 'A%'` finds no lowercase id) |
//! | `status` ([`status_name`](Dialect::status_name)) | kiroku's names (`queued running finished failed killed lost`), case ignored, MLflow's names accepted (`SCHEDULED` is `queued`); sorts by kiroku's name | MLflow's names (`SCHEDULED RUNNING FINISHED FAILED KILLED`, `lost` shows as `FAILED`), case-sensitive; sorts by MLflow's name |
//! | stray `AND` ([`ignores_stray_and`](Dialect::ignores_stray_and)) | an error | ignored at either end (and doubled), as MLflow does |
//! | metric infinities in a sort ([`infinities_sort_after_numbers`](Dialect::infinities_sort_after_numbers)) | after every number, before NaN, in both directions (`model::metric_order`: a diverged loss is never first) | numbers like any other (largest and smallest) |
//!
//! Both dialects share the rest, MLflow's rules among them: a metric whose latest value is NaN
//! satisfies `!= v` for every number `v` (`!=` is the complement of `=` among runs that hold
//! the key; kiroku's dialect adopted MLflow's rule), `LIKE` is case-sensitive and `ILIKE` is not,
//! a run lacking a key matches no comparison, missing values sort last in both directions,
//! `artifact_uri` is an attribute, and the aliases ``attributes.`run name` ``, `` `Run Name` ``,
//! `` `metrics`.acc `` and `created` work.
//!
//! Kiroku's dialect extends MLflow's grammar, and the MLflow routes accept the extensions too
//! (no MLflow client sends them, so none breaks): `or`, `not`, parentheses, `==` and `<>`,
//! `IN` on any field, `IS NULL` on metrics and nullable attributes, unquoted numbers for params
//! and tags, quoted numbers and `NaN`/`inf` for metrics, quoted times for `start_time`, bare
//! words, case-insensitive type prefixes and attribute names, and the attributes `experiment`,
//! `host` and `parent_id`. A duplicate `order_by` key is a clean 400 on both (MLflow answers 500).

pub use crate::model::QueryDialect as Dialect;
use crate::model::RunStatus;

impl Dialect {
    /// Whether a doubled quote inside a quoted string or name stands for one quote (kiroku), or
    /// the text between the outer quotes is taken as written (MLflow).
    pub fn quotes_escape(self) -> bool {
        self == Dialect::Kiroku
    }

    /// Whether params compare and sort as numbers when they hold numbers (kiroku), or always as
    /// text (MLflow).
    pub fn params_are_numbers(self) -> bool {
        self == Dialect::Kiroku
    }

    /// Whether a metric's ±inf sorts after every number, in both directions (kiroku's
    /// `model::metric_order`), or as the largest and smallest numbers (MLflow).
    pub fn infinities_sort_after_numbers(self) -> bool {
        self == Dialect::Kiroku
    }

    /// Whether `run_id` and `parent_id` compare ignoring case (kiroku) or exactly (MLflow).
    pub fn ids_ignore_case(self) -> bool {
        self == Dialect::Kiroku
    }

    /// Whether `AND` at the start or end of a filter, or doubled, is ignored (MLflow) rather
    /// than an error (kiroku).
    pub fn ignores_stray_and(self) -> bool {
        self == Dialect::Mlflow
    }

    /// The name a status is searched and sorted under: kiroku's (`queued`) or MLflow's
    /// (`SCHEDULED`).
    pub fn status_name(self, status: RunStatus) -> &'static str {
        match self {
            Dialect::Kiroku => status.as_str(),
            Dialect::Mlflow => match status {
                RunStatus::Queued => "SCHEDULED",
                RunStatus::Running => "RUNNING",
                RunStatus::Finished => "FINISHED",
                RunStatus::Failed | RunStatus::Lost => "FAILED",
                RunStatus::Killed => "KILLED",
            },
        }
    }

    /// Whether `status` compares ignoring case (kiroku) or exactly (MLflow).
    pub fn status_ignores_case(self) -> bool {
        self == Dialect::Kiroku
    }

    /// A status value as written in a filter, as the name it is compared with: in kiroku's
    /// dialect any name `RunStatus` reads (`SCHEDULED`, `Finished`) becomes kiroku's name;
    /// other text, and every value in MLflow's dialect, stays as written.
    pub fn status_value(self, text: &str) -> String {
        match self {
            Dialect::Kiroku => text
                .parse::<RunStatus>()
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|_| text.to_string()),
            Dialect::Mlflow => text.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_follow_each_dialect() {
        assert_eq!(Dialect::Mlflow.status_name(RunStatus::Queued), "SCHEDULED");
        assert_eq!(Dialect::Mlflow.status_name(RunStatus::Lost), "FAILED");
        assert_eq!(Dialect::Kiroku.status_name(RunStatus::Queued), "queued");
        assert_eq!(Dialect::Kiroku.status_value("SCHEDULED"), "queued");
        assert_eq!(Dialect::Kiroku.status_value("other"), "other");
        assert_eq!(Dialect::Mlflow.status_value("finished"), "finished");
    }
}
