//! Compiles a parsed run query (`crate::query`) into SQL fragments for SQLite.
//!
//! The store runs
//!
//! ```sql
//! SELECT r.rid FROM runs r JOIN experiments e ON e.id = r.experiment_id {joins}
//! WHERE ({where_sql}) AND <store conditions> ORDER BY {order_sql} LIMIT ? OFFSET ?
//! ```
//!
//! binding [`CompiledSearch::params`] first (joins', then the filter's, then the order's, in
//! the order their `?` appear), then its own. Every user value is a bound parameter.
//!
//! SQLite's limits hold for every query the parser accepts (`crate::query` bounds it): at
//! most 1,000 conditions of at most 3 parameters each plus 10,000 list values is about 13,000
//! of the 32,766 parameters a statement takes; `AND`/`OR` lists compile to balanced trees
//! (depth 10 for 1,000 conditions, under `SQLITE_MAX_EXPR_DEPTH`'s 1,000); 16 sort keys are
//! 16 joins of the 64 allowed; `LIKE` patterns stay within 50,000 bytes.
//!
//! Semantics:
//! * Metric, param, tag and dataset conditions are `r.rid IN (SELECT rid FROM <table> WHERE
//!   key = ? AND <cond>)`, so SQLite can use the `(key, last)`, `(key, num)` and
//!   `(key, value)` indexes; a run lacking the key never matches a comparison, `!=` included.
//!   Every condition is two-valued (never SQL NULL), so `not` is a plain complement.
//! * Metrics compare `metric_summary.last`; a NaN latest value (`last IS NULL AND last_nan = 1`)
//!   matches `= NaN` and `!= <number>` (as in MLflow: `!=` is the complement of `=` among the
//!   runs that hold the key).
//! * Where the two dialects differ (`crate::query::dialect`): in kiroku's, params compare
//!   `params.num` when the literal is numeric (`'1e-2' = 0.01`), else text (`!= <number>` also
//!   matches non-numeric values), and `status`, `run_id` and `parent_id` ignore case; in
//!   MLflow's, params are text and those attributes compare exactly, `status` by MLflow's names.
//!   `LIKE` is case-sensitive (the store sets `PRAGMA case_sensitive_like = ON`), `ILIKE`
//!   compares `lower()` of both sides.
//! * A bare word matches when the run name, or a tag key or value, contains it (`instr` on
//!   `lower()`ed text, so `%` and `_` in the word are literal characters).
//! * Sorting puts runs missing the key last in both directions; for metrics a NaN latest
//!   value sorts after numbers and before missing, and in kiroku's dialect ±inf sorts after
//!   numbers and before NaN (`model::metric_order`); params sort numeric values (by number)
//!   before text values (by text). The order always ends with `r.start_ms DESC, r.id ASC`.

use rusqlite::types::Value;

use crate::model::RunStatus;
use crate::query::{Attribute, CmpOp, DatasetField, Dialect, Expr, Literal, OrderKey, RunField};

/// SQL fragments and parameters for one search.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledSearch {
    /// LEFT JOIN clauses for order keys (may be empty), to place after
    /// `FROM runs r JOIN experiments e ON e.id = r.experiment_id`. Join aliases are `o0`, `o1`, ...
    pub joins: String,
    /// A boolean SQL expression over aliases `r` and `e`; `"1"` when there is no filter.
    pub where_sql: String,
    /// The ORDER BY list (without the keyword), always ending with `r.start_ms DESC, r.id ASC`.
    pub order_sql: String,
    /// `order_sql` exactly reversed: every term's direction flipped (`RunQuery::reverse`).
    pub reversed_order_sql: String,
    /// Values for the `?` placeholders: joins' first, then the filter's, then the order's.
    pub params: Vec<Value>,
    /// How many of `params` belong to `joins` (the rest belong to the filter).
    pub join_param_count: usize,
    /// The same filter with correlated `EXISTS` probes instead of `IN` lists. It takes the same
    /// parameters. `IN` lists suit counting and selective filters; `EXISTS` suits a page read
    /// in an index's order, where SQLite stops after LIMIT rows instead of building the lists.
    pub where_correlated: String,
    /// The filter's metric, param and tag conditions, in textual order (see
    /// [`compile_mixed_filter`]).
    pub keyed_terms: Vec<KeyedTerm>,
    /// Set when the first order key is a metric: runs with a number for it sort before the rest,
    /// so a page can first be read from them alone (`condition`, ordered by `order_sql`),
    /// which lets SQLite walk the metric's `(key, last)` index in order.
    pub present_first: Option<PresentFirst>,
}

/// The leading segment of a metric-first order: runs whose first order metric is a number.
#[derive(Debug, Clone, PartialEq)]
pub struct PresentFirst {
    /// Selects the segment (over the order join `o0`).
    pub condition: String,
    /// The order within the segment: the metric without the missing/NaN terms, then the rest.
    pub order_sql: String,
    /// `order_sql` with every term's direction flipped: the segment read from its end.
    pub reversed_order_sql: String,
    /// Selects everything after the segment.
    pub rest_condition: String,
    /// The same as `rest_condition` as a list of rids built from one scan of the runs (binds
    /// `rest_list_params`): a reversed page starts with these runs, and with the list SQLite
    /// probes the filter only for them instead of for every run.
    pub rest_list: String,
    pub rest_list_params: Vec<Value>,
}

/// Infinity in SQLite's SQL (a literal past the largest double reads as +inf).
const INFINITY_SQL: &str = "9e999";

/// The tie-break appended to every order (and the whole order when none is given).
pub const TIE_BREAK: &str = "r.start_ms DESC, r.id ASC";

/// Compiles a filter and a sort order of kiroku's dialect into SQL fragments (see the module
/// docs).
pub fn compile(filter: Option<&Expr>, order: &[OrderKey]) -> CompiledSearch {
    compile_in(filter, order, Dialect::Kiroku)
}

/// Compiles a filter and a sort order parsed in `dialect` into SQL fragments.
pub fn compile_in(filter: Option<&Expr>, order: &[OrderKey], dialect: Dialect) -> CompiledSearch {
    let mut joins = String::new();
    let mut params = Vec::new();
    let mut terms: Vec<String> = Vec::new();
    for (i, key) in order.iter().enumerate() {
        order_terms(i, key, dialect, &mut joins, &mut params, &mut terms);
    }
    terms.extend(TIE_BREAK.split(", ").map(str::to_string));
    let join_param_count = params.len();
    let mut w = Sql {
        params,
        dialect,
        correlated: false,
        forms: None,
        terms: Vec::new(),
    };
    let where_sql = match filter {
        Some(e) => w.expr(e),
        None => "1".to_string(),
    };
    let mut c = Sql {
        params: Vec::new(),
        dialect,
        correlated: true,
        forms: None,
        terms: Vec::new(),
    };
    let where_correlated = match filter {
        Some(e) => c.expr(e),
        None => "1".to_string(),
    };
    let present_first = match order.first() {
        Some(OrderKey {
            field: RunField::Metric(key),
            descending,
        }) => {
            let dir = if *descending { "DESC" } else { "ASC" };
            // The first metric's terms: its class (missing, NaN, infinite), its value.
            let first_terms = 2;
            let rest: Vec<String> = std::iter::once(format!("o0.last {dir}"))
                .chain(terms[first_terms..].iter().cloned())
                .collect();
            // The segment holds the values the metric's index orders by value: the numbers,
            // with or without the infinities.
            let (segment, outside) = if dialect.infinities_sort_after_numbers() {
                (
                    format!("o0.last > -{INFINITY_SQL} AND o0.last < {INFINITY_SQL}"),
                    format!("(o0.last IS NULL OR abs(o0.last) = {INFINITY_SQL})"),
                )
            } else {
                ("o0.last IS NOT NULL".into(), "o0.last IS NULL".into())
            };
            let rest_list_where = outside.replace("o0.", "xm.");
            Some(PresentFirst {
                condition: segment,
                order_sql: rest.join(", "),
                reversed_order_sql: reversed(&rest),
                rest_condition: outside,
                rest_list: format!(
                    "r.rid IN (SELECT x.rid FROM runs x LEFT JOIN metric_summary xm \
                     ON xm.rid = x.rid AND xm.key = ? WHERE {rest_list_where})"
                ),
                rest_list_params: vec![Value::Text(key.clone())],
            })
        }
        _ => None,
    };
    CompiledSearch {
        joins,
        where_sql,
        order_sql: terms.join(", "),
        reversed_order_sql: reversed(&terms),
        params: w.params,
        join_param_count,
        where_correlated,
        present_first,
        keyed_terms: w.terms,
    }
}

/// The filter with each keyed term (in `CompiledSearch::keyed_terms` order) as an `IN` list
/// (`use_list[i]`) or a correlated `EXISTS` probe. Every form takes the same parameters.
pub fn compile_mixed_filter(filter: &Expr, use_list: &[bool], dialect: Dialect) -> String {
    let mut m = Sql {
        params: Vec::new(),
        dialect,
        correlated: false,
        forms: Some(use_list.to_vec()),
        terms: Vec::new(),
    };
    m.expr(filter)
}

/// The ORDER BY list with every term's direction flipped (a term without one is ascending).
fn reversed(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| {
            if let Some(e) = t.strip_suffix(" DESC") {
                format!("{e} ASC")
            } else if let Some(e) = t.strip_suffix(" ASC") {
                format!("{e} DESC")
            } else {
                format!("{t} DESC")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds the joins (with their params) and ORDER BY terms for one order key. The terms carry
/// no parameters.
fn order_terms(
    i: usize,
    key: &OrderKey,
    dialect: Dialect,
    joins: &mut String,
    params: &mut Vec<Value>,
    terms: &mut Vec<String>,
) {
    let dir = if key.descending { "DESC" } else { "ASC" };
    let o = format!("o{i}");
    let mut keyed_join = |table: &str, k: &str| {
        joins.push_str(&format!(
            " LEFT JOIN {table} {o} ON {o}.rid = r.rid AND {o}.key = ?"
        ));
        params.push(Value::Text(k.to_string()));
    };
    match &key.field {
        RunField::Metric(k) => {
            keyed_join("metric_summary", k);
            // The classes come first as one term (an ORDER BY past 64 terms, 16 keys of
            // four, crashes SQLite 3.46's executor): a number, then (kiroku) an infinity,
            // then NaN (`last` NULL), then a run without the metric.
            if dialect.infinities_sort_after_numbers() {
                terms.push(format!(
                    "CASE WHEN {o}.rid IS NULL THEN 3 WHEN {o}.last IS NULL THEN 2 \
                     WHEN abs({o}.last) = {INFINITY_SQL} THEN 1 ELSE 0 END"
                ));
            } else {
                terms.push(format!(
                    "CASE WHEN {o}.rid IS NULL THEN 2 WHEN {o}.last IS NULL THEN 1 ELSE 0 END"
                ));
            }
            terms.push(format!("{o}.last {dir}"));
        }
        RunField::Param(k) => {
            keyed_join("params", k);
            if dialect.params_are_numbers() {
                // Missing, then text, then numbers' order (one term: see metrics above).
                terms.push(format!(
                    "CASE WHEN {o}.rid IS NULL THEN 2 WHEN {o}.num IS NULL THEN 1 ELSE 0 END"
                ));
                terms.push(format!("{o}.num {dir}"));
            } else {
                terms.push(format!("{o}.rid IS NULL"));
            }
            terms.push(format!("{o}.value {dir}"));
        }
        RunField::Tag(k) => {
            keyed_join("tags", k);
            terms.push(format!("{o}.rid IS NULL"));
            terms.push(format!("{o}.value {dir}"));
        }
        RunField::Attribute(Attribute::ParentId) => {
            joins.push_str(&format!(" LEFT JOIN runs {o} ON {o}.rid = r.parent_rid"));
            terms.push(format!("{o}.rid IS NULL"));
            terms.push(format!("{o}.id {dir}"));
        }
        RunField::Attribute(a) => {
            let col = match a {
                Attribute::RunId => "r.id".to_string(),
                Attribute::RunName => "r.name".into(),
                Attribute::User => "r.user".into(),
                Attribute::Status => status_sql(dialect),
                Attribute::StartTime => "r.start_ms".into(),
                Attribute::EndTime => "r.end_ms".into(),
                Attribute::Experiment => "e.name".into(),
                Attribute::Host => "r.host".into(),
                Attribute::ArtifactUri => ARTIFACT_URI_SQL.into(),
                Attribute::ParentId => unreachable!("handled above"),
            };
            if a.is_nullable() {
                terms.push(format!("{col} IS NULL"));
            }
            terms.push(format!("{col} {dir}"));
        }
        RunField::Dataset(d) => {
            let col = dataset_column(*d);
            let sub = format!(
                "(SELECT min({col}) FROM run_inputs ri JOIN datasets d ON d.id = ri.dataset_id \
                 WHERE ri.rid = r.rid)"
            );
            terms.push(format!("{sub} IS NULL"));
            terms.push(format!("{sub} {dir}"));
        }
    }
}

fn dataset_column(d: DatasetField) -> &'static str {
    match d {
        DatasetField::Name => "d.name",
        DatasetField::Digest => "d.hash",
        DatasetField::Context => "ri.context",
    }
}

fn sql_op(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Ne => "<>",
        other => other.as_str(),
    }
}

/// A number as a parameter: an integer when the literal is written as one, else a real.
fn number_value(value: f64, text: &str) -> Value {
    match text.trim_start_matches('+').parse::<i64>() {
        Ok(i) => Value::Integer(i),
        Err(_) => Value::Real(value),
    }
}

fn finite_number(lit: &Literal) -> Option<Value> {
    let v = lit.as_number()?;
    v.is_finite().then(|| number_value(v, lit.as_text()))
}

/// A run's status under the name `dialect` searches and sorts it by (`Dialect::status_name`).
fn status_sql(dialect: Dialect) -> String {
    let arms: String = RunStatus::ALL
        .iter()
        .map(|s| format!(" WHEN '{}' THEN '{}'", s.as_str(), dialect.status_name(*s)))
        .collect();
    format!("(CASE r.status{arms} END)")
}

/// The run's `artifact_uri` as the MLflow API shows it (`server::mlflow_api::wire::run_info`).
const ARTIFACT_URI_SQL: &str =
    "('mlflow-artifacts:/' || r.experiment_id || '/' || r.id || '/artifacts')";

/// How an attribute appears in SQL.
struct AttrSql {
    expr: String,
    /// Placeholder for a value compared with `expr` (`lower(?)` where case is ignored).
    ph: &'static str,
    nullable: bool,
    numeric: bool,
}

fn attr_sql(a: Attribute, dialect: Dialect) -> AttrSql {
    let id_ph = if dialect.ids_ignore_case() {
        "lower(?)"
    } else {
        "?"
    };
    let (expr, ph) = match a {
        Attribute::RunId => ("r.id".to_string(), id_ph),
        Attribute::RunName => ("r.name".into(), "?"),
        Attribute::User => ("r.user".into(), "?"),
        Attribute::Status if dialect.status_ignores_case() => {
            ("lower(r.status)".into(), "lower(?)")
        }
        Attribute::Status => (status_sql(dialect), "?"),
        Attribute::StartTime => ("r.start_ms".into(), "?"),
        Attribute::EndTime => ("r.end_ms".into(), "?"),
        Attribute::Experiment => ("e.name".into(), "?"),
        Attribute::Host => ("r.host".into(), "?"),
        Attribute::ParentId => (
            "(SELECT pr.id FROM runs pr WHERE pr.rid = r.parent_rid)".into(),
            id_ph,
        ),
        Attribute::ArtifactUri => (ARTIFACT_URI_SQL.into(), "?"),
    };
    AttrSql {
        expr,
        ph,
        nullable: a.is_nullable(),
        numeric: a.is_numeric(),
    }
}

/// Makes a condition on a nullable column two-valued: NULL (missing) becomes false.
fn not_null(cond: String, nullable: bool) -> String {
    if nullable {
        format!("coalesce({cond}, 0)")
    } else {
        cond
    }
}

/// A table holding per-run keyed values.
/// Joins `parts` with `sep` as a balanced tree of parentheses, `((a AND b) AND (c AND d))`:
/// SQLite parses `a AND b AND c ...` into a tree as deep as the list is long and refuses one
/// deeper than 1,000 ("Expression tree is too large"); balanced, 1,000 conditions nest 10 deep.
/// Parameters keep their textual order.
fn balanced(parts: &[String], sep: &str) -> String {
    match parts {
        [one] => format!("({one})"),
        _ => {
            let (left, right) = parts.split_at(parts.len() / 2);
            format!("({}{sep}{})", balanced(left, sep), balanced(right, sep))
        }
    }
}

#[derive(Clone, Copy)]
enum Keyed {
    Metric,
    Param,
    Tag,
}

impl Keyed {
    fn table_alias(self) -> (&'static str, &'static str) {
        match self {
            Keyed::Metric => ("metric_summary", "m"),
            Keyed::Param => ("params", "p"),
            Keyed::Tag => ("tags", "t"),
        }
    }
}

/// Builds the WHERE expression, collecting parameters in textual order.
struct Sql {
    params: Vec<Value>,
    /// The dialect the filter was written in (`crate::query::dialect`).
    dialect: Dialect,
    /// Emit correlated `EXISTS` probes instead of `IN` lists.
    correlated: bool,
    /// Per keyed term (in textual order), `IN` (true) or `EXISTS` (false); overrides
    /// `correlated` when set.
    forms: Option<Vec<bool>>,
    /// The keyed terms met so far, as row-id subqueries with their own parameters.
    terms: Vec<KeyedTerm>,
}

/// One metric, param or tag condition of a filter, as the subquery listing the runs it holds
/// for, so the store can measure how many it matches before choosing its plan.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedTerm {
    /// `SELECT x.rid FROM <table> x WHERE x.key = ? AND <cond>`.
    pub rid_sql: String,
    pub params: Vec<Value>,
}

impl Sql {
    fn text(&mut self, s: &str) {
        self.params.push(Value::Text(s.to_string()));
    }

    /// A value compared with attribute `a` (a status named as the dialect names it).
    fn attr_text(&self, a: Attribute, value: &str) -> Value {
        Value::Text(match a {
            Attribute::Status => self.dialect.status_value(value),
            _ => value.to_string(),
        })
    }

    fn expr(&mut self, e: &Expr) -> String {
        match e {
            Expr::And(parts) => self.join(parts, " AND ", "1"),
            Expr::Or(parts) => self.join(parts, " OR ", "0"),
            Expr::Not(inner) => format!("NOT ({})", self.expr(inner)),
            Expr::Compare { field, op, value } => self.compare(field, *op, value),
            Expr::Like {
                field,
                pattern,
                case_insensitive,
                negated,
            } => self.like(field, pattern, *case_insensitive, *negated),
            Expr::In {
                field,
                values,
                negated,
            } => self.in_list(field, values, *negated),
            Expr::IsNull { field, negated } => self.is_null(field, *negated),
            Expr::Contains(word) => self.contains(word),
        }
    }

    fn join(&mut self, parts: &[Expr], sep: &str, empty: &str) -> String {
        if parts.is_empty() {
            return empty.to_string();
        }
        let compiled: Vec<String> = parts.iter().map(|p| self.expr(p)).collect();
        balanced(&compiled, sep)
    }

    /// `r.rid IN (SELECT x.rid FROM <table> x WHERE x.key = ? AND <cond>)`; `cond` receives
    /// the table alias and pushes its own parameters after the key's.
    fn keyed(
        &mut self,
        kind: Keyed,
        key: &str,
        cond: impl FnOnce(&mut Sql, &str) -> String,
    ) -> String {
        let (table, a) = kind.table_alias();
        let first_param = self.params.len();
        self.text(key);
        let c = cond(self, a);
        let index = self.terms.len();
        self.terms.push(KeyedTerm {
            rid_sql: format!("SELECT {a}.rid FROM {table} {a} WHERE {a}.key = ? AND {c}"),
            params: self.params[first_param..].to_vec(),
        });
        let correlated = match &self.forms {
            Some(forms) => !forms.get(index).copied().unwrap_or(true),
            None => self.correlated,
        };
        if correlated {
            format!(
                "EXISTS (SELECT 1 FROM {table} {a} WHERE {a}.rid = r.rid AND {a}.key = ? AND {c})"
            )
        } else {
            format!("r.rid IN (SELECT {a}.rid FROM {table} {a} WHERE {a}.key = ? AND {c})")
        }
    }

    /// `r.rid IN (SELECT ri.rid FROM run_inputs ri JOIN datasets d ... WHERE <cond>)`.
    fn dataset(&mut self, cond: String) -> String {
        format!(
            "r.rid IN (SELECT ri.rid FROM run_inputs ri JOIN datasets d ON d.id = ri.dataset_id \
             WHERE {cond})"
        )
    }

    fn compare(&mut self, field: &RunField, op: CmpOp, value: &Literal) -> String {
        let sop = sql_op(op);
        match field {
            RunField::Metric(k) => {
                let Some(v) = value.as_number() else {
                    return "0".into();
                };
                if v.is_nan() {
                    return match op {
                        CmpOp::Eq => {
                            self.keyed(Keyed::Metric, k, |_, m| format!("{m}.last_nan = 1"))
                        }
                        CmpOp::Ne => {
                            self.keyed(Keyed::Metric, k, |_, m| format!("{m}.last IS NOT NULL"))
                        }
                        _ => "0".into(),
                    };
                }
                self.keyed(Keyed::Metric, k, |s, m| {
                    s.params.push(Value::Real(v));
                    match op {
                        // A NaN latest value differs from every number.
                        CmpOp::Ne => format!("({m}.last {sop} ? OR {m}.last_nan = 1)"),
                        _ => format!("{m}.last {sop} ?"),
                    }
                })
            }
            RunField::Param(k) if !self.dialect.params_are_numbers() => {
                self.keyed(Keyed::Param, k, |s, p| {
                    s.text(value.as_text());
                    format!("{p}.value {sop} ?")
                })
            }
            RunField::Param(k) => self.keyed(Keyed::Param, k, |s, p| match finite_number(value) {
                Some(n) => {
                    s.params.push(n);
                    match op {
                        CmpOp::Ne => format!("({p}.num IS NULL OR {p}.num <> ?)"),
                        _ => format!("{p}.num {sop} ?"),
                    }
                }
                None => {
                    s.text(value.as_text());
                    format!("{p}.value {sop} ?")
                }
            }),
            RunField::Tag(k) => self.keyed(Keyed::Tag, k, |s, t| {
                s.text(value.as_text());
                format!("{t}.value {sop} ?")
            }),
            RunField::Attribute(a) => {
                let at = attr_sql(*a, self.dialect);
                if at.numeric {
                    let Some(n) = finite_number(value) else {
                        return "0".into();
                    };
                    self.params.push(n);
                } else {
                    let v = self.attr_text(*a, value.as_text());
                    self.params.push(v);
                }
                not_null(format!("{} {sop} {}", at.expr, at.ph), at.nullable)
            }
            RunField::Dataset(d) => {
                self.text(value.as_text());
                self.dataset(format!("{} {sop} ?", dataset_column(*d)))
            }
        }
    }

    fn like(&mut self, field: &RunField, pattern: &str, ci: bool, negated: bool) -> String {
        let not = if negated { "NOT " } else { "" };
        let like = |col: &str, ph: &str| {
            if ci {
                format!("lower({col}) {not}LIKE lower({ph})")
            } else {
                format!("{col} {not}LIKE {ph}")
            }
        };
        match field {
            RunField::Metric(_) => "0".into(),
            RunField::Param(k) => self.keyed(Keyed::Param, k, |s, p| {
                s.text(pattern);
                like(&format!("{p}.value"), "?")
            }),
            RunField::Tag(k) => self.keyed(Keyed::Tag, k, |s, t| {
                s.text(pattern);
                like(&format!("{t}.value"), "?")
            }),
            RunField::Attribute(a) => {
                let at = attr_sql(*a, self.dialect);
                if at.numeric {
                    return "0".into();
                }
                self.text(pattern);
                not_null(like(&at.expr, at.ph), at.nullable)
            }
            RunField::Dataset(d) => {
                self.text(pattern);
                self.dataset(like(dataset_column(*d), "?"))
            }
        }
    }

    /// Pushes `values` and returns `(?, ?, ...)` with `ph` for each.
    fn list(&mut self, values: Vec<Value>, ph: &str) -> String {
        let n = values.len();
        self.params.extend(values);
        format!("({})", vec![ph; n].join(", "))
    }

    fn in_list(&mut self, field: &RunField, values: &[Literal], negated: bool) -> String {
        let not = if negated { "NOT " } else { "" };
        let texts = || -> Vec<Value> {
            values
                .iter()
                .map(|v| Value::Text(v.as_text().to_string()))
                .collect()
        };
        match field {
            RunField::Metric(k) => {
                let nums: Vec<Value> = values.iter().filter_map(finite_number).collect();
                let has_nan = values
                    .iter()
                    .any(|v| v.as_number().is_some_and(f64::is_nan));
                self.keyed(Keyed::Metric, k, |s, m| {
                    let list = s.list(nums, "?");
                    // `not in` is the complement of `in` among the runs holding the metric.
                    let listed = if has_nan {
                        format!("(coalesce({m}.last IN {list}, 0) OR {m}.last_nan = 1)")
                    } else {
                        format!("coalesce({m}.last IN {list}, 0)")
                    };
                    format!("{not}{listed}")
                })
            }
            RunField::Param(k) if !self.dialect.params_are_numbers() => {
                let vals = texts();
                self.keyed(Keyed::Param, k, |s, p| {
                    format!("{p}.value {not}IN {}", s.list(vals, "?"))
                })
            }
            RunField::Param(k) => {
                let nums: Vec<Value> = values.iter().filter_map(finite_number).collect();
                let strs: Vec<Value> = values
                    .iter()
                    .filter(|v| finite_number(v).is_none())
                    .map(|v| Value::Text(v.as_text().to_string()))
                    .collect();
                self.keyed(Keyed::Param, k, |s, p| {
                    let mut parts = Vec::new();
                    if !nums.is_empty() {
                        parts.push(format!("coalesce({p}.num IN {}, 0)", s.list(nums, "?")));
                    }
                    if !strs.is_empty() {
                        parts.push(format!("{p}.value IN {}", s.list(strs, "?")));
                    }
                    let cond = if parts.is_empty() {
                        "0".to_string()
                    } else {
                        parts.join(" OR ")
                    };
                    format!("{not}({cond})")
                })
            }
            RunField::Tag(k) => {
                let vals = texts();
                self.keyed(Keyed::Tag, k, |s, t| {
                    format!("{t}.value {not}IN {}", s.list(vals, "?"))
                })
            }
            RunField::Attribute(a) => {
                let at = attr_sql(*a, self.dialect);
                let vals: Vec<Value> = if at.numeric {
                    values.iter().filter_map(finite_number).collect()
                } else {
                    values
                        .iter()
                        .map(|v| self.attr_text(*a, v.as_text()))
                        .collect()
                };
                if vals.is_empty() {
                    let present = if at.nullable {
                        format!("{} IS NOT NULL", at.expr)
                    } else {
                        "1".into()
                    };
                    return if negated { present } else { "0".into() };
                }
                let list = self.list(vals, at.ph);
                not_null(format!("{} {not}IN {list}", at.expr), at.nullable)
            }
            RunField::Dataset(d) => {
                let list = self.list(texts(), "?");
                self.dataset(format!("{} {not}IN {list}", dataset_column(*d)))
            }
        }
    }

    fn is_null(&mut self, field: &RunField, negated: bool) -> String {
        // `IS NULL`: the run lacks the key; `IS NOT NULL`: it has it.
        let in_ = if negated { "IN" } else { "NOT IN" };
        let is = if negated { "IS NOT NULL" } else { "IS NULL" };
        let keyed = |s: &mut Sql, kind: Keyed, key: &str| {
            let (table, _) = kind.table_alias();
            s.text(key);
            format!("r.rid {in_} (SELECT rid FROM {table} WHERE key = ?)")
        };
        match field {
            RunField::Metric(k) => keyed(self, Keyed::Metric, k),
            RunField::Param(k) => keyed(self, Keyed::Param, k),
            RunField::Tag(k) => keyed(self, Keyed::Tag, k),
            RunField::Attribute(Attribute::ParentId) => format!("r.parent_rid {is}"),
            RunField::Attribute(a) => {
                let at = attr_sql(*a, self.dialect);
                if at.nullable {
                    format!("{} {is}", at.expr)
                } else if negated {
                    "1".into()
                } else {
                    "0".into()
                }
            }
            RunField::Dataset(_) => format!("r.rid {in_} (SELECT rid FROM run_inputs)"),
        }
    }

    fn contains(&mut self, word: &str) -> String {
        for _ in 0..3 {
            self.text(word);
        }
        "(instr(lower(r.name), lower(?)) > 0 OR EXISTS (SELECT 1 FROM tags t WHERE t.rid = r.rid \
         AND (instr(lower(t.key), lower(?)) > 0 OR instr(lower(t.value), lower(?)) > 0)))"
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{parse_filter, parse_order};
    use rusqlite::{params, params_from_iter, Connection};

    struct R {
        name: &'static str,
        exp: i64,
        status: &'static str,
        user: &'static str,
        host: Option<&'static str>,
        start: i64,
        end: Option<i64>,
        parent: Option<i64>,
        params: &'static [(&'static str, &'static str)],
        tags: &'static [(&'static str, &'static str)],
        metrics: &'static [(&'static str, f64)],
        inputs: &'static [(i64, &'static str)],
    }

    fn id(rid: i64) -> String {
        format!("{rid:032x}")
    }

    const RUNS: &[R] = &[
        R {
            name: "resnet-baseline",
            exp: 1,
            status: "finished",
            user: "alice",
            host: Some("gpu1"),
            start: 1000,
            end: Some(2000),
            parent: None,
            params: &[("lr", "0.01"), ("optimizer", "adam"), ("epochs", "10")],
            tags: &[("team", "vision"), ("note", "Baseline run")],
            metrics: &[("val/acc", 0.91), ("loss", 0.3)],
            inputs: &[(1, "training")],
        },
        R {
            name: "resnet-lr-sweep",
            exp: 1,
            status: "finished",
            user: "bob",
            host: Some("gpu2"),
            start: 2000,
            end: Some(3000),
            parent: None,
            params: &[("lr", "1e-2"), ("optimizer", "sgd"), ("epochs", "20")],
            tags: &[("sweep", "lr sweep"), ("team", "vision")],
            metrics: &[("val/acc", 0.95), ("loss", f64::NAN)],
            inputs: &[],
        },
        R {
            name: "resnet-child",
            exp: 1,
            status: "failed",
            user: "alice",
            host: None,
            start: 3000,
            end: Some(3500),
            parent: Some(2),
            params: &[("lr", "0.1"), ("optimizer", "Adam"), ("epochs", "ten")],
            tags: &[],
            metrics: &[("val/acc", 0.5)],
            inputs: &[],
        },
        R {
            name: "bert-base",
            exp: 2,
            status: "running",
            user: "carol",
            host: Some("gpu1"),
            start: 4000,
            end: None,
            parent: None,
            params: &[("lr", "0.001"), ("optimizer", "adamw"), ("epochs", "9")],
            tags: &[("mlflow.runName", "bert-base"), ("team", "nlp")],
            metrics: &[("val/acc", 0.88), ("loss", 1.2)],
            inputs: &[(2, "eval")],
        },
        R {
            name: "bert-large",
            exp: 2,
            status: "killed",
            user: "bob",
            host: Some("gpu3"),
            start: 5000,
            end: Some(6000),
            parent: None,
            params: &[("lr", "1e-4"), ("batch", "32")],
            tags: &[("team", "NLP")],
            metrics: &[("loss", 0.8), ("my metric", 5.0)],
            inputs: &[(1, "training")],
        },
        R {
            name: "gpt-tiny",
            exp: 2,
            status: "queued",
            user: "alice",
            host: None,
            start: 6000,
            end: None,
            parent: None,
            params: &[],
            tags: &[],
            metrics: &[("val/acc", f64::NAN)],
            inputs: &[],
        },
        R {
            name: "Special 100% run",
            exp: 1,
            status: "lost",
            user: "dave",
            host: Some("gpu2"),
            start: 7000,
            end: Some(7500),
            parent: None,
            params: &[("lr", "high")],
            tags: &[("note", "has_underscore")],
            metrics: &[("val/acc", 0.91)],
            inputs: &[],
        },
        R {
            name: "mixed-case-Run",
            exp: 1,
            status: "finished",
            user: "erin",
            host: Some("gpu1"),
            start: 8000,
            end: Some(9000),
            parent: Some(2),
            params: &[("optimizer", "ADAM")],
            tags: &[],
            metrics: &[("val/acc", -1.0)],
            inputs: &[],
        },
    ];

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(include_str!("schema_v1.sql")).unwrap();
        c.execute_batch("PRAGMA case_sensitive_like = ON;").unwrap();
        c.execute(
            "INSERT INTO experiments (id, name, created_ms, updated_ms) VALUES (1, 'vision', 0, 0), (2, 'nlp', 0, 0)",
            [],
        )
        .unwrap();
        c.execute(
            "INSERT INTO datasets (id, name, hash, created_ms) VALUES (1, 'imagenet', 'abc123', 0), (2, 'wikitext', 'def456', 0)",
            [],
        )
        .unwrap();
        for (i, r) in RUNS.iter().enumerate() {
            let rid = i as i64 + 1;
            c.execute(
                "INSERT INTO runs (rid, id, experiment_id, name, status, user, host, start_ms, end_ms, parent_rid, updated_ms) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                params![rid, id(rid), r.exp, r.name, r.status, r.user, r.host, r.start, r.end, r.parent],
            )
            .unwrap();
            for (k, v) in r.params {
                let num = v.parse::<f64>().ok().filter(|x| x.is_finite());
                c.execute(
                    "INSERT INTO params (rid, key, value, num) VALUES (?, ?, ?, ?)",
                    params![rid, k, v, num],
                )
                .unwrap();
            }
            for (k, v) in r.tags {
                c.execute(
                    "INSERT INTO tags (rid, key, value) VALUES (?, ?, ?)",
                    params![rid, k, v],
                )
                .unwrap();
            }
            for (k, v) in r.metrics {
                let (last, nan) = if v.is_nan() { (None, 1) } else { (Some(*v), 0) };
                c.execute(
                    "INSERT INTO metric_summary (rid, key, last, last_nan, last_step, last_ts, min, max, count) \
                     VALUES (?, ?, ?, ?, 0, 0, ?, ?, 1)",
                    params![rid, k, last, nan, last, last],
                )
                .unwrap();
            }
            for (ds, ctx) in r.inputs {
                c.execute(
                    "INSERT INTO run_inputs (rid, dataset_id, context) VALUES (?, ?, ?)",
                    params![rid, ds, ctx],
                )
                .unwrap();
            }
        }
        c
    }

    /// Run numbers (1-based rids) matching `filter` in `order`.
    fn search(c: &Connection, filter: &str, order: &str) -> Vec<i64> {
        search_in(c, filter, order, Dialect::Kiroku)
    }

    /// Run numbers matching `filter` in `order`, both written in `dialect`.
    fn search_in(c: &Connection, filter: &str, order: &str, dialect: Dialect) -> Vec<i64> {
        let f = crate::query::parse_filter_in(filter, dialect)
            .unwrap_or_else(|e| panic!("{filter}: {e}"));
        let o =
            crate::query::parse_order_in(order, dialect).unwrap_or_else(|e| panic!("{order}: {e}"));
        let q = compile_in(f.as_ref(), &o, dialect);
        let sql = format!(
            "SELECT r.rid FROM runs r JOIN experiments e ON e.id = r.experiment_id{} WHERE ({}) ORDER BY {}",
            q.joins, q.where_sql, q.order_sql
        );
        let mut st = c
            .prepare(&sql)
            .unwrap_or_else(|e| panic!("{filter} / {order}: {e}\n{sql}"));
        assert_eq!(st.parameter_count(), q.params.len(), "{sql}");
        let rows = st
            .query_map(params_from_iter(q.params.iter()), |r| r.get(0))
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    /// Every mix of lists and probes selects the same runs as the all-list and all-probe forms.
    #[test]
    fn mixed_forms_select_the_same_runs() {
        let c = db();
        let filters = [
            "metrics.val/acc > 0.5 and params.lr < 0.01",
            "params.optimizer = 'adam' or tags.team = 'vision' and metrics.loss < 1",
            "not (metrics.val/acc > 0.5) and params.lr IS NOT NULL and tags.team LIKE 'v%'",
            "metrics.val/acc IN (0.9, 0.8) or params.lr != 0.01",
        ];
        for filter in filters {
            let f = parse_filter(filter).unwrap().unwrap();
            let q = compile(Some(&f), &[]);
            let n = q.keyed_terms.len();
            assert!(n >= 2, "{filter}");
            let run = |where_sql: &str| -> Vec<i64> {
                let sql = format!("SELECT r.rid FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE ({where_sql}) ORDER BY r.rid");
                let mut st = c
                    .prepare(&sql)
                    .unwrap_or_else(|e| panic!("{filter}: {e}\n{sql}"));
                assert_eq!(st.parameter_count(), q.params.len(), "{sql}");
                st.query_map(params_from_iter(q.params.iter()), |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            };
            let want = run(&q.where_sql);
            assert_eq!(run(&q.where_correlated), want, "{filter}");
            for mask in 0..(1u32 << n) {
                let use_list: Vec<bool> = (0..n).map(|i| mask & (1 << i) != 0).collect();
                assert_eq!(
                    run(&compile_mixed_filter(&f, &use_list, Dialect::Kiroku)),
                    want,
                    "{filter} {use_list:?}"
                );
            }
        }
    }

    #[test]
    fn filters_select_the_right_runs() {
        let c = db();
        let i2 = id(2);
        let i2_upper = i2.to_uppercase();
        let by_parent = format!("parent_id = '{i2}'");
        let by_parent_upper = format!("parent_id = '{i2_upper}'");
        let by_id = format!("run_id = '{}'", id(4));
        let by_ids = format!("id in ('{}', '{}')", id(1), id(5).to_uppercase());
        let cases: Vec<(&str, Vec<i64>)> = vec![
            ("", vec![8, 7, 6, 5, 4, 3, 2, 1]),
            ("metrics.val/acc > 0.9", vec![7, 2, 1]),
            (
                "metrics.val/acc > 0.9 and params.optimizer = 'adam'",
                vec![1],
            ),
            (
                "metrics.val/acc > 0.9 or params.optimizer = 'adamw'",
                vec![7, 4, 2, 1],
            ),
            ("metrics.val/acc < inf", vec![8, 7, 4, 3, 2, 1]),
            ("metrics.val/acc > -inf", vec![8, 7, 4, 3, 2, 1]),
            ("metrics.val/acc = NaN", vec![6]),
            ("metrics.loss > 0", vec![5, 4, 1]),
            // A NaN latest value (2) differs from every number, as in MLflow.
            ("metrics.loss != 0.3", vec![5, 4, 2]),
            ("metrics.loss = nan", vec![2]),
            ("metrics.loss != nan", vec![5, 4, 1]),
            ("metrics.loss < nan", vec![]),
            ("not metrics.loss > 0", vec![8, 7, 6, 3, 2]),
            ("metrics.loss is null", vec![8, 7, 6, 3]),
            ("metrics.loss is not null", vec![5, 4, 2, 1]),
            ("metrics.\"my metric\" >= 5", vec![5]),
            ("metrics.`my metric` = '5'", vec![5]),
            ("metrics.val/acc in (0.5, -1)", vec![8, 3]),
            ("metrics.val/acc not in (0.5, -1)", vec![7, 6, 4, 2, 1]),
            ("params.optimizer = 'adam'", vec![1]),
            ("params.optimizer ilike 'adam'", vec![8, 3, 1]),
            ("params.optimizer like 'adam%'", vec![4, 1]),
            ("params.optimizer not like 'adam%'", vec![8, 3, 2]),
            ("params.optimizer not ilike 'ADAM%'", vec![2]),
            ("params.lr = 0.01", vec![2, 1]),
            ("params.lr = '0.01'", vec![2, 1]),
            ("params.lr = '1e-2'", vec![2, 1]),
            ("params.lr = 'high'", vec![7]),
            ("params.lr < 0.01", vec![5, 4]),
            ("params.lr != 0.01", vec![7, 5, 4, 3]),
            ("params.lr != 'high'", vec![5, 4, 3, 2, 1]),
            ("params.lr > 'a'", vec![7]),
            ("params.epochs >= 10", vec![2, 1]),
            ("params.epochs < 10", vec![4]),
            ("params.lr in (0.1, 'high')", vec![7, 3]),
            ("params.lr not in (0.1, 'high')", vec![5, 4, 2, 1]),
            ("params.batch is null", vec![8, 7, 6, 4, 3, 2, 1]),
            ("params.batch is not null", vec![5]),
            ("tags.team = 'nlp'", vec![4]),
            ("tags.team ilike 'nlp'", vec![5, 4]),
            ("tags.team != 'vision'", vec![5, 4]),
            ("tags.team in ('nlp', 'NLP')", vec![5, 4]),
            ("tags.team not in ('vision')", vec![5, 4]),
            ("tags.team is null", vec![8, 7, 6, 3]),
            ("tags.mlflow.runName = 'bert-base'", vec![4]),
            ("tags.`mlflow.runName` like 'bert%'", vec![4]),
            ("status = 'FINISHED'", vec![8, 2, 1]),
            ("attributes.status in ('failed', 'KILLED')", vec![5, 3]),
            ("status != 'finished'", vec![7, 6, 5, 4, 3]),
            ("status like 'FIN%'", vec![8, 2, 1]),
            ("status not in ('finished', 'running')", vec![7, 6, 5, 3]),
            ("start_time >= 5000", vec![8, 7, 6, 5]),
            ("created < 2000", vec![1]),
            ("start_time in (1000, 3000)", vec![3, 1]),
            ("end_time is null", vec![6, 4]),
            ("end_time is not null", vec![8, 7, 5, 3, 2, 1]),
            ("end_time > 5000", vec![8, 7, 5]),
            ("end_time != 3000", vec![8, 7, 5, 3, 1]),
            ("not end_time = 3000", vec![8, 7, 6, 5, 4, 3, 1]),
            ("end_time not in (3000)", vec![8, 7, 5, 3, 1]),
            ("experiment = 'nlp'", vec![6, 5, 4]),
            ("experiment like 'vis%'", vec![8, 7, 3, 2, 1]),
            ("host = 'gpu1'", vec![8, 4, 1]),
            ("host != 'gpu1'", vec![7, 5, 2]),
            ("not host = 'gpu1'", vec![7, 6, 5, 3, 2]),
            ("host not like 'gpu1'", vec![7, 5, 2]),
            ("host is null", vec![6, 3]),
            (&by_parent, vec![8, 3]),
            (&by_parent_upper, vec![8, 3]),
            ("parent_id is null", vec![7, 6, 5, 4, 2, 1]),
            ("parent_id is not null", vec![8, 3]),
            ("parent_id != 'x'", vec![8, 3]),
            (&by_id, vec![4]),
            (&by_ids, vec![5, 1]),
            ("name = 'bert-base'", vec![4]),
            ("run_name like 'bert%'", vec![5, 4]),
            ("name ilike 'MIXED%'", vec![8]),
            ("name like 'MIXED%'", vec![]),
            ("user = 'alice'", vec![6, 3, 1]),
            ("user_id in ('bob', 'erin')", vec![8, 5, 2]),
            ("datasets.name = 'imagenet'", vec![5, 1]),
            ("datasets.digest = 'def456'", vec![4]),
            ("datasets.context = 'training'", vec![5, 1]),
            ("datasets.name != 'imagenet'", vec![4]),
            ("datasets.name in ('wikitext')", vec![4]),
            ("datasets.name not in ('wikitext')", vec![5, 1]),
            ("datasets.context like 'ev%'", vec![4]),
            ("datasets.digest ilike 'ABC%'", vec![5, 1]),
            ("resnet", vec![3, 2, 1]),
            ("RESNET", vec![3, 2, 1]),
            ("'lr sweep'", vec![2]),
            ("baseline", vec![1]),
            ("mlflow", vec![4]),
            ("nlp", vec![5, 4]),
            ("'100%'", vec![7]),
            ("'%'", vec![7]),
            ("'_'", vec![7]),
            ("not resnet", vec![8, 7, 6, 5, 4]),
            ("baseline and metrics.val/acc > 0.5", vec![1]),
            ("resnet and not status = 'failed'", vec![2, 1]),
            ("(resnet or bert) and metrics.loss > 0.5", vec![5, 4]),
            ("resnet or bert and metrics.loss > 1", vec![4, 3, 2, 1]),
        ];
        for (filter, want) in cases {
            assert_eq!(search(&c, filter, ""), want, "{filter}");
        }
    }

    /// The rules `crate::query::dialect` lists, each tested in both dialects: (filter, order,
    /// kiroku's answer, MLflow's answer; `None` where the dialect refuses the filter).
    #[test]
    fn the_dialects_differ_only_where_documented() {
        let c = db();
        let i4 = "abcdef00000000000000000000000004";
        c.execute("UPDATE runs SET id = ? WHERE rid = 4", [i4])
            .unwrap();
        let by_upper_id = format!("run_id = '{}'", i4.to_uppercase());
        let by_id = format!("attributes.run_id = '{i4}'");
        type Answer = Option<Vec<i64>>;
        let cases: Vec<(&str, &str, Answer, Answer)> = vec![
            // Params are text in MLflow: '1e-2' is not '0.01'.
            ("params.lr = '0.01'", "", Some(vec![2, 1]), Some(vec![1])),
            ("params.lr = '1e-2'", "", Some(vec![2, 1]), Some(vec![2])),
            ("params.epochs < '9'", "", Some(vec![]), Some(vec![2, 1])),
            // Status: kiroku ignores case and takes MLflow's names; MLflow is exact.
            ("status = 'SCHEDULED'", "", Some(vec![6]), Some(vec![6])),
            ("status = 'queued'", "", Some(vec![6]), Some(vec![])),
            ("status = 'finished'", "", Some(vec![8, 2, 1]), Some(vec![])),
            ("status = 'FAILED'", "", Some(vec![3]), Some(vec![7, 3])),
            (
                "status in ('SCHEDULED', 'KILLED')",
                "",
                Some(vec![6, 5]),
                Some(vec![6, 5]),
            ),
            // Ids: case ignored in kiroku only.
            (&by_upper_id, "", Some(vec![4]), Some(vec![])),
            (&by_id, "", Some(vec![4]), Some(vec![4])),
            // Stray ANDs: MLflow ignores them.
            (
                " AND status = 'FINISHED' and ",
                "",
                None,
                Some(vec![8, 2, 1]),
            ),
            ("and", "", None, Some(vec![8, 7, 6, 5, 4, 3, 2, 1])),
            // Shared: NaN differs from every number; artifact_uri is an attribute.
            (
                "metrics.loss != 0.3",
                "",
                Some(vec![5, 4, 2]),
                Some(vec![5, 4, 2]),
            ),
            (
                "attributes.artifact_uri LIKE 'mlflow-artifacts:/2/%'",
                "",
                Some(vec![6, 5, 4]),
                Some(vec![6, 5, 4]),
            ),
            (
                "`attributes`.`run name` = 'bert-base'",
                "",
                Some(vec![4]),
                Some(vec![4]),
            ),
            // Orders: MLflow sorts status by its own names, params as text.
            (
                "",
                "status",
                Some(vec![3, 8, 2, 1, 5, 7, 6, 4]),
                Some(vec![7, 3, 8, 2, 1, 5, 4, 6]),
            ),
            (
                "",
                "params.lr",
                Some(vec![5, 4, 1, 2, 3, 7, 8, 6]),
                Some(vec![4, 1, 3, 2, 5, 7, 8, 6]),
            ),
        ];
        for (filter, order, kiroku, mlflow) in cases {
            for (dialect, want) in [(Dialect::Kiroku, kiroku), (Dialect::Mlflow, mlflow)] {
                match want {
                    Some(want) => assert_eq!(
                        search_in(&c, filter, order, dialect),
                        want,
                        "{dialect:?}: {filter} / {order}"
                    ),
                    None => assert!(
                        crate::query::parse_filter_in(filter, dialect).is_err(),
                        "{dialect:?} accepts {filter}"
                    ),
                }
            }
        }
    }

    #[test]
    fn orders_put_missing_last() {
        let c = db();
        let cases: Vec<(&str, Vec<i64>)> = vec![
            ("", vec![8, 7, 6, 5, 4, 3, 2, 1]),
            ("start_time", vec![1, 2, 3, 4, 5, 6, 7, 8]),
            ("created desc", vec![8, 7, 6, 5, 4, 3, 2, 1]),
            ("run_id desc", vec![8, 7, 6, 5, 4, 3, 2, 1]),
            // Ties (1 and 7 at 0.91) fall back to newest first; NaN (6) before missing (5).
            ("metrics.val/acc desc", vec![2, 7, 1, 4, 3, 8, 6, 5]),
            ("metrics.val/acc asc", vec![8, 3, 4, 7, 1, 2, 6, 5]),
            ("metrics.loss", vec![1, 5, 4, 2, 8, 7, 6, 3]),
            ("metrics.loss desc", vec![4, 5, 1, 2, 8, 7, 6, 3]),
            // Numbers by value ('1e-2' equals '0.01', then by text), text after, missing last.
            ("params.lr", vec![5, 4, 1, 2, 3, 7, 8, 6]),
            ("params.lr desc", vec![3, 2, 1, 4, 5, 7, 8, 6]),
            ("params.epochs", vec![4, 1, 2, 3, 8, 7, 6, 5]),
            ("params.epochs desc", vec![2, 1, 4, 3, 8, 7, 6, 5]),
            ("tags.team desc", vec![2, 1, 4, 5, 8, 7, 6, 3]),
            ("tags.team", vec![5, 4, 2, 1, 8, 7, 6, 3]),
            ("host desc", vec![5, 7, 2, 8, 4, 1, 6, 3]),
            ("host", vec![8, 4, 1, 7, 2, 5, 6, 3]),
            ("end_time", vec![1, 2, 3, 5, 7, 8, 6, 4]),
            ("end_time desc", vec![8, 7, 5, 3, 2, 1, 6, 4]),
            ("experiment, name desc", vec![6, 5, 4, 2, 3, 1, 8, 7]),
            ("parent_id", vec![8, 3, 7, 6, 5, 4, 2, 1]),
            ("parent_id desc", vec![8, 3, 7, 6, 5, 4, 2, 1]),
            ("datasets.name", vec![5, 1, 4, 8, 7, 6, 3, 2]),
            ("datasets.name desc", vec![4, 5, 1, 8, 7, 6, 3, 2]),
            ("status, metrics.val/acc desc", vec![3, 2, 1, 8, 5, 7, 6, 4]),
            ("user, tags.team desc", vec![1, 6, 3, 2, 5, 4, 7, 8]),
        ];
        for (order, want) in cases {
            assert_eq!(search(&c, "", order), want, "{order}");
        }
        // Filter and order together.
        assert_eq!(
            search(&c, "experiment = 'vision'", "metrics.val/acc desc"),
            vec![2, 7, 1, 3, 8]
        );
    }

    #[test]
    fn params_come_in_textual_order_before_the_stores() {
        let c = db();
        c.execute("UPDATE runs SET deleted_ms = 1 WHERE rid = 2", [])
            .unwrap();
        let f =
            parse_filter("params.optimizer ilike 'adam%' or 'sweep' or tags.team = 'nlp'").unwrap();
        let o = parse_order("tags.team desc, metrics.val/acc, params.lr").unwrap();
        let q = compile(f.as_ref(), &o);
        assert_eq!(
            q.params[..3],
            [
                Value::Text("team".into()),
                Value::Text("val/acc".into()),
                Value::Text("lr".into())
            ]
        );
        let sql = format!(
            "SELECT r.rid FROM runs r JOIN experiments e ON e.id = r.experiment_id {} \
             WHERE ({}) AND r.deleted_ms IS NULL AND e.name = ? ORDER BY {} LIMIT ? OFFSET ?",
            q.joins, q.where_sql, q.order_sql
        );
        let mut params = q.params.clone();
        params.extend([
            Value::Text("vision".into()),
            Value::Integer(2),
            Value::Integer(0),
        ]);
        let got: Vec<i64> = c
            .prepare(&sql)
            .unwrap()
            .query_map(params_from_iter(params.iter()), |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // Matches 1, 3, 8 (optimizer) and 2 (deleted); team desc puts 1 (vision) first, then
        // 3 and 8 (no team) by val/acc: 8 (-1) before 3 (0.5).
        assert_eq!(got, vec![1, 8]);
    }

    #[test]
    fn empty_search_and_shape() {
        let q = compile(None, &[]);
        assert_eq!(q.joins, "");
        assert_eq!(q.where_sql, "1");
        assert_eq!(q.order_sql, "r.start_ms DESC, r.id ASC");
        assert!(q.params.is_empty());

        let f = parse_filter("metrics.acc > 0.5").unwrap();
        let o = parse_order("metrics.acc desc").unwrap();
        let q = compile(f.as_ref(), &o);
        assert_eq!(
            q.joins,
            " LEFT JOIN metric_summary o0 ON o0.rid = r.rid AND o0.key = ?"
        );
        assert_eq!(
            q.where_sql,
            "r.rid IN (SELECT m.rid FROM metric_summary m WHERE m.key = ? AND m.last > ?)"
        );
        assert_eq!(
            q.order_sql,
            "CASE WHEN o0.rid IS NULL THEN 3 WHEN o0.last IS NULL THEN 2 WHEN abs(o0.last) = 9e999 \
             THEN 1 ELSE 0 END, o0.last DESC, r.start_ms DESC, r.id ASC"
        );
        // Reversed, every term flips: missing first, then NaN, then the infinities, then
        // numbers ascending.
        assert_eq!(
            q.reversed_order_sql,
            "CASE WHEN o0.rid IS NULL THEN 3 WHEN o0.last IS NULL THEN 2 WHEN abs(o0.last) = 9e999 \
             THEN 1 ELSE 0 END DESC, o0.last ASC, r.start_ms ASC, r.id DESC"
        );
        assert_eq!(
            q.params,
            vec![
                Value::Text("acc".into()),
                Value::Text("acc".into()),
                Value::Real(0.5)
            ]
        );
    }

    #[test]
    fn hand_built_trees_compile_to_valid_sql() {
        let c = db();
        let run = |e: Expr| -> Vec<i64> {
            let q = compile(Some(&e), &[]);
            let sql = format!(
                "SELECT r.rid FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE ({}) ORDER BY {}",
                q.where_sql, q.order_sql
            );
            c.prepare(&sql)
                .unwrap()
                .query_map(params_from_iter(q.params.iter()), |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert_eq!(run(Expr::And(vec![])).len(), 8);
        assert_eq!(run(Expr::Or(vec![])), Vec::<i64>::new());
        let metric_text = Expr::Compare {
            field: RunField::Metric("loss".into()),
            op: CmpOp::Gt,
            value: Literal::Str("abc".into()),
        };
        assert_eq!(run(metric_text), Vec::<i64>::new());
        let empty_in = Expr::In {
            field: RunField::Attribute(Attribute::Host),
            values: vec![],
            negated: true,
        };
        assert_eq!(run(empty_in), vec![8, 7, 5, 4, 2, 1]);
        let like_time = Expr::Like {
            field: RunField::Attribute(Attribute::StartTime),
            pattern: "1%".into(),
            case_insensitive: false,
            negated: false,
        };
        assert_eq!(run(like_time), Vec::<i64>::new());
        let no_inputs = Expr::IsNull {
            field: RunField::Dataset(DatasetField::Name),
            negated: false,
        };
        assert_eq!(run(no_inputs), vec![8, 7, 6, 3, 2]);
    }
}
