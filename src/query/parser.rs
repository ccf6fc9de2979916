//! Recursive-descent parser for filters and sort orders, with type checks.
//!
//! Grammar (keywords ignore case):
//!
//! ```text
//! filter  := or EOF
//! or      := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" or ")" | term
//! term    := field op | bare
//! op      := cmp value | ["not"] ("like" | "ilike") string | ["not"] "in" "(" value ("," value)* ")"
//!          | "is" ["not"] "null"
//! bare    := word | string | number           (not followed by an operator)
//! order   := [key ("," key)*] EOF
//! key     := field ["asc" | "desc"]
//! field   := word | word"."`quoted` | word"."'quoted' | `quoted`
//! ```

use super::ast::{Attribute, CmpOp, DatasetField, Expr, Literal, OrderKey, RunField};
use super::lexer::{is_infinity_word, lex, Tok, Token};
use super::{Dialect, QueryError};

/// Deepest nesting of parentheses and `not` accepted (keeps recursion bounded).
const MAX_DEPTH: usize = 64;
/// Most conditions (comparisons, LIKEs, INs, IS NULLs and bare words) in one filter: every
/// accepted filter must compile to SQL within SQLite's limits (see `search_sql`).
pub const MAX_CONDITIONS: usize = 1000;
/// Most values in one filter's `IN` lists together (each is one bound SQL parameter; SQLite
/// takes at most 32,766 per statement).
pub const MAX_LIST_VALUES: usize = 10_000;
/// Longest `LIKE`/`ILIKE` pattern in bytes: SQLite refuses longer ones
/// (`SQLITE_MAX_LIKE_PATTERN_LENGTH`).
pub const MAX_PATTERN_BYTES: usize = 50_000;
/// Most keys in one sort order (each is a join; SQLite joins at most 64 tables).
pub const MAX_ORDER_KEYS: usize = 16;

pub(crate) fn parse_filter(input: &str, dialect: Dialect) -> Result<Option<Expr>, QueryError> {
    if input.trim().is_empty() {
        return Ok(None);
    }
    let mut p = Parser::new(input, dialect)?;
    if dialect.ignores_stray_and() {
        p.drop_stray_ands();
        if p.peek().tok == Tok::Eof {
            return Ok(None);
        }
    }
    let e = p.parse_or(0)?;
    p.expect_end()?;
    Ok(Some(e))
}

pub(crate) fn parse_order(input: &str, dialect: Dialect) -> Result<Vec<OrderKey>, QueryError> {
    let mut p = Parser::new(input, dialect)?;
    let mut keys: Vec<OrderKey> = Vec::new();
    if p.peek().tok == Tok::Eof {
        return Ok(keys);
    }
    loop {
        let t = p.peek().clone();
        match &t.tok {
            Tok::Word(_) | Tok::Quoted(_) => {}
            Tok::Eof => {
                let prev = p.prev_text();
                return Err(QueryError::new(
                    t.column(),
                    format!("expected a field after '{prev}'"),
                ));
            }
            _ => {
                return Err(QueryError::new(
                    t.column(),
                    format!("expected a field, got '{}'", t.text),
                ))
            }
        }
        if keys.len() == MAX_ORDER_KEYS {
            return Err(QueryError::new(
                t.column(),
                format!("too many sort keys: an order holds at most {MAX_ORDER_KEYS}"),
            ));
        }
        let f = p.parse_field()?;
        if keys.iter().any(|k| k.field == f.field) {
            return Err(QueryError::new(
                f.column,
                format!("'{}' appears twice in the sort order", f.text),
            ));
        }
        let mut descending = false;
        if let Tok::Word(w) = &p.peek().tok {
            if w.eq_ignore_ascii_case("desc") {
                descending = true;
                p.next();
            } else if w.eq_ignore_ascii_case("asc") {
                p.next();
            }
        }
        keys.push(OrderKey {
            field: f.field,
            descending,
        });
        let t = p.peek().clone();
        match t.tok {
            Tok::Eof => return Ok(keys),
            Tok::Comma => {
                p.next();
            }
            _ => {
                return Err(QueryError::new(
                    t.column(),
                    format!("unexpected '{}' (expected asc, desc or ',')", t.text),
                ))
            }
        }
    }
}

/// A parsed field and where it was written.
struct ParsedField {
    field: RunField,
    /// Source text, for messages.
    text: String,
    column: usize,
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    /// Conditions parsed so far (bounded by `MAX_CONDITIONS`).
    conditions: usize,
    /// `IN` list values parsed so far (bounded by `MAX_LIST_VALUES`).
    list_values: usize,
}

fn is_kw(t: &Token, kw: &str) -> bool {
    matches!(&t.tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
}

const PREFIX_HELP: &str = "metrics, params, tags, attributes, datasets";

/// Resolves a type prefix (`metrics`, `param`, ...) to a constructor for the field kind.
fn prefix_kind(prefix: &str) -> Option<Kind> {
    let k = match prefix.to_ascii_lowercase().as_str() {
        "metric" | "metrics" => Kind::Metric,
        "param" | "params" | "parameter" | "parameters" => Kind::Param,
        "tag" | "tags" => Kind::Tag,
        "attribute" | "attributes" | "attr" | "run" => Kind::Attribute,
        "dataset" | "datasets" => Kind::Dataset,
        _ => return None,
    };
    Some(k)
}

#[derive(Clone, Copy)]
enum Kind {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

fn known_attributes() -> String {
    Attribute::ALL
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn make_field(kind: Kind, key: &str, key_column: usize) -> Result<RunField, QueryError> {
    Ok(match kind {
        Kind::Metric => RunField::Metric(key.to_string()),
        Kind::Param => RunField::Param(key.to_string()),
        Kind::Tag => RunField::Tag(key.to_string()),
        Kind::Attribute => match Attribute::from_name(key) {
            Some(a) => RunField::Attribute(a),
            None => {
                return Err(QueryError::new(
                    key_column,
                    format!("unknown attribute '{key}' (known: {})", known_attributes()),
                ))
            }
        },
        Kind::Dataset => match DatasetField::from_name(key) {
            Some(d) => RunField::Dataset(d),
            None => {
                return Err(QueryError::new(
                    key_column,
                    format!("unknown dataset field '{key}' (known: name, digest, context)"),
                ))
            }
        },
    })
}

/// What follows a field.
enum OpKind {
    Cmp(CmpOp),
    Like { ci: bool, negated: bool },
    In { negated: bool },
    IsNull { negated: bool },
}

impl Parser {
    fn new(input: &str, dialect: Dialect) -> Result<Parser, QueryError> {
        Ok(Parser {
            toks: lex(input, dialect)?,
            pos: 0,
            conditions: 0,
            list_values: 0,
        })
    }

    /// Removes `and`s that join nothing: at the start, at the end, or right after another
    /// `and` (`Dialect::ignores_stray_and`).
    fn drop_stray_ands(&mut self) {
        let is_and = |t: &Token| is_kw(t, "and");
        let mut kept: Vec<Token> = Vec::with_capacity(self.toks.len());
        for t in self.toks.drain(..) {
            let joins_nothing = is_and(&t) && kept.last().is_none_or(is_and);
            if !joins_nothing {
                kept.push(t);
            }
        }
        // `kept` ends with Eof; an `and` before it joins nothing either.
        while kept.len() >= 2 && is_and(&kept[kept.len() - 2]) {
            kept.remove(kept.len() - 2);
        }
        self.toks = kept;
    }

    fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }

    fn peek_at(&self, n: usize) -> &Token {
        let i = (self.pos + n).min(self.toks.len() - 1);
        &self.toks[i]
    }

    fn next(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    /// Source text of the token before the current one.
    fn prev_text(&self) -> String {
        if self.pos == 0 {
            String::new()
        } else {
            self.toks[self.pos - 1].text.clone()
        }
    }

    fn expect_end(&self) -> Result<(), QueryError> {
        let t = self.peek();
        match t.tok {
            Tok::Eof => Ok(()),
            _ => Err(QueryError::new(
                t.column(),
                format!("unexpected '{}'", t.text),
            )),
        }
    }

    fn parse_or(&mut self, depth: usize) -> Result<Expr, QueryError> {
        let mut parts = vec![self.parse_and(depth)?];
        while is_kw(self.peek(), "or") {
            self.next();
            parts.push(self.parse_and(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Expr::Or(parts)
        })
    }

    fn parse_and(&mut self, depth: usize) -> Result<Expr, QueryError> {
        let mut parts = vec![self.parse_unary(depth)?];
        while is_kw(self.peek(), "and") {
            self.next();
            parts.push(self.parse_unary(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Expr::And(parts)
        })
    }

    fn parse_unary(&mut self, depth: usize) -> Result<Expr, QueryError> {
        let t = self.peek().clone();
        if depth >= MAX_DEPTH {
            return Err(QueryError::new(
                t.column(),
                "too deeply nested (too many parentheses or 'not's)",
            ));
        }
        if is_kw(&t, "not") {
            self.next();
            return Ok(Expr::Not(Box::new(self.parse_unary(depth + 1)?)));
        }
        match &t.tok {
            Tok::LParen => {
                self.next();
                let e = self.parse_or(depth + 1)?;
                let close = self.peek();
                if close.tok != Tok::RParen {
                    return Err(QueryError::new(close.column(), "expected ')'"));
                }
                self.next();
                Ok(e)
            }
            Tok::Eof => {
                let prev = self.prev_text();
                Err(QueryError::new(
                    t.column(),
                    format!("expected a condition after '{prev}'"),
                ))
            }
            Tok::Word(w)
                if ["and", "or", "like", "ilike", "in", "is"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                Err(QueryError::new(
                    t.column(),
                    format!("expected a condition, got '{}'", t.text),
                ))
            }
            Tok::Word(_) | Tok::Quoted(_) | Tok::Str(_) | Tok::Number(_) => self.parse_term(),
            Tok::RParen | Tok::Comma | Tok::Op(_) => Err(QueryError::new(
                t.column(),
                format!("expected a condition, got '{}'", t.text),
            )),
        }
    }

    /// Whether the tokens from `n` ahead start an operator.
    fn op_follows(&self, n: usize) -> bool {
        let t = self.peek_at(n);
        if matches!(t.tok, Tok::Op(_)) {
            return true;
        }
        if ["like", "ilike", "in", "is"].iter().any(|k| is_kw(t, k)) {
            return true;
        }
        is_kw(t, "not") && {
            let u = self.peek_at(n + 1);
            ["like", "ilike", "in"].iter().any(|k| is_kw(u, k))
        }
    }

    /// How many tokens the field at the current position spans (1, or 2 for `tags.` followed
    /// directly by a quoted key).
    fn field_len(&self) -> usize {
        let t = self.peek();
        if let Tok::Word(w) = &t.tok {
            if let Some(prefix) = w.strip_suffix('.') {
                let u = self.peek_at(1);
                if !prefix.contains('.')
                    && u.start == t.end
                    && matches!(u.tok, Tok::Str(_) | Tok::Quoted(_))
                {
                    return 2;
                }
            }
        }
        1
    }

    fn parse_term(&mut self) -> Result<Expr, QueryError> {
        let t = self.peek().clone();
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(QueryError::new(
                t.column(),
                format!("too many conditions: a filter holds at most {MAX_CONDITIONS}"),
            ));
        }
        let flen = self.field_len();
        if !self.op_follows(flen) {
            // Not a condition: a bare word, or a field missing its operator.
            let next = self.peek_at(flen).clone();
            let is_field = match &t.tok {
                Tok::Quoted(_) => true,
                Tok::Word(w) => {
                    flen == 2
                        || w.split_once('.')
                            .is_some_and(|(p, _)| prefix_kind(p).is_some())
                }
                _ => false,
            };
            if is_field {
                // Report a bad field first (unknown attribute, missing key).
                let f = self.parse_field()?;
                return Err(QueryError::new(
                    next.column(),
                    format!("expected an operator after '{}'", f.text),
                ));
            }
            self.next();
            let text = match t.tok {
                Tok::Str(s) => s,
                _ => t.text,
            };
            return Ok(Expr::Contains(text));
        }
        if let Tok::Str(_) | Tok::Number(_) = t.tok {
            return Err(QueryError::new(
                t.column(),
                format!(
                    "expected a field before '{}', got the value {} (quote keys with backquotes, e.g. tags.`my key`)",
                    self.peek_at(1).text,
                    t.text
                ),
            ));
        }
        let f = self.parse_field()?;
        let (op, op_tok) = self.parse_op()?;
        match op {
            OpKind::Cmp(cmp) => {
                let (value, vt) = self.parse_value(&f, &op_tok)?;
                let value = check_value(&f, &value, &vt)?;
                Ok(Expr::Compare {
                    field: f.field,
                    op: cmp,
                    value,
                })
            }
            OpKind::Like { ci, negated } => {
                check_like(&f, &op_tok)?;
                let (value, vt) = self.parse_value(&f, &op_tok)?;
                let pattern = match value {
                    Literal::Str(s) if s.len() > MAX_PATTERN_BYTES => {
                        return Err(QueryError::new(
                            vt.column(),
                            format!(
                                "{} pattern is too long: at most {MAX_PATTERN_BYTES} bytes",
                                op_tok.text.to_uppercase()
                            ),
                        ))
                    }
                    Literal::Str(s) => s,
                    Literal::Number { .. } => {
                        return Err(QueryError::new(
                            vt.column(),
                            format!(
                                "{} needs a quoted pattern, got {}",
                                op_tok.text.to_uppercase(),
                                vt.text
                            ),
                        ))
                    }
                };
                Ok(Expr::Like {
                    field: f.field,
                    pattern,
                    case_insensitive: ci,
                    negated,
                })
            }
            OpKind::In { negated } => {
                let values = self.parse_list(&f, &op_tok)?;
                Ok(Expr::In {
                    field: f.field,
                    values,
                    negated,
                })
            }
            OpKind::IsNull { negated } => {
                check_is_null(&f)?;
                Ok(Expr::IsNull {
                    field: f.field,
                    negated,
                })
            }
        }
    }

    /// Parses a field: `word`, `type.key`, ``type.`key` ``, `type."key"`, or `` `attribute` ``.
    fn parse_field(&mut self) -> Result<ParsedField, QueryError> {
        let flen = self.field_len();
        let t = self.next();
        let column = t.column();
        if flen == 2 {
            let k = self.next();
            let key = match &k.tok {
                Tok::Str(s) | Tok::Quoted(s) => s.clone(),
                _ => unreachable!("field_len checked the key token"),
            };
            let Tok::Word(w) = &t.tok else {
                unreachable!("field_len checked the type token")
            };
            let prefix = &w[..w.len() - 1];
            let kind = prefix_kind(prefix).ok_or_else(|| unknown_prefix(prefix, column))?;
            let field = make_field(kind, &key, k.column())?;
            return Ok(ParsedField {
                field,
                text: format!("{}{}", t.text, k.text),
                column,
            });
        }
        let field = match &t.tok {
            Tok::Quoted(name) => make_field(Kind::Attribute, name, column)?,
            Tok::Word(w) => match w.split_once('.') {
                None => make_field(Kind::Attribute, w, column)?,
                Some((prefix, key)) => {
                    let kind = prefix_kind(prefix).ok_or_else(|| unknown_prefix(prefix, column))?;
                    let key_column = column + prefix.chars().count() + 1;
                    if key.is_empty() {
                        return Err(QueryError::new(
                            key_column,
                            format!("expected a key after '{w}'"),
                        ));
                    }
                    make_field(kind, key, key_column)?
                }
            },
            _ => {
                return Err(QueryError::new(
                    column,
                    format!("expected a field, got '{}'", t.text),
                ))
            }
        };
        Ok(ParsedField {
            field,
            text: t.text,
            column,
        })
    }

    /// Parses the operator after a field (the caller checked that one follows).
    /// Returns it with a token whose text names it in messages (e.g. `NOT LIKE`).
    fn parse_op(&mut self) -> Result<(OpKind, Token), QueryError> {
        let t = self.next();
        let op = match &t.tok {
            Tok::Op(c) => OpKind::Cmp(*c),
            _ if is_kw(&t, "like") => OpKind::Like {
                ci: false,
                negated: false,
            },
            _ if is_kw(&t, "ilike") => OpKind::Like {
                ci: true,
                negated: false,
            },
            _ if is_kw(&t, "in") => OpKind::In { negated: false },
            _ if is_kw(&t, "not") => {
                let u = self.next();
                let op = if is_kw(&u, "like") {
                    OpKind::Like {
                        ci: false,
                        negated: true,
                    }
                } else if is_kw(&u, "ilike") {
                    OpKind::Like {
                        ci: true,
                        negated: true,
                    }
                } else {
                    OpKind::In { negated: true }
                };
                let merged = Token {
                    tok: u.tok,
                    start: t.start,
                    end: u.end,
                    text: format!("{} {}", t.text, u.text),
                };
                return Ok((op, merged));
            }
            _ => {
                // IS [NOT] NULL
                let mut negated = false;
                let mut last = t.clone();
                if is_kw(self.peek(), "not") {
                    negated = true;
                    last = self.next();
                }
                let n = self.peek().clone();
                if !is_kw(&n, "null") {
                    let what = if negated { "IS NOT" } else { "IS" };
                    return Err(QueryError::new(
                        n.column(),
                        format!("expected NULL after '{what}'"),
                    ));
                }
                self.next();
                let merged = Token {
                    tok: last.tok,
                    start: t.start,
                    end: n.end,
                    text: format!("{} {}", t.text, n.text),
                };
                return Ok((OpKind::IsNull { negated }, merged));
            }
        };
        Ok((op, t))
    }

    /// Parses a value after `after` (an operator or ','). Unquoted `NaN` and `inf` become
    /// numbers here; `check_value` limits them to metrics.
    fn parse_value(
        &mut self,
        f: &ParsedField,
        after: &Token,
    ) -> Result<(Literal, Token), QueryError> {
        let t = self.peek().clone();
        let lit = match &t.tok {
            Tok::Str(s) => Literal::Str(s.clone()),
            Tok::Number(n) => match Literal::number(n) {
                Some(l) => l,
                None => Literal::Number {
                    // A signed infinity (the lexer only accepts those besides decimals).
                    value: if n.starts_with('-') {
                        f64::NEG_INFINITY
                    } else {
                        f64::INFINITY
                    },
                    text: n.clone(),
                },
            },
            Tok::Word(w) if w.eq_ignore_ascii_case("nan") => Literal::Number {
                value: f64::NAN,
                text: w.clone(),
            },
            Tok::Word(w) if is_infinity_word(w) => Literal::Number {
                value: f64::INFINITY,
                text: w.clone(),
            },
            Tok::Word(w) if !is_kw(&t, "and") && !is_kw(&t, "or") => {
                let message = match needs_number(&f.field) {
                    Some(msg) => format!("{msg}, got '{w}'"),
                    None => format!(
                        "text values need quotes: '{}' instead of {w}",
                        w.replace('\'', "''")
                    ),
                };
                return Err(QueryError::new(t.column(), message));
            }
            _ => {
                return Err(QueryError::new(
                    t.column(),
                    format!("expected a value after '{}'", after.text),
                ))
            }
        };
        self.next();
        Ok((lit, t))
    }

    /// Parses `( value, ... )` after IN.
    fn parse_list(&mut self, f: &ParsedField, in_tok: &Token) -> Result<Vec<Literal>, QueryError> {
        let open = self.peek().clone();
        if open.tok != Tok::LParen {
            return Err(QueryError::new(
                open.column(),
                format!("expected '(' after '{}'", in_tok.text),
            ));
        }
        self.next();
        let mut values = Vec::new();
        let mut after = open;
        loop {
            if self.peek().tok == Tok::RParen && values.is_empty() {
                return Err(QueryError::new(
                    self.peek().column(),
                    format!(
                        "expected a value in the {} list",
                        in_tok.text.to_uppercase()
                    ),
                ));
            }
            let (v, vt) = self.parse_value(f, &after)?;
            self.list_values += 1;
            if self.list_values > MAX_LIST_VALUES {
                return Err(QueryError::new(
                    vt.column(),
                    format!(
                        "too many values: the IN lists of a filter hold at most {MAX_LIST_VALUES} together"
                    ),
                ));
            }
            values.push(check_value(f, &v, &vt)?);
            let t = self.next();
            match t.tok {
                Tok::Comma => after = t,
                Tok::RParen => return Ok(values),
                Tok::Eof => return Err(QueryError::new(t.column(), "expected ')'")),
                _ => {
                    return Err(QueryError::new(
                        t.column(),
                        format!("expected ',' or ')', got '{}'", t.text),
                    ))
                }
            }
        }
    }
}

fn unknown_prefix(prefix: &str, column: usize) -> QueryError {
    QueryError::new(
        column,
        format!("unknown field type '{prefix}' (known: {PREFIX_HELP})"),
    )
}

/// For fields compared as numbers, the start of the message when a value is not a number.
fn needs_number(field: &RunField) -> Option<String> {
    match field {
        RunField::Metric(_) => Some("metric comparisons need a number".into()),
        RunField::Attribute(a @ (Attribute::StartTime | Attribute::EndTime)) => {
            Some(format!("{} needs {}", a.name(), super::time::TIME_FORMS))
        }
        _ => None,
    }
}

/// A quoted time compared with `start_time` or `end_time`, as the ms since the epoch that
/// the store holds (the number is also what the tree prints, so it reads back the same in
/// any zone).
fn time_value(field: &RunField, v: &Literal) -> Option<Literal> {
    let RunField::Attribute(Attribute::StartTime | Attribute::EndTime) = field else {
        return None;
    };
    let Literal::Str(text) = v else {
        return None;
    };
    let ms = super::time::parse_local_time_ms(text)?;
    Some(Literal::Number {
        value: ms as f64,
        text: ms.to_string(),
    })
}

/// Checks a comparison or IN value against the field's type; returns the value to store
/// (quoted numbers become numbers for metrics and times).
fn check_value(f: &ParsedField, v: &Literal, vt: &Token) -> Result<Literal, QueryError> {
    let special = matches!(v, Literal::Number { value, .. } if !value.is_finite());
    match needs_number(&f.field) {
        Some(msg) => {
            if let RunField::Metric(_) = f.field {
                if let Literal::Str(s) = v {
                    // Accept quoted 'NaN' / 'inf' / '-inf' as well as quoted decimals.
                    let t = s.trim_start_matches(['+', '-']);
                    if t.eq_ignore_ascii_case("nan") || is_infinity_word(t) {
                        let value = if t.eq_ignore_ascii_case("nan") {
                            f64::NAN
                        } else if s.starts_with('-') {
                            f64::NEG_INFINITY
                        } else {
                            f64::INFINITY
                        };
                        return Ok(Literal::Number {
                            value,
                            text: s.clone(),
                        });
                    }
                }
            } else if special {
                return Err(QueryError::new(
                    vt.column(),
                    format!("{msg}, got '{}'", vt.text),
                ));
            }
            match v.as_number() {
                Some(value) => Ok(Literal::Number {
                    value,
                    text: v.as_text().to_string(),
                }),
                None => time_value(&f.field, v).ok_or_else(|| {
                    QueryError::new(vt.column(), format!("{msg}, got '{}'", v.as_text()))
                }),
            }
        }
        None if special => Err(QueryError::new(
            vt.column(),
            format!(
                "{} is only allowed in metric comparisons (quote it to compare text)",
                vt.text
            ),
        )),
        None => Ok(v.clone()),
    }
}

fn check_like(f: &ParsedField, op: &Token) -> Result<(), QueryError> {
    let bad = match &f.field {
        RunField::Metric(_) => true,
        RunField::Attribute(a) => a.is_numeric(),
        _ => false,
    };
    if bad {
        return Err(QueryError::new(
            op.column(),
            format!(
                "{} works for text fields, not '{}'",
                op.text.to_uppercase(),
                f.text
            ),
        ));
    }
    Ok(())
}

fn check_is_null(f: &ParsedField) -> Result<(), QueryError> {
    let ok = match &f.field {
        RunField::Metric(_) | RunField::Param(_) | RunField::Tag(_) => true,
        RunField::Attribute(a) => a.is_nullable(),
        RunField::Dataset(_) => false,
    };
    if !ok {
        return Err(QueryError::new(
            f.column,
            format!(
                "IS NULL works for metrics, params, tags, end_time, host and parent_id only, not '{}'",
                f.text
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{parse_filter, parse_order};
    use super::*;

    fn m(k: &str) -> RunField {
        RunField::Metric(k.into())
    }
    fn p(k: &str) -> RunField {
        RunField::Param(k.into())
    }
    fn t(k: &str) -> RunField {
        RunField::Tag(k.into())
    }
    fn a(a: Attribute) -> RunField {
        RunField::Attribute(a)
    }
    fn s(v: &str) -> Literal {
        Literal::Str(v.into())
    }
    fn n(text: &str) -> Literal {
        Literal::number(text).unwrap()
    }
    fn cmp(field: RunField, op: CmpOp, value: Literal) -> Expr {
        Expr::Compare { field, op, value }
    }
    fn parse(input: &str) -> Expr {
        match parse_filter(input) {
            Ok(Some(e)) => e,
            other => panic!("{input:?} -> {other:?}"),
        }
    }

    #[test]
    fn accepted_filters() {
        use Attribute::*;
        use CmpOp::*;
        let cases: Vec<(&str, Expr)> = vec![
            (
                "metrics.val/acc > 0.9 and params.optimizer = 'adam'",
                Expr::And(vec![
                    cmp(m("val/acc"), Gt, n("0.9")),
                    cmp(p("optimizer"), Eq, s("adam")),
                ]),
            ),
            (
                "tags.mlflow.runName = 'x'",
                cmp(t("mlflow.runName"), Eq, s("x")),
            ),
            (
                "tags.`mlflow.runName` = 'x'",
                cmp(t("mlflow.runName"), Eq, s("x")),
            ),
            ("metrics.\"my metric\" > 1", cmp(m("my metric"), Gt, n("1"))),
            ("metrics.'a b' >= -2", cmp(m("a b"), Ge, n("-2"))),
            ("metrics.`a``b` < 1", cmp(m("a`b"), Lt, n("1"))),
            ("METRIC.x <= 1e-3", cmp(m("x"), Le, n("1e-3"))),
            ("metrics.x < +.5", cmp(m("x"), Lt, n("+.5"))),
            ("metrics.x = '0.5'", cmp(m("x"), Eq, n("0.5"))),
            ("metrics.loss-1:a != 3", cmp(m("loss-1:a"), Ne, n("3"))),
            ("metrics.x <> 3", cmp(m("x"), Ne, n("3"))),
            ("metrics.x == 3", cmp(m("x"), Eq, n("3"))),
            ("metrics.0acc>1", cmp(m("0acc"), Gt, n("1"))),
            ("Parameters.lr = 0.01", cmp(p("lr"), Eq, n("0.01"))),
            ("param.lr = '0.01'", cmp(p("lr"), Eq, s("0.01"))),
            ("parameter.a = \"it\"\"s\"", cmp(p("a"), Eq, s("it\"s"))),
            ("params.a = 'it''s'", cmp(p("a"), Eq, s("it's"))),
            ("tag.x != ''", cmp(t("x"), Ne, s(""))),
            ("tags.epochs = 10", cmp(t("epochs"), Eq, n("10"))),
            ("status = 'FINISHED'", cmp(a(Status), Eq, s("FINISHED"))),
            ("attributes.status = 'x'", cmp(a(Status), Eq, s("x"))),
            ("attribute.run_id = 'ab'", cmp(a(RunId), Eq, s("ab"))),
            ("attr.id = 'ab'", cmp(a(RunId), Eq, s("ab"))),
            ("run.name = 'ab'", cmp(a(RunName), Eq, s("ab"))),
            ("run_name = 'ab'", cmp(a(RunName), Eq, s("ab"))),
            ("`run_name` = 'ab'", cmp(a(RunName), Eq, s("ab"))),
            ("user = 'ab'", cmp(a(User), Eq, s("ab"))),
            ("USER_ID = 'ab'", cmp(a(User), Eq, s("ab"))),
            ("created > 1000", cmp(a(StartTime), Gt, n("1000"))),
            ("start_time >= '1000'", cmp(a(StartTime), Ge, n("1000"))),
            ("end_time < 5", cmp(a(EndTime), Lt, n("5"))),
            // Times with an offset are the same instant in any zone.
            (
                "start_time > '2026-11-01T00:00:00Z'",
                cmp(a(StartTime), Gt, n("1793491200000")),
            ),
            (
                "end_time <= \"2026-11-01 09:00+09:00\"",
                cmp(a(EndTime), Le, n("1793491200000")),
            ),
            ("experiment = 'vision'", cmp(a(Experiment), Eq, s("vision"))),
            ("host = 'gpu1'", cmp(a(Host), Eq, s("gpu1"))),
            ("parent_id = 'ab'", cmp(a(ParentId), Eq, s("ab"))),
            (
                "datasets.name = 'imagenet'",
                cmp(RunField::Dataset(DatasetField::Name), Eq, s("imagenet")),
            ),
            (
                "dataset.Digest = 'abc'",
                cmp(RunField::Dataset(DatasetField::Digest), Eq, s("abc")),
            ),
            (
                "name LIKE 'res%'",
                Expr::Like {
                    field: a(RunName),
                    pattern: "res%".into(),
                    case_insensitive: false,
                    negated: false,
                },
            ),
            (
                "tags.x not ilike '%A%'",
                Expr::Like {
                    field: t("x"),
                    pattern: "%A%".into(),
                    case_insensitive: true,
                    negated: true,
                },
            ),
            (
                "params.x NOT LIKE 'a'",
                Expr::Like {
                    field: p("x"),
                    pattern: "a".into(),
                    case_insensitive: false,
                    negated: true,
                },
            ),
            (
                "datasets.context iLike 'train%'",
                Expr::Like {
                    field: RunField::Dataset(DatasetField::Context),
                    pattern: "train%".into(),
                    case_insensitive: true,
                    negated: false,
                },
            ),
            (
                "status in ('finished', 'FAILED')",
                Expr::In {
                    field: a(Status),
                    values: vec![s("finished"), s("FAILED")],
                    negated: false,
                },
            ),
            (
                "params.lr NOT IN (0.1, 'x',\"y\")",
                Expr::In {
                    field: p("lr"),
                    values: vec![n("0.1"), s("x"), s("y")],
                    negated: true,
                },
            ),
            (
                "params.x is null",
                Expr::IsNull {
                    field: p("x"),
                    negated: false,
                },
            ),
            (
                "tags.x IS NOT NULL",
                Expr::IsNull {
                    field: t("x"),
                    negated: true,
                },
            ),
            (
                "metrics.x is null",
                Expr::IsNull {
                    field: m("x"),
                    negated: false,
                },
            ),
            (
                "parent_id IS NULL",
                Expr::IsNull {
                    field: a(ParentId),
                    negated: false,
                },
            ),
            ("resnet", Expr::Contains("resnet".into())),
            ("'lr sweep'", Expr::Contains("lr sweep".into())),
            ("\"lr sweep\"", Expr::Contains("lr sweep".into())),
            ("2024", Expr::Contains("2024".into())),
            ("resnet50.v2", Expr::Contains("resnet50.v2".into())),
            ("name", Expr::Contains("name".into())),
            (
                "baseline and metrics.acc > 0.5",
                Expr::And(vec![
                    Expr::Contains("baseline".into()),
                    cmp(m("acc"), Gt, n("0.5")),
                ]),
            ),
            (
                "not resnet",
                Expr::Not(Box::new(Expr::Contains("resnet".into()))),
            ),
            (
                "a or b and not c or d",
                Expr::Or(vec![
                    Expr::Contains("a".into()),
                    Expr::And(vec![
                        Expr::Contains("b".into()),
                        Expr::Not(Box::new(Expr::Contains("c".into()))),
                    ]),
                    Expr::Contains("d".into()),
                ]),
            ),
            (
                "(a OR b) AND c",
                Expr::And(vec![
                    Expr::Or(vec![Expr::Contains("a".into()), Expr::Contains("b".into())]),
                    Expr::Contains("c".into()),
                ]),
            ),
            (
                "NOT (metrics.a > 1 and metrics.b < 2)",
                Expr::Not(Box::new(Expr::And(vec![
                    cmp(m("a"), Gt, n("1")),
                    cmp(m("b"), Lt, n("2")),
                ]))),
            ),
            (
                "not not metrics.a>1",
                Expr::Not(Box::new(Expr::Not(Box::new(cmp(m("a"), Gt, n("1")))))),
            ),
            ("((a))", Expr::Contains("a".into())),
            ("  metrics.a=1  ", cmp(m("a"), Eq, n("1"))),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), want, "{input}");
            // Display round-trips.
            let shown = parse(input).to_string();
            assert_eq!(parse(&shown), want, "{input} -> {shown}");
        }
    }

    #[test]
    fn special_numbers_for_metrics() {
        for (input, want) in [
            ("metrics.x = NaN", f64::NAN),
            ("metrics.x = 'nan'", f64::NAN),
            ("metrics.x > -inf", f64::NEG_INFINITY),
            ("metrics.x < inf", f64::INFINITY),
            ("metrics.x < +Infinity", f64::INFINITY),
            ("metrics.x < '-inf'", f64::NEG_INFINITY),
        ] {
            match parse(input) {
                Expr::Compare {
                    value: Literal::Number { value, .. },
                    ..
                } => assert!(
                    value == want || (value.is_nan() && want.is_nan()),
                    "{input}"
                ),
                other => panic!("{input}: {other:?}"),
            }
        }
    }

    /// What only MLflow's dialect reads differently (`super::super::dialect`), and the aliases
    /// both read alike.
    #[test]
    fn dialects() {
        use super::super::{parse_filter_in, parse_order_in, Dialect::*};
        use CmpOp::{Eq, Gt};
        let one = |input: &str, d| match parse_filter_in(input, d) {
            Ok(Some(e)) => e,
            other => panic!("{input:?} -> {other:?}"),
        };
        // Quotes: kiroku undoes doubled quotes, MLflow keeps the text as written.
        assert_eq!(one("tags.x = 'it''s'", Kiroku), cmp(t("x"), Eq, s("it's")));
        assert_eq!(one("tags.x = 'it''s'", Mlflow), cmp(t("x"), Eq, s("it''s")));
        assert_eq!(one(r"tags.x = 'a\'b'", Mlflow), cmp(t("x"), Eq, s(r"a\'b")));
        assert_eq!(
            one(r#"tags.`a``b` = "q""""#, Mlflow),
            cmp(t("a``b"), Eq, s(r#"q"""#))
        );
        // Stray ANDs: ignored by MLflow only.
        for input in [
            "and metrics.a > 1",
            "metrics.a > 1 AND",
            "metrics.a > 1 and and and",
        ] {
            assert_eq!(one(input, Mlflow), cmp(m("a"), Gt, n("1")), "{input}");
            assert!(parse_filter_in(input, Kiroku).is_err(), "{input}");
        }
        assert_eq!(parse_filter_in(" AND ", Mlflow).unwrap(), None);
        // Aliases, in both.
        for d in [Kiroku, Mlflow] {
            assert_eq!(one("`metrics`.acc > 1", d), cmp(m("acc"), Gt, n("1")));
            assert_eq!(one("`tags`.`a b` = 'x'", d), cmp(t("a b"), Eq, s("x")));
            let by_name = cmp(a(Attribute::RunName), Eq, s("x"));
            assert_eq!(one("attributes.`run name` = 'x'", d), by_name);
            assert_eq!(one("`Run Name` = 'x'", d), by_name);
            assert_eq!(
                one("attributes.artifact_uri like 'x%'", d),
                Expr::Like {
                    field: a(Attribute::ArtifactUri),
                    pattern: "x%".into(),
                    case_insensitive: false,
                    negated: false,
                }
            );
            assert_eq!(
                parse_order_in("`params`.lr DESC, attributes.artifact_uri", d).unwrap(),
                vec![
                    OrderKey {
                        field: p("lr"),
                        descending: true
                    },
                    OrderKey {
                        field: a(Attribute::ArtifactUri),
                        descending: false
                    }
                ]
            );
        }
    }

    #[test]
    fn empty_filter_is_none() {
        assert_eq!(parse_filter("").unwrap(), None);
        assert_eq!(parse_filter(" \t\n").unwrap(), None);
    }

    #[test]
    fn rejected_filters() {
        let cases: Vec<(&str, usize, &str)> = vec![
            ("metrics.acc > ", 15, "expected a value after '>'"),
            ("metrics.acc >", 14, "expected a value after '>'"),
            ("metrics.acc >> 1", 14, "expected a value after '>'"),
            ("metrics.acc > )", 15, "expected a value after '>'"),
            ("metrics.acc > and", 15, "expected a value after '>'"),
            ("name = 'abc", 8, "unterminated string"),
            (
                "foo = 1",
                1,
                "unknown attribute 'foo' (known: run_id, run_name, user_id, status, start_time, end_time, experiment, host, parent_id, artifact_uri)",
            ),
            (
                "attributes.foo = 1",
                12,
                "unknown attribute 'foo' (known: run_id, run_name, user_id, status, start_time, end_time, experiment, host, parent_id, artifact_uri)",
            ),
            (
                "metric.a > 1 and bogus.x = 1",
                18,
                "unknown field type 'bogus' (known: metrics, params, tags, attributes, datasets)",
            ),
            (
                "datasets.size = 1",
                10,
                "unknown dataset field 'size' (known: name, digest, context)",
            ),
            ("(metrics.a > 1", 15, "expected ')'"),
            ("(metrics.a > 1 xyz", 16, "expected ')'"),
            ("metrics.a > 1 xyz", 15, "unexpected 'xyz'"),
            ("metrics.a > 1)", 14, "unexpected ')'"),
            ("resnet lr", 8, "unexpected 'lr'"),
            ("metrics.a > 'abc'", 13, "metric comparisons need a number, got 'abc'"),
            ("metrics.a > abc", 13, "metric comparisons need a number, got 'abc'"),
            ("params.a = adam", 12, "text values need quotes: 'adam' instead of adam"),
            (
                "status IS NULL",
                1,
                "IS NULL works for metrics, params, tags, end_time, host and parent_id only, not 'status'",
            ),
            (
                "datasets.name is not null",
                1,
                "IS NULL works for metrics, params, tags, end_time, host and parent_id only, not 'datasets.name'",
            ),
            ("params.a is 1", 13, "expected NULL after 'IS'"),
            ("params.a is not", 16, "expected NULL after 'IS NOT'"),
            ("metrics.a like 'x'", 11, "LIKE works for text fields, not 'metrics.a'"),
            (
                "start_time not ilike 'x'",
                12,
                "NOT ILIKE works for text fields, not 'start_time'",
            ),
            ("start_time > 'abc'", 14, "start_time needs a time ('2026-11-01', '2026-11-01 14:30', '2026-11-01T14:30:00+09:00') or ms since the epoch, got 'abc'"),
            ("end_time > inf", 12, "end_time needs a time ('2026-11-01', '2026-11-01 14:30', '2026-11-01T14:30:00+09:00') or ms since the epoch, got 'inf'"),
            (
                "params.x > NaN",
                12,
                "NaN is only allowed in metric comparisons (quote it to compare text)",
            ),
            ("name like 5", 11, "LIKE needs a quoted pattern, got 5"),
            ("status in 'a'", 11, "expected '(' after 'in'"),
            ("status in ()", 12, "expected a value in the IN list"),
            ("status not in ('a' 'b')", 20, "expected ',' or ')', got ''b''"),
            ("status in ('a',", 16, "expected a value after ','"),
            ("status in ('a'", 15, "expected ')'"),
            ("metrics.a", 10, "expected an operator after 'metrics.a'"),
            ("tags.`a b` 'x'", 12, "expected an operator after 'tags.`a b`'"),
            ("metrics.", 9, "expected a key after 'metrics.'"),
            ("metrics. = 1", 9, "expected a key after 'metrics.'"),
            ("metrics.a > 1 and", 18, "expected a condition after 'and'"),
            ("not", 4, "expected a condition after 'not'"),
            ("()", 2, "expected a condition, got ')'"),
            ("and a", 1, "expected a condition, got 'and'"),
            ("a or = 1", 6, "expected a condition, got '='"),
            (
                "'x' = 1",
                1,
                "expected a field before '=', got the value 'x' (quote keys with backquotes, e.g. tags.`my key`)",
            ),
            ("a ! b", 3, "unexpected '!' (did you mean '!='?)"),
            ("metrics.a > 1 & b", 15, "unexpected '&'"),
        ];
        for (input, column, message) in cases {
            let e = parse_filter(input).expect_err(input);
            assert_eq!((e.column, e.message.as_str()), (column, message), "{input}");
        }
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        let e = parse_filter(&deep).unwrap_err();
        assert!(e.message.contains("too deeply nested"), "{e}");
    }

    #[test]
    fn error_display_and_caret() {
        let input = "metrics.val/acc > ";
        let e = parse_filter(input).unwrap_err();
        assert_eq!(
            e.to_string(),
            "error at column 19: expected a value after '>'"
        );
        assert_eq!(
            e.render_caret(input),
            "metrics.val/acc >\n                  ^"
        );
        let input = "tags.é\t= x";
        let e = parse_filter(input).unwrap_err();
        assert_eq!(e.column, 10);
        assert_eq!(e.render_caret(input), "tags.é = x\n         ^");
        // A long filter shows a window around the column, the caret still under it.
        let input = format!("{}metrics.acc >", "metrics.a > 1 and ".repeat(500));
        let e = parse_filter(&input).unwrap_err();
        let caret = e.render_caret(&input);
        let (line, marks) = caret.split_once('\n').unwrap();
        assert!(
            line.starts_with('…') && line.chars().count() <= 162,
            "{line}"
        );
        assert!(line.ends_with("metrics.acc >"), "{line}");
        assert_eq!(marks.chars().count(), line.chars().count() + 1);
        let input = format!("x = 1 {}", "and metrics.a > 1 ".repeat(100));
        let e = parse_filter(&input).unwrap_err();
        let caret = e.render_caret(&input);
        let (line, marks) = caret.split_once('\n').unwrap();
        assert!(line.starts_with("x = 1") && line.ends_with('…'), "{line}");
        assert_eq!(marks, "^", "{caret}");
    }

    #[test]
    fn orders() {
        use Attribute::*;
        let k = |field: RunField, descending: bool| OrderKey { field, descending };
        assert_eq!(
            parse_order("metrics.val/acc desc, params.lr, start_time asc").unwrap(),
            vec![
                k(m("val/acc"), true),
                k(p("lr"), false),
                k(a(StartTime), false)
            ]
        );
        assert_eq!(
            parse_order("tags.`a b` DESC,name,created,datasets.name Asc,tags.mlflow.x").unwrap(),
            vec![
                k(t("a b"), true),
                k(a(RunName), false),
                k(a(StartTime), false),
                k(RunField::Dataset(DatasetField::Name), false),
                k(t("mlflow.x"), false),
            ]
        );
        assert_eq!(parse_order("").unwrap(), vec![]);
        assert_eq!(parse_order("  ").unwrap(), vec![]);
        let shown: Vec<String> = parse_order("metrics.`a b` desc, id")
            .unwrap()
            .iter()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(shown, vec!["metrics.`a b` desc", "run_id asc"]);
    }

    #[test]
    fn rejected_orders() {
        let cases: Vec<(&str, usize, &str)> = vec![
            (
                "metrics.a, params.b desc, metrics.a desc",
                27,
                "'metrics.a' appears twice in the sort order",
            ),
            ("name, run_name", 7, "'run_name' appears twice in the sort order"),
            ("metrics.a,", 11, "expected a field after ','"),
            (", a", 1, "expected a field, got ','"),
            (
                "metrics.a descending",
                11,
                "unexpected 'descending' (expected asc, desc or ',')",
            ),
            ("metrics.a desc desc", 16, "unexpected 'desc' (expected asc, desc or ',')"),
            (
                "bogus",
                1,
                "unknown attribute 'bogus' (known: run_id, run_name, user_id, status, start_time, end_time, experiment, host, parent_id, artifact_uri)",
            ),
            ("tags.`x", 6, "unterminated quoted name"),
            ("'x'", 1, "expected a field, got ''x''"),
        ];
        for (input, column, message) in cases {
            let e = parse_order(input).expect_err(input);
            assert_eq!((e.column, e.message.as_str()), (column, message), "{input}");
        }
    }
}
