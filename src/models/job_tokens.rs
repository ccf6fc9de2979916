//! Credentials for the jobs a token-protected `kiroku serve` submits (a version's evaluation),
//! so that their MLflow clients can log back to it.
//!
//! Each job gets a token of its own, never the server admin's: minted as the job is submitted,
//! named for it (user `job:<what>`, so `kiroku token ls` shows whose it is), and revoked as soon
//! as the job ends (the server's registry thread looks every few seconds) or when the server
//! next starts, if it stopped first. The secret is never in the job's record, its environment
//! listing or its command line: it is written to a file only the server's user can read
//! (`<store>/job-tokens/<token id>`, mode 0600), the job is told the file's path
//! (`KIROKU_JOB_TOKEN_FILE`), and its command reads it into `MLFLOW_TRACKING_TOKEN` as it
//! starts. The file goes with the revocation. A job on an ssh or Slurm target gets the secret
//! in a file of the same kind where it runs (`secret_of_job`; the backends say where and how it
//! travels, never on a command line), removed as its command ends. A server without tokens
//! (loopback clients only) mints none: its jobs need none.
//!
//! A job's token may read anything but write only into its job's run (`server::job_scope`): the
//! run the job's supervisor creates as it starts, recorded on the job (`Job::run_id`) before the
//! command runs, which for an evaluation is the evaluation run its metrics come from. The token
//! is minted before the job exists, so it is bound to the job (`bind`), and the server finds the
//! run through the job (`job_of`) when the token writes: no run id has to be known at minting.
use crate::error::{KirokuError, Result};
use crate::model::JobId;
use crate::store::sqlite::SqliteStore;
use crate::store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use crate::jobs::job_token::{secret_of_job, TOKEN_FILE_VARIABLE};
pub use crate::model::JOB_TOKEN_USER_PREFIX;

/// What a job's command starts with to log with its token: MLflow's client reads
/// `MLFLOW_TRACKING_TOKEN`.
pub const EXPORT_TOKEN: &str =
    "export MLFLOW_TRACKING_TOKEN=\"$(cat \"$KIROKU_JOB_TOKEN_FILE\")\"; ";

/// A token issued for a job about to be submitted.
pub struct JobToken {
    pub id: i64,
    /// The file holding the secret (the job's `KIROKU_JOB_TOKEN_FILE`).
    pub file: PathBuf,
}

/// Issues and revokes the tokens of a server's jobs.
pub struct JobTokens {
    tokens: Arc<SqliteStore>,
    dir: PathBuf,
    /// Tokens issued and not yet revoked, with their job once it is known.
    issued: Mutex<Vec<(JobToken, Option<JobId>)>>,
}

impl JobTokens {
    /// The job tokens of a server whose tokens live in `tokens`; revokes those an earlier run
    /// of the server left (its jobs cannot reach this one's tokens anyway: they were told the
    /// earlier server's address) and removes their files.
    pub fn new(tokens: Arc<SqliteStore>) -> Result<Self> {
        let dir = tokens.dir().join("job-tokens");
        let this = JobTokens {
            tokens,
            dir,
            issued: Mutex::new(Vec::new()),
        };
        for left in this.tokens.tokens()? {
            if left.revoked_ms.is_none() && left.user.starts_with(JOB_TOKEN_USER_PREFIX) {
                this.revoke(&JobToken {
                    id: left.id,
                    file: this.dir.join(left.id.to_string()),
                })?;
            }
        }
        Ok(this)
    }

    /// A token for the job `what` (`eval model/3`), or None when the server takes no tokens.
    pub fn issue(&self, what: &str) -> Result<Option<JobToken>> {
        if !self.tokens.has_active_tokens()? {
            return Ok(None);
        }
        let (info, secret) = self
            .tokens
            .create_token(&format!("{JOB_TOKEN_USER_PREFIX}{what}"), false)?;
        let token = JobToken {
            id: info.id,
            file: self.dir.join(info.id.to_string()),
        };
        if let Err(e) = write_private(&self.dir, &token.file, &secret) {
            self.tokens.revoke_token(info.id)?;
            return Err(e);
        }
        self.lock().push((
            JobToken {
                id: token.id,
                file: token.file.clone(),
            },
            None,
        ));
        Ok(Some(token))
    }

    /// Records which job token `id` was issued for (once submitted): it is revoked when that
    /// job ends. A token whose job was never submitted is revoked at once.
    pub fn bind(&self, id: i64, job: Option<JobId>) -> Result<()> {
        let mut issued = self.lock();
        let Some(at) = issued.iter().position(|(t, _)| t.id == id) else {
            return Ok(());
        };
        match job {
            Some(job) => {
                issued[at].1 = Some(job);
                Ok(())
            }
            None => {
                let (token, _) = issued.remove(at);
                drop(issued);
                self.revoke(&token)
            }
        }
    }

    /// The job token `id` was issued for, once it is submitted (None: not a job token of this
    /// server's, or its job not submitted yet).
    pub fn job_of(&self, id: i64) -> Option<JobId> {
        self.lock()
            .iter()
            .find(|(token, _)| token.id == id)
            .and_then(|(_, job)| *job)
    }

    /// Revokes the tokens of jobs that have ended (or are gone).
    pub fn revoke_ended(&self, store: &dyn Store) -> Result<()> {
        let ended: Vec<JobToken> = {
            let mut issued = self.lock();
            let mut ended = Vec::new();
            let mut at = 0;
            while at < issued.len() {
                let over = issued[at]
                    .1
                    .is_some_and(|job| store.job(job).map_or(true, |j| j.status.is_terminal()));
                if over {
                    ended.push(issued.remove(at).0);
                } else {
                    at += 1;
                }
            }
            ended
        };
        for token in &ended {
            self.revoke(token)?;
        }
        Ok(())
    }

    fn revoke(&self, token: &JobToken) -> Result<()> {
        self.tokens.revoke_token(token.id)?;
        match std::fs::remove_file(&token.file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(KirokuError::io(
                format!("removing {}", token.file.display()),
                e,
            )),
            _ => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(JobToken, Option<JobId>)>> {
        self.issued.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Writes `secret` to `file` in `dir`, both readable by their owner only.
fn write_private(dir: &Path, file: &Path, secret: &str) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let failed = |e| KirokuError::io(format!("writing the job token {}", file.display()), e);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(failed)?;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map_err(failed)?;
    out.write_all(secret.as_bytes()).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_token_lives_as_long_as_its_job() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Arc::new(SqliteStore::open(dir.path(), false).unwrap());
        let tokens = JobTokens::new(Arc::clone(&sqlite)).unwrap();
        // No tokens: the server takes loopback clients only, and its jobs need none.
        assert!(tokens.issue("eval m/1").unwrap().is_none());
        let (admin, _) = sqlite.create_token("admin", false).unwrap();
        let token = tokens.issue("eval m/1").unwrap().unwrap();
        let secret = std::fs::read_to_string(&token.file).unwrap();
        let found = sqlite.token_lookup(&secret).unwrap().unwrap();
        assert_eq!(found.user, "job:eval m/1");
        assert_ne!(found.id, admin.id);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token.file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Its job is known once submitted (the server scopes its writes by it).
        assert_eq!(tokens.job_of(token.id), None);
        // Never submitted: revoked at once, its file gone.
        tokens.bind(token.id, None).unwrap();
        assert!(sqlite.token_lookup(&secret).unwrap().is_none());
        assert!(!token.file.exists());
        // Left by an earlier server: revoked when the next one starts.
        let left = tokens.issue("eval m/2").unwrap().unwrap();
        let left_secret = std::fs::read_to_string(&left.file).unwrap();
        drop(tokens);
        let restarted = JobTokens::new(Arc::clone(&sqlite)).unwrap();
        assert!(sqlite.token_lookup(&left_secret).unwrap().is_none());
        assert!(!left.file.exists());
        // What a backend running the job elsewhere reads: the secret, none once revoked.
        let env = |file: &Path| vec![(TOKEN_FILE_VARIABLE.to_string(), file.display().to_string())];
        let live = restarted.issue("eval m/3").unwrap().unwrap();
        let live_secret = std::fs::read_to_string(&live.file).unwrap();
        assert_eq!(secret_of_job(&env(&live.file)).unwrap(), Some(live_secret));
        restarted.bind(live.id, None).unwrap();
        assert_eq!(secret_of_job(&env(&live.file)).unwrap(), None);
        assert_eq!(secret_of_job(&[]).unwrap(), None);
        std::fs::write(dir.path().join("odd"), "not a\ntoken").unwrap();
        assert!(secret_of_job(&env(&dir.path().join("odd"))).is_err());
        // The admin's token is untouched by job tokens coming and going.
        let admin_now = sqlite
            .tokens()
            .unwrap()
            .into_iter()
            .find(|t| t.id == admin.id);
        assert!(admin_now.unwrap().revoked_ms.is_none());
    }
}
