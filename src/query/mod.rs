//! The run query language: filters and sort orders, parsed into a syntax tree.
//!
//! This layer is pure Rust (no SQL, no I/O); `store::sqlite::search_sql` compiles the tree to
//! SQL. The language is a superset of MLflow's `search_runs` syntax, read in one of two
//! dialects ([`dialect`]): kiroku's (described below) or MLflow's, for the MLflow routes, which
//! differs only in the rules `dialect` lists. `experiments/search` filters are read by the same
//! lexer ([`parse_experiment_filter`]).
//!
//! # Filters
//!
//! ```text
//! metrics.val/acc > 0.9 and params.optimizer = 'adam'
//! tags.`mlflow.runName` like 'resnet%' or not status in ('failed', 'killed')
//! baseline and metrics.acc > 0.5        -- a bare word searches names and tags
//! ```
//!
//! * Fields are `type.key` with type `metrics`/`metric`, `params`/`param`/`parameter(s)`,
//!   `tags`/`tag`, `attributes`/`attribute`/`attr`/`run`, or `datasets`/`dataset` (case-insensitive).
//!   A field without a type is an attribute: `run_id` (`id`), `run_name` (`name`), `user_id`
//!   (`user`), `status`, `start_time` (`created`), `end_time`, `experiment`, `host`, `parent_id`.
//!   Dataset fields are `name`, `digest` and `context`.
//! * Unquoted keys hold letters, digits, `_ / - : .`; the field splits at its first dot, so
//!   `tags.mlflow.runName` is the tag `mlflow.runName`. Other keys are quoted:
//!   ``metrics.`my metric` `` or `metrics."my metric"`.
//! * Operators: `= != <> < <= > >=`, `[NOT] LIKE`, `[NOT] ILIKE`, `[NOT] IN (...)`,
//!   `IS [NOT] NULL`; `and`, `or`, `not` and parentheses (NOT binds tighter than AND, AND
//!   tighter than OR). Keywords ignore case.
//! * Values: strings in single or double quotes (a doubled quote stands for itself), numbers,
//!   and for metrics `NaN`, `inf`, `-inf`. `start_time` and `end_time` take ms since the epoch
//!   or a quoted time: `'2026-11-01'`, `'2026-11-01 14:30'`, `'2026-11-01T14:30:00+09:00'`
//!   (read in the local zone, `TZ` honoured, unless an offset is given; see [`time`]).
//! * A term that is only a word or a quoted string (`resnet`, `'lr sweep'`) matches runs whose
//!   name, or any tag key or value, contains it, ignoring case.
//!
//! # Sort orders
//!
//! `metrics.val/acc desc, params.lr, start_time asc`: fields as above, each optionally followed
//! by `asc` (the default) or `desc`.
//!
//! # Limits
//!
//! A filter holds at most [`MAX_CONDITIONS`] conditions, [`MAX_LIST_VALUES`] `IN` values in
//! all, `LIKE` patterns of at most [`MAX_PATTERN_BYTES`] bytes and 64 levels of nesting; an
//! order at most [`MAX_ORDER_KEYS`] keys. Past them the parser answers a positioned error,
//! so every accepted query compiles to SQL that SQLite runs.
//!
//! # Errors
//!
//! A [`QueryError`] carries a 1-based character column and a specific message; its `Display`
//! reads `error at column 17: expected a value after '>'`, and
//! [`QueryError::render_caret`] draws the input with a caret under the column.

mod ast;
pub mod dialect;
mod experiment_filter;
pub(crate) mod lexer;
mod parser;
pub mod time;

pub(crate) use ast::decimal_len;
pub use ast::{parse_decimal, Attribute, CmpOp, DatasetField, Expr, Literal, OrderKey, RunField};
pub use dialect::Dialect;
pub use experiment_filter::{
    parse_experiment_filter, ExperimentCondition, ExperimentField, ExperimentTest, ExperimentValue,
};
pub use parser::{MAX_CONDITIONS, MAX_LIST_VALUES, MAX_ORDER_KEYS, MAX_PATTERN_BYTES};

/// The longest error message (quotes of the input are cut to fit).
const MAX_MESSAGE_CHARS: usize = 300;
/// Characters of input shown on each side of the caret.
const CARET_CONTEXT_CHARS: usize = 60;

/// A syntax or type error in a filter or sort order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error at column {column}: {message}")]
pub struct QueryError {
    /// 1-based character (not byte) column of the offending text; one past the last
    /// character when the input ended too early.
    pub column: usize,
    /// What went wrong, e.g. `expected a value after '>'`.
    pub message: String,
}

impl QueryError {
    /// Messages quote the input; a long quote is cut (`model::excerpt_middle`) so a huge
    /// filter is never echoed whole.
    pub(crate) fn new(column: usize, message: impl Into<String>) -> QueryError {
        QueryError {
            column,
            message: crate::model::excerpt_middle(&message.into(), MAX_MESSAGE_CHARS),
        }
    }

    /// Two lines: `input` (tabs and line breaks shown as spaces) and a caret under the
    /// error's column, e.g.
    ///
    /// ```text
    /// metrics.acc >
    ///              ^
    /// ```
    ///
    /// A long input is shown only around the column (`…` marks what is left out).
    pub fn render_caret(&self, input: &str) -> String {
        let chars: Vec<char> = input
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        let at = self.column.saturating_sub(1);
        let start = at.saturating_sub(CARET_CONTEXT_CHARS);
        let end = (at + CARET_CONTEXT_CHARS).min(chars.len());
        let mut line: String = chars[start.min(end)..end].iter().collect();
        let mut pad = at - start;
        if start > 0 {
            line.insert(0, '…');
            pad += 1;
        }
        if end < chars.len() {
            line.push('…');
        }
        format!("{}\n{}^", line.trim_end(), " ".repeat(pad))
    }
}

/// Parses a filter in kiroku's dialect. An empty or whitespace-only filter is `Ok(None)` (no
/// filter).
pub fn parse_filter(input: &str) -> Result<Option<Expr>, QueryError> {
    parser::parse_filter(input, Dialect::Kiroku)
}

/// Parses a filter in the given dialect (see [`dialect`]).
pub fn parse_filter_in(input: &str, dialect: Dialect) -> Result<Option<Expr>, QueryError> {
    parser::parse_filter(input, dialect)
}

/// The filter with its quoted times (`start_time > '2026-11-01'`) pinned to ms since the epoch,
/// for sending to a server: a time without an offset means the reader's local time, which the
/// server, in its own zone, would read differently. Other filters, and filters that do not
/// parse (the server reports the error at its column), are sent as written.
pub fn pin_times(input: &str) -> String {
    let lower = input.to_ascii_lowercase();
    if !(lower.contains("start_time") || lower.contains("end_time")) {
        return input.to_string();
    }
    match parse_filter(input) {
        Ok(Some(expr)) => expr.to_string(),
        _ => input.to_string(),
    }
}

/// Parses a sort order: comma-separated fields, each optionally followed by `asc` or `desc`.
/// An empty order is an empty list (the store then sorts newest first). A field may appear
/// only once.
pub fn parse_order(input: &str) -> Result<Vec<OrderKey>, QueryError> {
    parser::parse_order(input, Dialect::Kiroku)
}

/// Parses a sort order in the given dialect (see [`dialect`]).
pub fn parse_order_in(input: &str, dialect: Dialect) -> Result<Vec<OrderKey>, QueryError> {
    parser::parse_order(input, dialect)
}

#[cfg(test)]
mod fuzz {
    use super::*;

    /// Token soup and raw bytes from a fixed generator: parsing never panics, and every error
    /// points inside the input (or just past its end).
    #[test]
    fn random_inputs_never_panic_and_errors_point_inside() {
        let pieces = [
            "metrics.",
            "params.",
            "tags.",
            "attributes.",
            "acc",
            "`a b`",
            "\"x\"",
            "'y'",
            "'",
            "\"",
            "`",
            ">",
            ">=",
            "<",
            "=",
            "!=",
            "<>",
            "LIKE",
            "ILIKE",
            "IN",
            "(",
            ")",
            ",",
            "NOT",
            "IS",
            "NULL",
            "and",
            "or",
            "0.5",
            "-1e9",
            "nan",
            "inf",
            " ",
            "é",
            "名",
            "\\",
            "%",
            "_",
            "status",
            "start_time",
            ".",
            "..",
            "datasets.name",
        ];
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let n = (next() % 12) as usize;
            let input: String = (0..n)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(if next() % 2 == 0 { " " } else { "" });
            for text in [input.as_str(), &input.chars().rev().collect::<String>()] {
                match parse_filter(text) {
                    Err(e) => {
                        assert!(
                            e.column >= 1 && e.column <= text.chars().count() + 1,
                            "{text:?}: {e}"
                        );
                        let _ = e.render_caret(text);
                    }
                    // What a filter prints reads back as the same filter (`pin_times` sends
                    // the printed form to servers).
                    // (Compared printed: NaN literals are not equal to themselves.)
                    Ok(Some(expr)) => {
                        let shown = expr.to_string();
                        let again = parse_filter(&shown).ok().flatten().map(|e| e.to_string());
                        assert_eq!(again, Some(shown.clone()), "{text:?} printed as {shown:?}");
                    }
                    Ok(None) => {}
                }
                if let Err(e) = parse_order(text) {
                    assert!(
                        e.column >= 1 && e.column <= text.chars().count() + 1,
                        "{text:?}: {e}"
                    );
                }
            }
        }
    }
}
