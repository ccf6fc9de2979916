//! MLflow's registry search grammar, turned into SQL: the `filter` of `search_registered_models`
//! and `search_model_versions` (`name = 'x' AND tags.k LIKE 'a%'`, `run_id IN ('a', 'b')`,
//! `version_number > 2`), and their `order_by` (`name ASC`, `version_number DESC`), which
//! `search_logged_models` shares (its filter has a grammar of its own, `logged_model_filter`).
//!
//! Each search names the fields it accepts (`Field`: the filter's name, its SQL column, whether it
//! is a number) and its tag table; a clause on anything else is `Invalid`, naming the field and
//! what is accepted. Clauses are joined with `AND` (MLflow's grammar has no `OR`; a stray `AND`
//! at either end, or doubled, is ignored as MLflow does). Values travel as SQL parameters, never
//! spliced. The text is read by the run query language's lexer in MLflow's dialect
//! ([`Dialect::Mlflow`]): one lexer for every MLflow search, so `'it''s'` is searched as written
//! there as in `runs/search`.
use crate::error::{KirokuError, Result};
use crate::query::lexer::{lex, Tok};
use crate::query::Dialect;
use rusqlite::types::Value;

/// One filterable (and sortable) field of a search.
pub(super) struct Field {
    /// As the filter names it (`name`, `version_number`, `run_id`); `aliases` also accepted.
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// The SQL expression it reads.
    pub column: &'static str,
    pub numeric: bool,
}

/// What one search accepts.
pub(super) struct Grammar {
    /// For messages: `registered models`, `model versions`, `logged models`.
    pub what: &'static str,
    pub fields: &'static [Field],
    /// A condition over the tag table (`EXISTS (…)`, or `id IN (SELECT …)`, which lets SQLite
    /// start from the tags by key and value) with `{op}` where the comparison goes and two
    /// parameters (key, value) in that order; `None` when tags cannot be filtered on.
    pub tag_exists: Option<&'static str>,
}

/// A filter as SQL: `sql` (a condition, `1` for no filter) with its `args` in order.
pub(super) struct Condition {
    pub sql: String,
    pub args: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Num(String),
    Op(String),
    Open,
    Close,
    Comma,
}

fn bad(what: &str, filter: &str, why: impl std::fmt::Display) -> KirokuError {
    KirokuError::Invalid(format!(
        "Invalid filter string for {what}: '{filter}': {why}"
    ))
}

/// The filter's tokens, read by the run query language's lexer in MLflow's dialect (so quotes,
/// backquoted keys and numbers follow the same rules as `runs/search`), in the shapes the
/// registry grammar reads: a backquoted key after `tags.` joins its word, and operators are
/// spelled as SQL.
fn tokenize(what: &str, filter: &str) -> Result<Vec<Token>> {
    let lexed = lex(filter, Dialect::Mlflow).map_err(|e| {
        bad(
            what,
            filter,
            format_args!("{} (at column {})", e.message, e.column),
        )
    })?;
    let mut out: Vec<Token> = Vec::with_capacity(lexed.len());
    for token in lexed {
        let next = match token.tok {
            Tok::Eof => break,
            Tok::Word(w) => Token::Word(w),
            Tok::Quoted(key) => match out.last_mut() {
                Some(Token::Word(w)) if w.ends_with('.') => {
                    w.push_str(&key);
                    continue;
                }
                _ => Token::Word(key),
            },
            Tok::Str(text) => Token::Str(text),
            Tok::Number(text) => Token::Num(text),
            Tok::Op(op) => Token::Op(op.as_str().to_string()),
            Tok::LParen => Token::Open,
            Tok::RParen => Token::Close,
            Tok::Comma => Token::Comma,
        };
        out.push(next);
    }
    Ok(out)
}

/// The SQL comparison for a filter operator.
fn sql_op(op: &str) -> &'static str {
    match op {
        "=" => "=",
        "!=" => "!=",
        "<" => "<",
        "<=" => "<=",
        ">" => ">",
        ">=" => ">=",
        "LIKE" => "LIKE",
        _ => "ILIKE",
    }
}

impl Grammar {
    fn field(&self, name: &str) -> Option<&Field> {
        let bare = name
            .strip_prefix("attributes.")
            .or_else(|| name.strip_prefix("attribute."))
            .unwrap_or(name);
        self.fields
            .iter()
            .find(|f| f.name == bare || f.aliases.contains(&bare))
    }

    fn accepted(&self) -> String {
        let mut names: Vec<&str> = self.fields.iter().map(|f| f.name).collect();
        if self.tag_exists.is_some() {
            names.push("tags.<key>");
        }
        names.join(", ")
    }

    /// The filter as one SQL condition.
    pub fn condition(&self, filter: Option<&str>) -> Result<Condition> {
        let Some(filter) = filter.map(str::trim).filter(|f| !f.is_empty()) else {
            return Ok(Condition {
                sql: "1".into(),
                args: Vec::new(),
            });
        };
        let what = self.what;
        let tokens = tokenize(what, filter)?;
        let mut clauses = Vec::new();
        let mut args = Vec::new();
        let is_and =
            |t: Option<&Token>| matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case("and"));
        let mut i = 0;
        loop {
            // MLflow's dialect ignores a stray `AND` at either end, or doubled.
            if Dialect::Mlflow.ignores_stray_and() {
                while is_and(tokens.get(i)) {
                    i += 1;
                }
                if i == tokens.len() {
                    break;
                }
            }
            let Some(Token::Word(name)) = tokens.get(i) else {
                return Err(bad(what, filter, "expected a field name"));
            };
            i += 1;
            // The operator: a symbol, LIKE, ILIKE, IN, NOT IN.
            let op = match tokens.get(i) {
                Some(Token::Op(op)) => op.clone(),
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => {
                    i += 1;
                    match tokens.get(i) {
                        Some(Token::Word(w)) if w.eq_ignore_ascii_case("in") => "NOT IN".into(),
                        _ => return Err(bad(what, filter, "expected IN after NOT")),
                    }
                }
                Some(Token::Word(w))
                    if ["like", "ilike", "in"].contains(&w.to_ascii_lowercase().as_str()) =>
                {
                    w.to_ascii_uppercase()
                }
                _ => {
                    return Err(bad(
                        what,
                        filter,
                        format!("expected an operator after '{name}'"),
                    ))
                }
            };
            i += 1;
            // The value: one, or a parenthesised list for IN.
            let mut values = Vec::new();
            if op.ends_with("IN") {
                if tokens.get(i) != Some(&Token::Open) {
                    return Err(bad(what, filter, "IN needs a list such as ('a', 'b')"));
                }
                i += 1;
                loop {
                    match tokens.get(i) {
                        Some(Token::Str(s)) | Some(Token::Num(s)) => values.push(s.clone()),
                        _ => return Err(bad(what, filter, "expected a value in the IN list")),
                    }
                    i += 1;
                    match tokens.get(i) {
                        Some(Token::Comma) => i += 1,
                        Some(Token::Close) => {
                            i += 1;
                            break;
                        }
                        _ => return Err(bad(what, filter, "expected ',' or ')' in the IN list")),
                    }
                }
            } else {
                match tokens.get(i) {
                    Some(Token::Str(s)) | Some(Token::Num(s)) => values.push(s.clone()),
                    _ => {
                        return Err(bad(
                            what,
                            filter,
                            format!("expected a value after '{name} {op}'"),
                        ))
                    }
                }
                i += 1;
            }
            clauses.push(self.clause(filter, name, &op, values, &mut args)?);
            match tokens.get(i) {
                None => break,
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("and") => i += 1,
                Some(_) => {
                    return Err(bad(
                        what,
                        filter,
                        "clauses are joined with AND (OR is not supported)",
                    ))
                }
            }
        }
        if clauses.is_empty() {
            clauses.push("1".to_string());
        }
        Ok(Condition {
            sql: clauses.join(" AND "),
            args,
        })
    }

    fn clause(
        &self,
        filter: &str,
        name: &str,
        op: &str,
        values: Vec<String>,
        args: &mut Vec<Value>,
    ) -> Result<String> {
        let what = self.what;
        let tag_key = name
            .strip_prefix("tags.")
            .or_else(|| name.strip_prefix("tag."));
        if let Some(key) = tag_key {
            let Some(template) = self.tag_exists else {
                return Err(bad(what, filter, "tags cannot be filtered on here"));
            };
            if op.ends_with("IN") || !matches!(op, "=" | "!=" | "LIKE" | "ILIKE") {
                return Err(bad(
                    what,
                    filter,
                    format!("tags take =, !=, LIKE or ILIKE, not {op}"),
                ));
            }
            args.push(Value::Text(key.to_string()));
            args.push(Value::Text(values.into_iter().next().unwrap_or_default()));
            // `!=` matches those without the tag too (the client filters prompts out of model
            // searches with `tag.mlflow.prompt.is_prompt != 'true'`).
            if op == "!=" {
                return Ok(format!("NOT {}", template.replace("{op}", "t.value = ?")));
            }
            return Ok(template.replace("{op}", &comparison(op, "t.value")));
        }
        let field = self.field(name).ok_or_else(|| {
            bad(
                what,
                filter,
                format!("unknown field '{name}' (accepted: {})", self.accepted()),
            )
        })?;
        let mut typed = Vec::new();
        for v in values {
            typed.push(if field.numeric {
                Value::Integer(v.parse::<i64>().map_err(|_| {
                    bad(
                        what,
                        filter,
                        format!("'{}' needs a whole number, not '{v}'", field.name),
                    )
                })?)
            } else {
                Value::Text(v)
            });
        }
        if op.ends_with("IN") {
            let marks = vec!["?"; typed.len()].join(", ");
            args.extend(typed);
            return Ok(format!("{} {op} ({marks})", field.column));
        }
        if field.numeric && matches!(op, "LIKE" | "ILIKE") {
            return Err(bad(
                what,
                filter,
                format!("'{}' cannot be compared with {op}", field.name),
            ));
        }
        args.extend(typed);
        Ok(comparison(op, field.column))
    }

    /// `ORDER BY` terms for MLflow's `order_by` strings (`name`, `name DESC`,
    /// `attributes.version_number ASC`), or `default` when none is given (empty: none), then
    /// `tiebreak`: the search's natural order, which MLflow appends to every order (a model's
    /// name; a version's name and number).
    pub fn order(&self, order_by: &[String], default: &str, tiebreak: &str) -> Result<String> {
        let mut terms = Vec::new();
        for key in order_by {
            let mut parts = key.split_whitespace();
            let name = parts.next().unwrap_or("");
            let direction = match parts.next().map(str::to_ascii_uppercase).as_deref() {
                None | Some("ASC") => "ASC",
                Some("DESC") => "DESC",
                Some(other) => {
                    return Err(KirokuError::Invalid(format!(
                        "Invalid order_by clause '{key}': '{other}' is neither ASC nor DESC"
                    )))
                }
            };
            terms.push(format!("{} {direction}", self.order_column(key, name)?));
        }
        if terms.is_empty() && !default.is_empty() {
            terms.push(default.to_string());
        }
        terms.push(tiebreak.to_string());
        Ok(terms.join(", "))
    }

    /// The column field `name` of order clause `key` sorts by.
    pub fn order_column(&self, key: &str, name: &str) -> Result<&'static str> {
        let field = self.field(name).ok_or_else(|| {
            KirokuError::Invalid(format!(
                "Invalid order_by clause '{key}': cannot order {} by '{name}' (accepted: {})",
                self.what,
                self.fields
                    .iter()
                    .map(|f| f.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        Ok(field.column)
    }
}

/// `column OP ?`, with ILIKE as a case-insensitive LIKE (the store turns `case_sensitive_like`
/// on, so LIKE itself is case-sensitive as MLflow's).
fn comparison(op: &str, column: &str) -> String {
    match sql_op(op) {
        "ILIKE" => format!("lower({column}) LIKE lower(?)"),
        op => format!("{column} {op} ?"),
    }
}

/// A page token: the offset of the page's first row, as text. Anything else is `Invalid`.
pub(super) fn page_offset(token: Option<&str>) -> Result<i64> {
    match token.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(0),
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| KirokuError::Invalid(format!("Invalid page token '{t}'"))),
    }
}

/// The next page's token when more rows than `limit` came back (the query asks for one more),
/// dropping that extra row.
pub(super) fn next_page<T>(rows: &mut Vec<T>, offset: i64, limit: i64) -> Option<String> {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        Some((offset + limit).to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAMMAR: Grammar = Grammar {
        what: "model versions",
        fields: &[
            Field {
                name: "name",
                aliases: &[],
                column: "m.name",
                numeric: false,
            },
            Field {
                name: "version_number",
                aliases: &["version"],
                column: "v.version",
                numeric: true,
            },
            Field {
                name: "run_id",
                aliases: &[],
                column: "v.run_id",
                numeric: false,
            },
        ],
        tag_exists: Some("EXISTS (SELECT 1 FROM t WHERE t.key = ? AND {op})"),
    };

    #[test]
    fn stray_ands_are_ignored_as_mlflow_does() {
        // MLflow's registry parser (`SearchModelVersionUtils.parse_search_filter`) drops every
        // `AND` keyword token, so these read as the filter without them.
        for filter in ["name = 'a' AND", "AND name = 'a'", "and name = 'a' AND AND"] {
            let c = GRAMMAR.condition(Some(filter)).unwrap();
            assert_eq!(c.sql, "m.name = ?", "{filter}");
            assert_eq!(c.args, vec![Value::Text("a".into())], "{filter}");
        }
        let doubled = GRAMMAR
            .condition(Some("name = 'a' AND AND run_id = 'r'"))
            .unwrap();
        assert_eq!(doubled.sql, "m.name = ? AND v.run_id = ?");
        assert_eq!(GRAMMAR.condition(Some("AND")).unwrap().sql, "1");
        // An error from the shared lexer names where it is.
        let Err(err) = GRAMMAR.condition(Some("name = 'open")) else {
            panic!("an unterminated string must be refused");
        };
        let err = err.to_string();
        assert!(err.contains("unterminated string (at column 8)"), "{err}");
    }

    #[test]
    fn clauses_become_parameterised_sql() {
        let c = GRAMMAR
            .condition(Some("name = 'a''b' AND version_number >= 2 AND run_id IN ('x', \"y\") and tags.`k 1` ILIKE '%Z%'"))
            .unwrap();
        assert_eq!(
            c.sql,
            "m.name = ? AND v.version >= ? AND v.run_id IN (?, ?) AND EXISTS (SELECT 1 FROM t WHERE t.key = ? AND lower(t.value) LIKE lower(?))"
        );
        assert_eq!(
            c.args,
            vec![
                // MLflow's dialect: no escape inside quotes, searched as written.
                Value::Text("a''b".into()),
                Value::Integer(2),
                Value::Text("x".into()),
                Value::Text("y".into()),
                Value::Text("k 1".into()),
                Value::Text("%Z%".into())
            ]
        );
        assert_eq!(GRAMMAR.condition(None).unwrap().sql, "1");
        let c = GRAMMAR.condition(Some("tag.`a.b` != 'true'")).unwrap();
        assert_eq!(
            c.sql,
            "NOT EXISTS (SELECT 1 FROM t WHERE t.key = ? AND t.value = ?)"
        );
    }

    #[test]
    fn bad_filters_say_what_is_wrong() {
        for (filter, says) in [
            ("nme = 'a'", "unknown field 'nme'"),
            ("name = 'a' OR name = 'b'", "OR is not supported"),
            ("version_number = 'x'", "whole number"),
            ("name = 'a", "unterminated string"),
            ("name", "expected an operator"),
            ("tags.k > 'a'", "tags take"),
            ("tags.k IN ('a')", "tags take"),
        ] {
            let e = GRAMMAR.condition(Some(filter)).err().unwrap().to_string();
            assert!(e.contains(says), "{filter}: {e}");
        }
        assert!(GRAMMAR.order(&["nope".into()], "x", "y").is_err());
        assert_eq!(
            GRAMMAR
                .order(&["version_number DESC".into()], "m.name", "v.vid")
                .unwrap(),
            "v.version DESC, v.vid"
        );
    }

    #[test]
    fn page_tokens_are_offsets() {
        let mut rows = vec![1, 2, 3];
        assert_eq!(next_page(&mut rows, 4, 2).as_deref(), Some("6"));
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(page_offset(Some("6")).unwrap(), 6);
        assert!(page_offset(Some("abc")).is_err());
    }
}
