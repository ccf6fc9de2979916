//! MLflow's logged-model search grammar (the `filter` of `search_logged_models`), turned into
//! SQL as MLflow's own server reads it (its SQLAlchemy store, `search_logged_model_utils`),
//! which is not the registry's grammar (`registry_filter`):
//!
//! - A clause is `<entity> <op> <value>`, clauses joined with `AND` (a stray one is ignored).
//!   The entity is `attributes.<column>`, `metrics.<key>`, `params.<key>`, `tags.<key>` (a
//!   backquoted key is unquoted) or a bare attribute, which may be one of MLflow's aliases
//!   (`creation_time`, `creation_timestamp`, `last_updated_timestamp`). Any other lowercase
//!   prefix (`tag.`, `attribute.`) is MLflow's `Invalid entity type`.
//! - Numeric entities (metrics, `creation_timestamp_ms`, `last_updated_timestamp_ms`) take
//!   `= != < <= > >=` with a number; every other entity `= != LIKE ILIKE IN NOT IN`; anything
//!   else is MLflow's `Invalid comparison operator`.
//! - A tag, param or metric clause matches the models that have the key with a value matching
//!   (MLflow joins the table): `!=` and `NOT IN` never match a model without the key.
//! - A single text value is what is inside its single quotes (a doubled quote kept as written),
//!   an unquoted word or number as written, and a double-quoted one with its quotes (MLflow
//!   reads it as a name, so it matches only a value with those quotes). An `IN` list is a Python
//!   literal: strings in either quotes and numbers, a trailing comma, or nothing (`()`); a
//!   number is compared as SQLite compares it with text.
//! - Attributes read as MLflow stores them: `status` is MLflow's number (1 pending, 2 ready, 3
//!   failed, so `status = 'READY'` matches nothing, as there), `source_run_id` and `model_type`
//!   are `''` when unset, `lifecycle_stage` is `active` (deleted models are never searched),
//!   `artifact_location` the `mlflow-artifacts:` URI the API reports.
//!
//! Where MLflow's server fails with an internal error rather than rejecting (a column its table
//! lacks, text compared with a number, a one-value list that is not text such as `(0.1)`, `=`
//! with a list), kiroku answers `INVALID_PARAMETER_VALUE` saying why.
use crate::error::{KirokuError, Result};
use crate::query::lexer::{lex, Tok, Token};
use crate::query::Dialect;
use rusqlite::types::Value;

/// A model has a value of a metric matching `{op}` (any step, run or dataset; only on the
/// datasets of the search's `metric_scope`, when it names some): MLflow's semantics, as its
/// server applies them: a dataset given without a digest matches values logged without one.
const METRIC_EXISTS: &str = "EXISTS (SELECT 1 FROM logged_model_metrics m WHERE m.model_id = l.model_id AND m.key = ? AND {op} AND (NOT EXISTS (SELECT 1 FROM metric_scope) OR EXISTS (SELECT 1 FROM metric_scope s WHERE s.name = m.dataset_name AND m.dataset_digest IS s.digest)))";
const PARAM_EXISTS: &str = "EXISTS (SELECT 1 FROM logged_model_params p WHERE p.model_id = l.model_id AND p.key = ? AND {op})";
const TAG_EXISTS: &str = "EXISTS (SELECT 1 FROM logged_model_tags t WHERE t.model_id = l.model_id AND t.key = ? AND {op})";

const NUMERIC_OPS: &str = "('<', '<=', '>', '>=', '=', '!=')";
const TEXT_OPS: &str = "('=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN')";

/// How an attribute compares.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Text: `= != LIKE ILIKE IN NOT IN`.
    Text,
    /// A whole number MLflow's table keeps in an integer column but compares with the text
    /// operators (`experiment_id`, `status`): a value that reads as a number is that number, as
    /// SQLite's integer affinity makes it.
    IntegerText,
    /// A number: `= != < <= > >=` with a number.
    Number,
}

/// The attributes MLflow's `logged_models` table has, as kiroku's store reads them.
const ATTRIBUTES: &[(&str, &str, Kind)] = &[
    ("model_id", "l.model_id", Kind::Text),
    ("experiment_id", "l.experiment_id", Kind::IntegerText),
    ("name", "l.name", Kind::Text),
    (
        "artifact_location",
        "('mlflow-artifacts:/' || l.experiment_id || '/models/' || l.model_id || '/artifacts')",
        Kind::Text,
    ),
    ("creation_timestamp_ms", "l.created_ms", Kind::Number),
    ("last_updated_timestamp_ms", "l.updated_ms", Kind::Number),
    (
        "status",
        "(CASE l.status WHEN 'pending' THEN 1 WHEN 'ready' THEN 2 WHEN 'upload_failed' THEN 3 ELSE 0 END)",
        Kind::IntegerText,
    ),
    ("lifecycle_stage", "'active'", Kind::Text),
    ("model_type", "coalesce(l.model_type, '')", Kind::Text),
    ("source_run_id", "coalesce(l.source_run_id, '')", Kind::Text),
    ("status_message", "l.status_message", Kind::Text),
];

/// MLflow's names for a bare attribute.
const ALIASES: &[(&str, &str)] = &[
    ("creation_time", "creation_timestamp_ms"),
    ("creation_timestamp", "creation_timestamp_ms"),
    ("last_updated_timestamp", "last_updated_timestamp_ms"),
];

/// A filter as SQL: `sql` (a condition, `1` for no filter) with its `args` in order.
pub(super) struct Condition {
    pub sql: String,
    pub args: Vec<Value>,
    /// Whether a clause is on a metric.
    pub on_metrics: bool,
}

/// What a clause compares.
enum Entity {
    Attribute {
        key: String,
        column: &'static str,
        kind: Kind,
    },
    Metric(String),
    Param(String),
    Tag(String),
}

impl Entity {
    /// As MLflow names it in messages (`tags.team`, `attributes.creation_timestamp_ms`).
    fn display(&self) -> String {
        match self {
            Entity::Attribute { key, .. } => format!("attributes.{key}"),
            Entity::Metric(k) => format!("metrics.{k}"),
            Entity::Param(k) => format!("params.{k}"),
            Entity::Tag(k) => format!("tags.{k}"),
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Entity::Attribute { kind, .. } => *kind,
            Entity::Metric(_) => Kind::Number,
            Entity::Param(_) | Entity::Tag(_) => Kind::Text,
        }
    }

    /// MLflow's reading of an identifier: `<lowercase type>.<key>`, else a bare attribute.
    fn parse(identifier: &str) -> Result<Entity> {
        let typed = identifier.split_once('.').filter(|(kind, key)| {
            !kind.is_empty() && !key.is_empty() && kind.chars().all(|c| c.is_ascii_lowercase())
        });
        let (kind, key) = match typed {
            Some((kind, key)) => (Some(kind), key.trim_matches('`')),
            None => (None, identifier),
        };
        match kind {
            Some("metrics") => Ok(Entity::Metric(key.to_string())),
            Some("params") => Ok(Entity::Param(key.to_string())),
            Some("tags") => Ok(Entity::Tag(key.to_string())),
            Some("attributes") => Entity::attribute(key),
            Some(other) => Err(KirokuError::Invalid(format!(
                "Invalid entity type: '{other}'. Expected one of ['attributes', 'metrics', 'params', 'tags']."
            ))),
            None => {
                let key = key.trim_matches('`');
                let key = ALIASES
                    .iter()
                    .find(|(alias, _)| *alias == key)
                    .map_or(key, |(_, name)| name);
                Entity::attribute(key)
            }
        }
    }

    fn attribute(key: &str) -> Result<Entity> {
        let (name, column, kind) = ATTRIBUTES
            .iter()
            .find(|(name, _, _)| *name == key)
            .ok_or_else(|| {
                KirokuError::Invalid(format!(
                    "Invalid logged model search key '{key}' (attributes: {})",
                    ATTRIBUTES
                        .iter()
                        .map(|(n, _, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        Ok(Entity::Attribute {
            key: name.to_string(),
            column,
            kind: *kind,
        })
    }
}

/// A clause's value, as MLflow reads it.
enum Operand {
    /// One value, as text (for a numeric entity, as written, to be read as a number).
    One(String),
    /// An `IN` list's values.
    List(Vec<Value>),
}

fn syntax_error(filter: &str) -> KirokuError {
    KirokuError::Invalid(format!(
        "Invalid filter string: '{filter}'. Expected a list of comparisons separated by 'AND' (e.g. 'metrics.loss > 0.1 AND params.lr = 0.01')."
    ))
}

/// The filter as one SQL condition.
pub(super) fn condition(filter: Option<&str>) -> Result<Condition> {
    let mut out = Condition {
        sql: "1".into(),
        args: Vec::new(),
        on_metrics: false,
    };
    let Some(filter) = filter.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(out);
    };
    let tokens = identifiers_joined(lex(filter, Dialect::Mlflow).map_err(|e| {
        KirokuError::Invalid(format!(
            "Invalid filter string: '{filter}': {} (at column {})",
            e.message, e.column
        ))
    })?);
    let mut clauses = Vec::new();
    let mut i = 0;
    let is_and = |t: &Tok| matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case("and"));
    loop {
        while is_and(&tokens[i].tok) {
            i += 1;
        }
        let Tok::Word(identifier) = &tokens[i].tok else {
            if tokens[i].tok == Tok::Eof {
                break;
            }
            return Err(syntax_error(filter));
        };
        i += 1;
        let op = match &tokens[i].tok {
            Tok::Op(op) => op.as_str().to_string(),
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => {
                i += 1;
                match &tokens[i].tok {
                    Tok::Word(w) if w.eq_ignore_ascii_case("in") => "NOT IN".to_string(),
                    _ => return Err(syntax_error(filter)),
                }
            }
            Tok::Word(w) => w.to_ascii_uppercase(),
            _ => return Err(syntax_error(filter)),
        };
        i += 1;
        let entity = Entity::parse(identifier)?;
        let allowed = if entity.kind() == Kind::Number {
            NUMERIC_OPS
        } else {
            TEXT_OPS
        };
        if !allowed.contains(&format!("'{op}'")) {
            return Err(KirokuError::Invalid(format!(
                "Invalid comparison operator for {}: '{op}'. Expected one of {allowed}.",
                entity.display()
            )));
        }
        let operand = if op.ends_with("IN") {
            let (list, next) = in_list(filter, &tokens, i)?;
            i = next;
            Operand::List(list)
        } else if entity.kind() == Kind::Number {
            // MLflow takes the number from the text as written: `'5'` is not one.
            i += 1;
            Operand::One(tokens[i - 1].text.clone())
        } else {
            let value = single_value(filter, &tokens[i])?;
            i += 1;
            Operand::One(value)
        };
        out.on_metrics |= matches!(entity, Entity::Metric(_));
        clauses.push(clause(&entity, &op, operand, &mut out.args)?);
        match &tokens[i].tok {
            Tok::Eof => break,
            t if is_and(t) => {}
            _ => return Err(syntax_error(filter)),
        }
    }
    if !clauses.is_empty() {
        out.sql = clauses.join(" AND ");
    }
    Ok(out)
}

/// The lexer's tokens with a backquoted key joined to the `tags.` before it (`` tags.`a b` ``
/// is one identifier, as MLflow reads it).
fn identifiers_joined(lexed: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(lexed.len());
    for token in lexed {
        if let (
            Tok::Quoted(key),
            Some(Token {
                tok: Tok::Word(w), ..
            }),
        ) = (&token.tok, out.last_mut())
        {
            if w.ends_with('.') {
                w.push_str(key);
                continue;
            }
        }
        out.push(token);
    }
    out
}

/// A single value as MLflow takes it from the filter's text: inside single quotes, what is
/// between them; anything else as written (a double-quoted string keeps its quotes).
fn single_value(filter: &str, token: &Token) -> Result<String> {
    match &token.tok {
        Tok::Str(text) if token.text.starts_with('\'') => Ok(text.clone()),
        Tok::Str(_) | Tok::Number(_) | Tok::Word(_) => Ok(token.text.clone()),
        Tok::LParen => Err(KirokuError::Invalid(format!(
            "Invalid filter string: '{filter}': a list of values goes with IN or NOT IN only"
        ))),
        _ => Err(syntax_error(filter)),
    }
}

/// An `IN` list from `tokens[at]` (its `(`), read as the Python literal MLflow evaluates it
/// as: strings and numbers, a trailing comma allowed; one value without a comma must be text.
/// Returns the values and the index after the `)`.
fn in_list(filter: &str, tokens: &[Token], mut at: usize) -> Result<(Vec<Value>, usize)> {
    let not_a_list = || {
        KirokuError::Invalid(format!(
            "Invalid filter string: '{filter}': IN takes a list of strings or numbers such as ('a', 'b')"
        ))
    };
    if tokens[at].tok != Tok::LParen {
        return Err(syntax_error(filter));
    }
    at += 1;
    let mut values = Vec::new();
    let mut commas = 0;
    loop {
        match &tokens[at].tok {
            Tok::RParen => break,
            Tok::Str(text) => values.push(Value::Text(text.clone())),
            Tok::Number(text) => values.push(python_number(text).ok_or_else(not_a_list)?),
            _ => return Err(not_a_list()),
        }
        at += 1;
        match &tokens[at].tok {
            Tok::Comma => {
                commas += 1;
                at += 1;
            }
            Tok::RParen => break,
            _ => return Err(not_a_list()),
        }
    }
    // `(0.1)` is a number, not a list, to Python.
    if values.len() == 1 && commas == 0 && !matches!(values[0], Value::Text(_)) {
        return Err(not_a_list());
    }
    Ok((values, at + 1))
}

/// A number literal as Python reads it: a whole number or a float (not `inf`, a name there).
fn python_number(text: &str) -> Option<Value> {
    let digits = text.trim_start_matches(['-', '+']);
    if !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    text.parse::<i64>()
        .map(Value::Integer)
        .ok()
        .or_else(|| text.parse::<f64>().ok().map(Value::Real))
}

/// A value compared with a number MLflow keeps in an integer column: a number when it reads as
/// one (SQLite's integer affinity), else the text (which no number equals).
fn integer_affinity(value: Value) -> Value {
    match value {
        Value::Text(text) => {
            let trimmed = text.trim();
            trimmed
                .parse::<i64>()
                .map(Value::Integer)
                .ok()
                .or_else(|| trimmed.parse::<f64>().ok().map(Value::Real))
                .unwrap_or(Value::Text(text))
        }
        other => other,
    }
}

/// One clause's SQL, its arguments appended to `args`.
fn clause(entity: &Entity, op: &str, operand: Operand, args: &mut Vec<Value>) -> Result<String> {
    let (template, column) = match entity {
        Entity::Attribute { column, .. } => (None, *column),
        Entity::Metric(key) => {
            args.push(Value::Text(key.clone()));
            (Some(METRIC_EXISTS), "m.value")
        }
        Entity::Param(key) => {
            args.push(Value::Text(key.clone()));
            (Some(PARAM_EXISTS), "p.value")
        }
        Entity::Tag(key) => {
            args.push(Value::Text(key.clone()));
            (Some(TAG_EXISTS), "t.value")
        }
    };
    let kind = entity.kind();
    let comparison = match operand {
        Operand::List(values) => {
            let mut marks = Vec::with_capacity(values.len());
            for value in values {
                // A number in a list is compared with text as SQLite compares a number with a
                // text column: as its text.
                marks.push(match (&value, kind) {
                    (Value::Text(_), _) | (_, Kind::IntegerText) => "?",
                    _ => "CAST(? AS TEXT)",
                });
                args.push(if kind == Kind::IntegerText {
                    integer_affinity(value)
                } else {
                    value
                });
            }
            format!("{column} {op} ({})", marks.join(", "))
        }
        Operand::One(text) if kind == Kind::Number => {
            let number = text.parse::<f64>().map_err(|_| {
                KirokuError::Invalid(format!(
                    "{} is compared with a number, not {text}",
                    entity.display()
                ))
            })?;
            args.push(Value::Real(number));
            format!("{column} {op} ?")
        }
        Operand::One(text) => match op {
            "LIKE" => {
                args.push(Value::Text(text));
                format!("{column} LIKE ?")
            }
            "ILIKE" => {
                args.push(Value::Text(text));
                format!("lower({column}) LIKE lower(?)")
            }
            _ => {
                let value = Value::Text(text);
                args.push(if kind == Kind::IntegerText {
                    integer_affinity(value)
                } else {
                    value
                });
                format!("{column} {op} ?")
            }
        },
    };
    Ok(match template {
        Some(template) => template.replace("{op}", &comparison),
        None => comparison,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(filter: &str) -> (String, Vec<Value>) {
        let c = condition(Some(filter)).unwrap();
        (c.sql, c.args)
    }

    fn error(filter: &str) -> String {
        condition(Some(filter)).err().unwrap().to_string()
    }

    #[test]
    fn tags_take_in_and_not_in_inside_their_table() {
        let (sql, args) =
            sql("tags.team IN ('a', \"b\",) AND tags.`k 1` not in () and tags.x != 'y'");
        assert_eq!(
            sql,
            [
                TAG_EXISTS.replace("{op}", "t.value IN (?, ?)"),
                TAG_EXISTS.replace("{op}", "t.value NOT IN ()"),
                TAG_EXISTS.replace("{op}", "t.value != ?"),
            ]
            .join(" AND ")
        );
        assert_eq!(
            args,
            ["team", "a", "b", "k 1", "x", "y"]
                .map(|t| Value::Text(t.into()))
                .to_vec()
        );
        assert!(!condition(Some("tags.a = 'b'")).unwrap().on_metrics);
    }

    #[test]
    fn values_read_as_mlflow_reads_them() {
        // Single quotes come off (a doubled one stays); double quotes and bare words stay.
        assert_eq!(sql("name = 'a''b'").1, vec![Value::Text("a''b".into())]);
        assert_eq!(sql("name = \"m0\"").1, vec![Value::Text("\"m0\"".into())]);
        assert_eq!(sql("params.lr = 0.01").1[1], Value::Text("0.01".into()));
        // A number in a list is compared as text.
        let (s, args) = sql("params.n IN (1, 0.5)");
        assert!(
            s.contains("p.value IN (CAST(? AS TEXT), CAST(? AS TEXT))"),
            "{s}"
        );
        assert_eq!(args[1..], [Value::Integer(1), Value::Real(0.5)]);
        // `status` is MLflow's number.
        let (s, args) = sql("status = 2 AND status IN ('READY', '3')");
        assert!(s.starts_with("(CASE l.status"), "{s}");
        assert_eq!(
            args,
            vec![
                Value::Integer(2),
                Value::Text("READY".into()),
                Value::Integer(3)
            ]
        );
        // Aliases are for bare names; metrics and timestamps are numbers.
        let c = condition(Some("creation_time > 5 AND metrics.acc >= -1")).unwrap();
        assert!(
            c.sql.starts_with("l.created_ms > ? AND EXISTS"),
            "{}",
            c.sql
        );
        assert_eq!(
            c.args,
            vec![
                Value::Real(5.0),
                Value::Text("acc".into()),
                Value::Real(-1.0)
            ]
        );
        assert!(c.on_metrics);
        assert_eq!(condition(Some("AND")).unwrap().sql, "1");
    }

    #[test]
    fn what_mlflow_rejects_is_rejected_with_its_words() {
        for (filter, says) in [
            ("tag.team = 'a'", "Invalid entity type: 'tag'"),
            ("attribute.name = 'a'", "Invalid entity type: 'attribute'"),
            (
                "creation_timestamp IN (1, 2)",
                "Invalid comparison operator for attributes.creation_timestamp_ms: 'IN'",
            ),
            (
                "metrics.acc LIKE '1'",
                "Invalid comparison operator for metrics.acc: 'LIKE'",
            ),
            (
                "name > 'a'",
                "Invalid comparison operator for attributes.name: '>'",
            ),
            (
                "tags.t < 'b'",
                "Invalid comparison operator for tags.t: '<'",
            ),
            (
                "tags.t IN 'a'",
                "Expected a list of comparisons separated by 'AND'",
            ),
            ("name = 'a' OR name = 'b'", "Expected a list of comparisons"),
            ("nope = 'a'", "Invalid logged model search key 'nope'"),
            (
                "attributes.creation_time > 1",
                "Invalid logged model search key 'creation_time'",
            ),
            ("metrics.acc > 'high'", "compared with a number"),
            ("creation_timestamp = '5'", "compared with a number"),
            ("params.lr IN (0.1)", "IN takes a list"),
            ("tags.t = ('a')", "goes with IN or NOT IN only"),
            ("name = 'open", "unterminated string"),
        ] {
            let e = error(filter);
            assert!(e.contains(says), "{filter}: {e}");
        }
    }
}
