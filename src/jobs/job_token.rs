//! A job's token as it travels with the job (see `models::job_tokens`, which mints them for a
//! token-protected `kiroku serve`'s jobs): the variable naming the file that holds it, and the
//! reading of that file by a backend that runs the job elsewhere (ssh, Slurm) and puts the
//! secret in a private file there.
use crate::error::{KirokuError, Result};

/// The variable a job finds its token file's path in.
pub const TOKEN_FILE_VARIABLE: &str = "KIROKU_JOB_TOKEN_FILE";

/// The secret of a job's token, read from the file its environment names
/// (`KIROKU_JOB_TOKEN_FILE`, on the box that launches it), when it was given one: what a
/// backend that runs the job elsewhere (ssh, Slurm) puts in a private file there. A token is one
/// word of letters, digits, `_` and `-` (anything else could end the here-document that carries
/// it to an ssh host). A file that is gone (its token revoked with the job a rerun copied the
/// environment of) gives none.
pub fn secret_of_job(env: &[(String, String)]) -> Result<Option<String>> {
    let Some((_, file)) = env.iter().find(|(name, _)| name == TOKEN_FILE_VARIABLE) else {
        return Ok(None);
    };
    let secret = match std::fs::read_to_string(file) {
        Ok(secret) => secret,
        // Revoked with its job (a rerun's copy of the environment): no token to give.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(KirokuError::io(
                format!("reading the job's token {file}"),
                e,
            ))
        }
    };
    let secret = secret.trim();
    if secret.is_empty()
        || !secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(KirokuError::Invalid(format!(
            "the job's token in {file} is not a token"
        )));
    }
    Ok(Some(secret.to_string()))
}
