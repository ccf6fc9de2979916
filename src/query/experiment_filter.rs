//! MLflow's `experiments/search` filter, read with the run query language's lexer (so quotes,
//! keys and stray `AND`s follow the same [`Dialect`] rules as run searches).
//!
//! ```text
//! name LIKE 'vision%' AND tags.team = 'nlp' AND creation_time > 1700000000000
//! attribute.experiment_id IN ('1', '2') AND tags.`owner` IS NULL
//! ```
//!
//! Fields: `name`, `experiment_id`, `creation_time`, `last_update_time` (optionally prefixed
//! `attribute.`; kiroku also takes `attributes.`) and `tags.<key>` / `tag.<key>`. Operators:
//! `= != LIKE ILIKE` for `name` and tags, `IS [NOT] NULL` for tags, comparisons for the times,
//! `= !=` and `[NOT] IN (...)` for `experiment_id`. Conditions are joined by `AND` only.

use super::ast::CmpOp;
use super::lexer::{lex, Tok, Token};
use super::{Dialect, QueryError};

/// A field of an experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExperimentField {
    Name,
    ExperimentId,
    CreationTime,
    LastUpdateTime,
    Tag(String),
}

/// What a condition asks of its field.
#[derive(Debug, Clone, PartialEq)]
pub enum ExperimentTest {
    /// `= != < <= > >=` against text (name, id, tags) or a number (the times).
    Compare { op: CmpOp, value: ExperimentValue },
    /// `LIKE` / `ILIKE` with SQL wildcards.
    Like {
        pattern: String,
        case_insensitive: bool,
    },
    /// `[NOT] IN ('1', '2')` (experiment ids).
    In { values: Vec<String>, negated: bool },
    /// `IS [NOT] NULL` (tags): the experiment lacks (or has) the tag.
    IsNull { negated: bool },
}

/// A compared value.
#[derive(Debug, Clone, PartialEq)]
pub enum ExperimentValue {
    Text(String),
    Number(i64),
}

/// One condition of an experiment filter.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentCondition {
    pub field: ExperimentField,
    pub test: ExperimentTest,
}

/// Parses an `experiments/search` filter into its conditions (all must hold); empty means
/// every experiment.
pub fn parse_experiment_filter(
    input: &str,
    dialect: Dialect,
) -> Result<Vec<ExperimentCondition>, QueryError> {
    let mut toks = lex(input, dialect)?;
    let is_and = |t: &Token| matches!(&t.tok, Tok::Word(w) if w.eq_ignore_ascii_case("and"));
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        if dialect.ignores_stray_and() {
            while is_and(&toks[pos]) {
                pos += 1;
            }
        }
        if toks[pos].tok == Tok::Eof {
            if out.is_empty() || dialect.ignores_stray_and() {
                return Ok(out);
            }
            return Err(QueryError::new(
                toks[pos].column(),
                "expected a condition after 'and'",
            ));
        }
        out.push(condition(&mut toks, &mut pos)?);
        if out.len() > super::MAX_CONDITIONS {
            return Err(QueryError::new(
                toks[pos].column(),
                format!(
                    "too many conditions: a filter holds at most {}",
                    super::MAX_CONDITIONS
                ),
            ));
        }
        match &toks[pos].tok {
            Tok::Eof => return Ok(out),
            _ if is_and(&toks[pos]) => pos += 1,
            _ => {
                return Err(QueryError::new(
                    toks[pos].column(),
                    format!(
                        "unexpected '{}' (experiment filters join conditions with AND)",
                        toks[pos].text
                    ),
                ))
            }
        }
    }
}

fn kw(t: &Token, word: &str) -> bool {
    matches!(&t.tok, Tok::Word(w) if w.eq_ignore_ascii_case(word))
}

fn field(toks: &[Token], pos: &mut usize) -> Result<(ExperimentField, String), QueryError> {
    let t = &toks[*pos];
    let column = t.column();
    let (prefix, key) = match &t.tok {
        Tok::Word(w) => match w.split_once('.') {
            // `tags.` directly followed by a quoted key.
            Some((p, "")) if matches!(toks[*pos + 1].tok, Tok::Str(_) | Tok::Quoted(_)) => {
                *pos += 1;
                let key = match &toks[*pos].tok {
                    Tok::Str(s) | Tok::Quoted(s) => s.clone(),
                    _ => unreachable!("checked above"),
                };
                (Some(p.to_string()), key)
            }
            Some((p, k)) => (Some(p.to_string()), k.to_string()),
            None => (None, w.clone()),
        },
        Tok::Quoted(name) => (None, name.clone()),
        _ => {
            return Err(QueryError::new(
                column,
                format!("expected a field, got '{}'", t.text),
            ))
        }
    };
    *pos += 1;
    let text = toks[*pos - 1].text.clone();
    let attribute = |key: &str| {
        match key.to_ascii_lowercase().as_str() {
        "name" => Ok(ExperimentField::Name),
        "experiment_id" => Ok(ExperimentField::ExperimentId),
        "creation_time" => Ok(ExperimentField::CreationTime),
        "last_update_time" => Ok(ExperimentField::LastUpdateTime),
        _ => Err(QueryError::new(
            column,
            format!("unknown experiment attribute '{key}' (known: name, experiment_id, creation_time, last_update_time)"),
        )),
    }
    };
    let f = match prefix.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("attribute" | "attributes") => attribute(&key)?,
        Some("tag" | "tags") if !key.is_empty() => ExperimentField::Tag(key),
        Some("tag" | "tags") => {
            return Err(QueryError::new(
                column,
                format!("expected a key after '{text}'"),
            ))
        }
        Some(other) => {
            return Err(QueryError::new(
                column,
                format!("unknown field type '{other}' (known: attribute, tags)"),
            ))
        }
    };
    Ok((f, text))
}

fn condition(toks: &mut [Token], pos: &mut usize) -> Result<ExperimentCondition, QueryError> {
    let (field, text) = field(toks, pos)?;
    let op = toks[*pos].clone();
    *pos += 1;
    let wrong = |what: &str| {
        QueryError::new(
            op.column(),
            format!("{what} does not work for '{text}' in an experiment filter"),
        )
    };
    let is_time = matches!(
        field,
        ExperimentField::CreationTime | ExperimentField::LastUpdateTime
    );
    let test = if let Tok::Op(cmp) = op.tok {
        let v = toks[*pos].clone();
        *pos += 1;
        let value = match (&v.tok, is_time) {
            (Tok::Number(n), true) => match n.parse::<f64>() {
                Ok(x) if x.is_finite() => ExperimentValue::Number(x as i64),
                _ => {
                    return Err(QueryError::new(
                        v.column(),
                        format!("{text} needs a number"),
                    ))
                }
            },
            (Tok::Str(s), false) => ExperimentValue::Text(s.clone()),
            (_, true) => {
                return Err(QueryError::new(
                    v.column(),
                    format!("{text} needs a number, got '{}'", v.text),
                ))
            }
            (_, false) => {
                return Err(QueryError::new(
                    v.column(),
                    format!("{text} needs a quoted string, got '{}'", v.text),
                ))
            }
        };
        let ordered = !matches!(cmp, CmpOp::Eq | CmpOp::Ne);
        if ordered && !is_time {
            return Err(wrong(cmp.as_str()));
        }
        ExperimentTest::Compare { op: cmp, value }
    } else if kw(&op, "like") || kw(&op, "ilike") {
        if !matches!(field, ExperimentField::Name | ExperimentField::Tag(_)) {
            return Err(wrong(&op.text.to_uppercase()));
        }
        let v = toks[*pos].clone();
        *pos += 1;
        let Tok::Str(pattern) = v.tok else {
            return Err(QueryError::new(
                v.column(),
                format!("{} needs a quoted pattern", op.text.to_uppercase()),
            ));
        };
        ExperimentTest::Like {
            pattern,
            case_insensitive: kw(&op, "ilike"),
        }
    } else if kw(&op, "is") {
        let negated = kw(&toks[*pos], "not");
        if negated {
            *pos += 1;
        }
        if !kw(&toks[*pos], "null") {
            return Err(QueryError::new(
                toks[*pos].column(),
                "expected NULL after IS",
            ));
        }
        *pos += 1;
        if !matches!(field, ExperimentField::Tag(_)) {
            return Err(wrong("IS NULL"));
        }
        ExperimentTest::IsNull { negated }
    } else if kw(&op, "in") || (kw(&op, "not") && kw(&toks[*pos], "in")) {
        let negated = kw(&op, "not");
        if negated {
            *pos += 1;
        }
        if field != ExperimentField::ExperimentId {
            return Err(wrong("IN"));
        }
        ExperimentTest::In {
            values: id_list(toks, pos)?,
            negated,
        }
    } else {
        return Err(QueryError::new(
            op.column(),
            format!("expected an operator after '{text}'"),
        ));
    };
    Ok(ExperimentCondition { field, test })
}

/// `('1', '2', ...)` after IN.
fn id_list(toks: &[Token], pos: &mut usize) -> Result<Vec<String>, QueryError> {
    if toks[*pos].tok != Tok::LParen {
        return Err(QueryError::new(
            toks[*pos].column(),
            "expected '(' after IN",
        ));
    }
    *pos += 1;
    let mut values = Vec::new();
    loop {
        match &toks[*pos].tok {
            Tok::Str(s) | Tok::Number(s) => values.push(s.clone()),
            _ => {
                return Err(QueryError::new(
                    toks[*pos].column(),
                    "expected an experiment id in the IN list",
                ))
            }
        }
        *pos += 1;
        match toks[*pos].tok {
            Tok::Comma => *pos += 1,
            Tok::RParen => {
                *pos += 1;
                return Ok(values);
            }
            _ => return Err(QueryError::new(toks[*pos].column(), "expected ',' or ')'")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mlflow_experiment_filters() {
        let got = parse_experiment_filter(
            "AND attribute.name LIKE 'ex%' and tags.`a b` = 'it''s' AND creation_time > 5 AND experiment_id NOT IN ('1', '2') AND tag.x IS NOT NULL and",
            Dialect::Mlflow,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                ExperimentCondition {
                    field: ExperimentField::Name,
                    test: ExperimentTest::Like {
                        pattern: "ex%".into(),
                        case_insensitive: false
                    }
                },
                ExperimentCondition {
                    field: ExperimentField::Tag("a b".into()),
                    test: ExperimentTest::Compare {
                        op: CmpOp::Eq,
                        value: ExperimentValue::Text("it''s".into())
                    }
                },
                ExperimentCondition {
                    field: ExperimentField::CreationTime,
                    test: ExperimentTest::Compare {
                        op: CmpOp::Gt,
                        value: ExperimentValue::Number(5)
                    }
                },
                ExperimentCondition {
                    field: ExperimentField::ExperimentId,
                    test: ExperimentTest::In {
                        values: vec!["1".into(), "2".into()],
                        negated: true
                    }
                },
                ExperimentCondition {
                    field: ExperimentField::Tag("x".into()),
                    test: ExperimentTest::IsNull { negated: true }
                },
            ]
        );
        assert_eq!(
            parse_experiment_filter("  ", Dialect::Mlflow).unwrap(),
            vec![]
        );
        for bad in [
            "name > 'a'",
            "creation_time = 'a'",
            "name = abc",
            "foo = 'a'",
            "metrics.a = 'x'",
            "name = 'a' OR name = 'b'",
            "name IS NULL",
            "tags.x IN ('a')",
            "name = 'a' AND",
        ] {
            assert!(
                parse_experiment_filter(bad, Dialect::Mlflow).is_err() || bad.ends_with("AND"),
                "{bad}"
            );
        }
        assert!(parse_experiment_filter("name = 'a' AND", Dialect::Kiroku).is_err());
    }
}
