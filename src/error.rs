//! The core error type. Every variant says what went wrong in words a user can act on;
//! `exit_code` sorts them into input errors (2) and failures (1).
use thiserror::Error;

#[derive(Debug, Error)]
pub enum KirokuError {
    /// An id, name or prefix that matches nothing.
    #[error("{0}")]
    NotFound(String),
    /// A prefix or name that matches several runs.
    #[error("'{reference}' is ambiguous; it matches {}:\n  {}", candidates.len(), candidates.join("\n  "))]
    Ambiguous {
        reference: String,
        candidates: Vec<String>,
    },
    /// Bad user input: a malformed value, key, file or argument.
    #[error("{0}")]
    Invalid(String),
    /// A filter or sort expression that does not parse.
    #[error("{message}\n{caret}")]
    Query { message: String, caret: String },
    /// The change conflicts with what is stored (an existing name, an immutable param).
    #[error("{0}")]
    Conflict(String),
    /// The acting user may not do this (another user's note).
    #[error("{0}")]
    Forbidden(String),
    #[error("the store at {path} has schema version {found}, newer than this kiroku supports ({supported}); upgrade kiroku")]
    SchemaTooNew {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("the store at {path} is not a usable kiroku database: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("no kiroku store found: {0}")]
    NoStore(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = KirokuError> = std::result::Result<T, E>;

impl KirokuError {
    /// 2 for usage and input errors, 1 for failures.
    pub fn exit_code(&self) -> i32 {
        match self {
            KirokuError::NotFound(_)
            | KirokuError::Ambiguous { .. }
            | KirokuError::Invalid(_)
            | KirokuError::Query { .. }
            | KirokuError::Conflict(_)
            | KirokuError::Forbidden(_)
            | KirokuError::NoStore(_) => 2,
            KirokuError::SchemaTooNew { .. }
            | KirokuError::Corrupt { .. }
            | KirokuError::Database(_)
            | KirokuError::Io { .. } => 1,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        KirokuError::Io {
            context: context.into(),
            source,
        }
    }

    /// A failed read of a file or stream the user gave (a config file, a note on stdin): text
    /// that is not UTF-8 is the user's input error (exit 2); anything else is an I/O failure.
    pub fn reading(context: impl Into<String>, source: std::io::Error) -> Self {
        let context = context.into();
        if source.kind() == std::io::ErrorKind::InvalidData {
            KirokuError::Invalid(format!("{context}: not UTF-8 text"))
        } else {
            KirokuError::io(context, source)
        }
    }
}

impl From<rusqlite::Error> for KirokuError {
    fn from(e: rusqlite::Error) -> Self {
        KirokuError::Database(e.to_string())
    }
}
