//! The syntax tree of a parsed filter or sort order.
//!
//! The parser produces trees that are already type-checked (metric comparisons carry numbers,
//! `IS NULL` only on nullable fields, ...), so the SQL compiler can translate them directly.
//! Every type prints back as query text through `Display`; parsing that text again yields an
//! equal tree, which makes `Display` usable to normalise what a user typed.

use std::fmt;

/// A boolean filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All of the parts hold (`a and b and c`). An empty list is true.
    And(Vec<Expr>),
    /// Any of the parts holds (`a or b`). An empty list is false.
    Or(Vec<Expr>),
    /// `not e`.
    Not(Box<Expr>),
    /// `field = value`, `field < value`, ...
    Compare {
        field: RunField,
        op: CmpOp,
        value: Literal,
    },
    /// `field [NOT] LIKE 'pattern'` or `field [NOT] ILIKE 'pattern'` (SQL `%` and `_` wildcards).
    Like {
        field: RunField,
        pattern: String,
        case_insensitive: bool,
        negated: bool,
    },
    /// `field [NOT] IN (v1, v2, ...)`.
    In {
        field: RunField,
        values: Vec<Literal>,
        negated: bool,
    },
    /// `field IS [NOT] NULL`: the run lacks (or has) the key.
    IsNull { field: RunField, negated: bool },
    /// A bare word or quoted string with no operator: the run's name, or any of its tag keys or
    /// values, contains the text, ignoring case.
    Contains(String),
}

impl Expr {
    /// Every field the expression refers to, in the order written (repeats included).
    pub fn fields(&self) -> Vec<&RunField> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a RunField>) {
        match self {
            Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| p.collect_fields(out)),
            Expr::Not(inner) => inner.collect_fields(out),
            Expr::Compare { field, .. }
            | Expr::Like { field, .. }
            | Expr::In { field, .. }
            | Expr::IsNull { field, .. } => out.push(field),
            Expr::Contains(_) => {}
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// Whether `left <op> right` holds.
    pub fn holds<T: PartialOrd + ?Sized>(self, left: &T, right: &T) -> bool {
        match self {
            CmpOp::Eq => left == right,
            CmpOp::Ne => left != right,
            CmpOp::Lt => left < right,
            CmpOp::Le => left <= right,
            CmpOp::Gt => left > right,
            CmpOp::Ge => left >= right,
        }
    }

    /// The operator as SQL (and query) text.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A literal value on the right of an operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A quoted string (quotes removed, doubled quotes undone).
    Str(String),
    /// An unquoted number, or `NaN` / `inf` / `-inf` (metrics only). `text` is the source
    /// spelling, used when the number is compared with text (e.g. a tag value).
    Number { value: f64, text: String },
}

impl Literal {
    /// Builds a number literal from its text, if the text is a plain decimal number
    /// (`12`, `-0.5`, `1e-3`, `.5`). `NaN` and `inf` are not plain numbers.
    pub fn number(text: &str) -> Option<Literal> {
        parse_decimal(text).map(|value| Literal::Number {
            value,
            text: text.to_string(),
        })
    }

    /// The value as a number: an unquoted number, or a quoted string that is entirely a plain
    /// decimal number (`'0.01'`, `'1e-2'`).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Literal::Number { value, .. } => Some(*value),
            Literal::Str(s) => parse_decimal(s),
        }
    }

    /// The value as text: a string's contents or a number's source spelling.
    pub fn as_text(&self) -> &str {
        match self {
            Literal::Str(s) => s,
            Literal::Number { text, .. } => text,
        }
    }
}

/// Parses a plain decimal number: optional sign, digits with an optional fraction (at least
/// one digit overall), optional exponent. Rejects `NaN`, `inf`, hex, spaces and the empty string.
pub fn parse_decimal(s: &str) -> Option<f64> {
    if decimal_len(s) == s.len() && !s.is_empty() {
        s.parse::<f64>().ok()
    } else {
        None
    }
}

/// Length in bytes of the longest plain decimal number at the start of `s` (0 when none).
pub(crate) fn decimal_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        let frac_start = i + 1;
        let mut j = frac_start;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if digits + (j - frac_start) > 0 {
            digits += j - frac_start;
            i = j;
        }
    }
    if digits == 0 {
        return 0;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let exp_start = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    i
}

/// The part of a run a filter condition or sort key refers to (a metric, param, tag, attribute
/// or dataset field), as opposed to the TUI's text fields that take typing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RunField {
    /// A metric's latest value (`metrics.key`).
    Metric(String),
    /// A parameter (`params.key`).
    Param(String),
    /// A tag (`tags.key`).
    Tag(String),
    /// A column of the run itself (`status`, `attributes.start_time`, ...).
    Attribute(Attribute),
    /// A field of one of the run's dataset inputs (`datasets.name`, ...).
    Dataset(DatasetField),
}

/// Run attributes usable in filters and sort orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attribute {
    /// `run_id` / `id`: the 32-hex public id.
    RunId,
    /// `run_name` / `name`.
    RunName,
    /// `user_id` / `user`.
    User,
    /// `status`: queued, running, finished, failed, killed, lost (compared ignoring case).
    Status,
    /// `start_time` / `created`: ms since the Unix epoch.
    StartTime,
    /// `end_time`: ms since the Unix epoch; missing while the run is active.
    EndTime,
    /// `experiment`: the experiment's name.
    Experiment,
    /// `host`: the machine the run ran on; may be missing.
    Host,
    /// `parent_id`: the parent run's 32-hex id; missing for top-level runs.
    ParentId,
    /// `artifact_uri`: where the run's artifacts live, as the MLflow API shows it
    /// (`mlflow-artifacts:/<experiment id>/<run id>/artifacts`).
    ArtifactUri,
}

impl Attribute {
    /// Every attribute, in the order used in help and error messages.
    pub const ALL: [Attribute; 10] = [
        Attribute::RunId,
        Attribute::RunName,
        Attribute::User,
        Attribute::Status,
        Attribute::StartTime,
        Attribute::EndTime,
        Attribute::Experiment,
        Attribute::Host,
        Attribute::ParentId,
        Attribute::ArtifactUri,
    ];

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Attribute::RunId => "run_id",
            Attribute::RunName => "run_name",
            Attribute::User => "user_id",
            Attribute::Status => "status",
            Attribute::StartTime => "start_time",
            Attribute::EndTime => "end_time",
            Attribute::Experiment => "experiment",
            Attribute::Host => "host",
            Attribute::ParentId => "parent_id",
            Attribute::ArtifactUri => "artifact_uri",
        }
    }

    /// Looks an attribute up by name or alias (`id`, `name`, `run name`, `user`, `created`),
    /// ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Attribute> {
        let a = match name.to_ascii_lowercase().as_str() {
            "run_id" | "id" => Attribute::RunId,
            "run_name" | "name" | "run name" => Attribute::RunName,
            "user_id" | "user" => Attribute::User,
            "status" => Attribute::Status,
            "start_time" | "created" => Attribute::StartTime,
            "end_time" => Attribute::EndTime,
            "experiment" => Attribute::Experiment,
            "host" => Attribute::Host,
            "parent_id" => Attribute::ParentId,
            "artifact_uri" => Attribute::ArtifactUri,
            _ => return None,
        };
        Some(a)
    }

    /// Whether the attribute holds a number (ms since epoch) rather than text.
    pub fn is_numeric(self) -> bool {
        matches!(self, Attribute::StartTime | Attribute::EndTime)
    }

    /// Whether a run may lack the attribute (so `IS NULL` makes sense).
    pub fn is_nullable(self) -> bool {
        matches!(
            self,
            Attribute::EndTime | Attribute::Host | Attribute::ParentId
        )
    }
}

/// Fields of a dataset input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetField {
    /// The dataset's name.
    Name,
    /// The dataset's content hash.
    Digest,
    /// The input's context (`training`, `eval`, ...).
    Context,
}

impl DatasetField {
    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            DatasetField::Name => "name",
            DatasetField::Digest => "digest",
            DatasetField::Context => "context",
        }
    }

    /// Looks a dataset field up by name, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<DatasetField> {
        match name.to_ascii_lowercase().as_str() {
            "name" => Some(DatasetField::Name),
            "digest" => Some(DatasetField::Digest),
            "context" => Some(DatasetField::Context),
            _ => None,
        }
    }
}

/// One key of a sort order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderKey {
    pub field: RunField,
    pub descending: bool,
}

/// Whether `c` may appear in an unquoted identifier after its first character.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '/' | '-' | ':' | '.')
}

fn fmt_key(f: &mut fmt::Formatter<'_>, key: &str) -> fmt::Result {
    if !key.is_empty() && key.chars().all(is_word_char) {
        f.write_str(key)
    } else {
        write!(f, "`{}`", key.replace('`', "``"))
    }
}

impl fmt::Display for RunField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunField::Metric(k) => {
                f.write_str("metrics.")?;
                fmt_key(f, k)
            }
            RunField::Param(k) => {
                f.write_str("params.")?;
                fmt_key(f, k)
            }
            RunField::Tag(k) => {
                f.write_str("tags.")?;
                fmt_key(f, k)
            }
            RunField::Attribute(a) => f.write_str(a.name()),
            RunField::Dataset(d) => write!(f, "datasets.{}", d.name()),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::Number { text, .. } => f.write_str(text),
        }
    }
}

impl fmt::Display for OrderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.field,
            if self.descending { "desc" } else { "asc" }
        )
    }
}

impl Expr {
    /// Writes `self`, parenthesised when it binds more loosely than `min_level`
    /// (0 = OR, 1 = AND, 2 = NOT and conditions).
    fn fmt_level(&self, f: &mut fmt::Formatter<'_>, min_level: u8) -> fmt::Result {
        let level = match self {
            Expr::Or(parts) if parts.len() != 1 => 0,
            Expr::And(parts) if parts.len() != 1 => 1,
            _ => 2,
        };
        if level < min_level {
            f.write_str("(")?;
            self.fmt_level(f, 0)?;
            return f.write_str(")");
        }
        match self {
            Expr::Or(parts) | Expr::And(parts) => {
                let (sep, child_level) = match self {
                    Expr::Or(_) => (" or ", 1),
                    _ => (" and ", 2),
                };
                if parts.is_empty() {
                    // The parser never builds empty lists; print an equivalent condition
                    // (the empty string is contained in every run name).
                    let always = matches!(self, Expr::And(_));
                    return f.write_str(if always { "''" } else { "not ''" });
                }
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    // A nested list of the same kind keeps its parentheses so that the text
                    // parses back to the same tree.
                    let same_kind = matches!(
                        (self, p),
                        (Expr::Or(_), Expr::Or(_)) | (Expr::And(_), Expr::And(_))
                    );
                    p.fmt_level(f, if same_kind { 2 } else { child_level })?;
                }
                Ok(())
            }
            Expr::Not(e) => {
                f.write_str("not ")?;
                e.fmt_level(f, 2)
            }
            Expr::Compare { field, op, value } => write!(f, "{field} {} {value}", op.as_str()),
            Expr::Like {
                field,
                pattern,
                case_insensitive,
                negated,
            } => write!(
                f,
                "{field} {}{} {}",
                if *negated { "not " } else { "" },
                if *case_insensitive { "ilike" } else { "like" },
                Literal::Str(pattern.clone())
            ),
            Expr::In {
                field,
                values,
                negated,
            } => {
                write!(f, "{field} {}in (", if *negated { "not " } else { "" })?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Expr::IsNull { field, negated } => {
                write!(f, "{field} is {}null", if *negated { "not " } else { "" })
            }
            Expr::Contains(text) => write!(f, "{}", Literal::Str(text.clone())),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_level(f, 0)
    }
}
