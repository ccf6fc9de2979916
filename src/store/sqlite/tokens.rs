//! API tokens for `kiroku serve`, kept in the project store (migration 3).
//!
//! Tokens are a server-side concern: they are created and revoked with `kiroku token` on the
//! machine that holds the store file, so they live on `SqliteStore` rather than on the `Store`
//! trait (an HTTP client never manages the server's tokens). Only a SHA-256 of each token is
//! stored; the token itself is returned once by `create_token`.
use super::SqliteStore;
use crate::error::{KirokuError, Result};
use crate::model::{now_ms, Millis};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The prefix of every token, so leaked tokens are easy to recognise in logs and scanners.
pub const TOKEN_PREFIX: &str = "kik_";

/// What is stored about a token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: i64,
    pub user: String,
    pub read_only: bool,
    pub created_ms: Millis,
    pub revoked_ms: Option<Millis>,
}

/// The SHA-256 of a token, hex.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| KirokuError::Invalid(format!("no OS randomness for a token: {e}")))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{TOKEN_PREFIX}{hex}"))
}

fn info_of(r: &rusqlite::Row) -> rusqlite::Result<TokenInfo> {
    Ok(TokenInfo {
        id: r.get(0)?,
        user: r.get(1)?,
        read_only: r.get(2)?,
        created_ms: r.get(3)?,
        revoked_ms: r.get(4)?,
    })
}

const COLUMNS: &str = "id, user, read_only, created_ms, revoked_ms";

impl SqliteStore {
    /// Makes a token for `user`; returns what is stored and the token (shown once).
    pub fn create_token(&self, user: &str, read_only: bool) -> Result<(TokenInfo, String)> {
        let user = user.trim();
        if user.is_empty() {
            return Err(KirokuError::Invalid("a token needs a user name".into()));
        }
        let secret = new_secret()?;
        let hash = token_hash(&secret);
        let id = self.write(|tx| {
            tx.execute(
                "INSERT INTO api_tokens (user, hash, read_only, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![user, hash, read_only, now_ms()],
            )?;
            Ok(tx.last_insert_rowid())
        })?;
        let info = self
            .tokens()?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| KirokuError::Database(format!("token {id} vanished after insert")))?;
        Ok((info, secret))
    }

    /// Every token ever made, revoked ones included, oldest first.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY id"))?;
            let rows = stmt.query_map([], info_of)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Revokes a token by id; revoking twice is not an error.
    pub fn revoke_token(&self, id: i64) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE api_tokens SET revoked_ms = coalesce(revoked_ms, ?1) WHERE id = ?2",
                params![now_ms(), id],
            )?;
            if n == 0 {
                return Err(KirokuError::NotFound(format!("no token with id {id}")));
            }
            Ok(())
        })
    }

    /// Every token with its stored hash (the server's authentication cache).
    pub fn tokens_with_hashes(&self) -> Result<Vec<(String, TokenInfo)>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!("SELECT hash, {COLUMNS} FROM api_tokens"))?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    TokenInfo {
                        id: r.get(1)?,
                        user: r.get(2)?,
                        read_only: r.get(3)?,
                        created_ms: r.get(4)?,
                        revoked_ms: r.get(5)?,
                    },
                ))
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The active token matching `token`, if any.
    pub fn token_lookup(&self, token: &str) -> Result<Option<TokenInfo>> {
        let hash = token_hash(token);
        self.read(|c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM api_tokens WHERE hash = ?1 AND revoked_ms IS NULL"
            ))?
            .query_row([hash], info_of)
            .optional()?)
        })
    }

    /// Whether any token is active (with none, the server accepts only loopback clients).
    pub fn has_active_tokens(&self) -> Result<bool> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE revoked_ms IS NULL)",
            )?
            .query_row([], |r| r.get(0))?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_hashed_and_revocable() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
        assert!(!store.has_active_tokens().unwrap());
        let (info, secret) = store.create_token("alice", true).unwrap();
        assert!(secret.starts_with(TOKEN_PREFIX) && secret.len() == 68);
        assert!(info.read_only && info.user == "alice");
        assert_eq!(store.token_lookup(&secret).unwrap(), Some(info.clone()));
        assert_eq!(store.token_lookup("kik_wrong").unwrap(), None);
        let stored: String = store
            .read(|c| Ok(c.query_row("SELECT hash FROM api_tokens", [], |r| r.get(0))?))
            .unwrap();
        assert_ne!(stored, secret);
        assert!(store.has_active_tokens().unwrap());
        store.revoke_token(info.id).unwrap();
        assert_eq!(store.token_lookup(&secret).unwrap(), None);
        assert!(!store.has_active_tokens().unwrap());
        assert!(store.revoke_token(99).is_err());
        assert!(store.create_token(" ", false).is_err());
    }
}
