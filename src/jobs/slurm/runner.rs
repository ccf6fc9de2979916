//! Where the Slurm commands run: on this box (it is a login node, or the cluster's client
//! tools and `SLURM_CONF` are here), or on a login node through `remote_shell::Ssh` (the
//! system `ssh` in BatchMode with a shared connection; each argument quoted once). Also reads
//! and writes the job's files there.
use crate::error::{KirokuError, Result};
use crate::jobs::remote_shell::{self, Ssh};
use std::io::{Read, Seek, SeekFrom, Write};
use std::process::{Command, Stdio};

/// Runs commands where Slurm's client tools are.
#[derive(Debug, Clone)]
pub enum Runner {
    Local,
    Ssh(Ssh),
}

/// What a command printed and how it exited.
#[derive(Debug)]
pub struct Ran {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub success: bool,
    /// `exit status: 3`, for messages.
    pub status: String,
}

impl Runner {
    /// Whether files written here are the job's files (no login node in between).
    pub fn is_local(&self) -> bool {
        matches!(self, Runner::Local)
    }

    /// Runs `argv` (with `stdin` fed to it) and returns what it printed, whatever its status;
    /// an error when it could not run (or ssh could not reach the login node).
    pub fn run(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<Ran> {
        match self {
            Runner::Local => self.run_here(argv, stdin),
            Runner::Ssh(ssh) => {
                let line = remote_shell::join(argv)?;
                let out = match stdin {
                    Some(bytes) => ssh.run_with_input(&line, bytes)?,
                    None => ssh.run(&line)?,
                };
                Ok(Ran {
                    success: out.success(),
                    status: match out.code {
                        Some(code) => format!("exit status: {code}"),
                        None => "killed by a signal".into(),
                    },
                    stdout: out.stdout,
                    stderr: out.stderr,
                })
            }
        }
    }

    fn run_here(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<Ran> {
        let mut child = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| KirokuError::io(format!("could not run {}", self.describe(argv)), e))?;
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(bytes)
                .map_err(|e| KirokuError::io(format!("writing to {}", self.describe(argv)), e))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| KirokuError::io(format!("waiting for {}", self.describe(argv)), e))?;
        Ok(Ran {
            success: out.status.success(),
            status: out.status.to_string(),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// Runs `argv` and returns its stdout; a non-zero exit is an error quoting its stderr.
    pub fn run_ok(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<String> {
        let out = self.run(argv, stdin)?;
        if !out.success {
            return Err(KirokuError::Invalid(format!(
                "{} failed ({}): {}",
                self.describe(argv),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `argv` as a user would type it (for messages).
    pub fn describe(&self, argv: &[&str]) -> String {
        let line = argv.join(" ");
        match self {
            Runner::Local => format!("`{line}`"),
            Runner::Ssh(ssh) => format!("`{line}` on {} (through ssh)", ssh.host()),
        }
    }

    /// Creates `path` (and its folder) with `bytes` in it.
    pub fn write_file(&self, dir: &str, path: &str, bytes: &[u8]) -> Result<()> {
        match self {
            Runner::Local => std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(path, bytes))
                .map_err(|e| KirokuError::io(format!("writing {path}"), e)),
            Runner::Ssh(_) => self
                .run_ok(
                    &[
                        "sh",
                        "-c",
                        "mkdir -p -- \"$1\" && cat > \"$2\"",
                        "sh",
                        dir,
                        path,
                    ],
                    Some(bytes),
                )
                .map(drop),
        }
    }

    /// Creates `path` (and its folder) with `secret` in it, readable by its owner only (the
    /// secret travels on ssh's standard input, never a command line).
    pub fn write_private_file(&self, dir: &str, path: &str, secret: &[u8]) -> Result<()> {
        match self {
            Runner::Local => {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::create_dir_all(dir)
                    .and_then(|()| {
                        std::fs::OpenOptions::new()
                            .write(true)
                            .create(true)
                            .truncate(true)
                            .mode(0o600)
                            .open(path)
                    })
                    .and_then(|mut file| file.write_all(secret))
                    .map_err(|e| KirokuError::io(format!("writing {path}"), e))
            }
            Runner::Ssh(_) => self
                .run_ok(
                    &[
                        "sh",
                        "-c",
                        "umask 077 && mkdir -p -- \"$1\" && cat > \"$2\"",
                        "sh",
                        dir,
                        path,
                    ],
                    Some(secret),
                )
                .map(drop),
        }
    }

    /// Up to `max` bytes of `path` from byte `offset` on; nothing when it does not exist (yet).
    pub fn read_from(&self, path: &str, offset: u64, max: u64) -> Result<Vec<u8>> {
        match self {
            Runner::Local => {
                let mut file = match crate::fsutil::open_regular(path.as_ref()) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => return Err(KirokuError::io(format!("opening {path}"), e)),
                };
                let mut bytes = Vec::new();
                file.seek(SeekFrom::Start(offset))
                    .and_then(|_| file.take(max).read_to_end(&mut bytes))
                    .map_err(|e| KirokuError::io(format!("reading {path}"), e))?;
                Ok(bytes)
            }
            Runner::Ssh(_) => {
                let (from, max) = ((offset + 1).to_string(), max.to_string());
                let script = "test -e \"$1\" || exit 0; tail -c +\"$2\" -- \"$1\" | head -c \"$3\"";
                let out = self.run(&["sh", "-c", script, "sh", path, &from, &max], None)?;
                if !out.success {
                    return Err(KirokuError::Invalid(format!(
                        "reading {path} through ssh failed ({}): {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    )));
                }
                Ok(out.stdout)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_files_are_read_from_an_offset_and_missing_ones_are_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.log").display().to_string();
        let folder = dir.path().join("sub").display().to_string();
        let runner = Runner::Local;
        assert!(runner.read_from(&path, 0, 10).unwrap().is_empty());
        runner.write_file(&folder, &path, b"hello world").unwrap();
        assert_eq!(runner.read_from(&path, 6, 100).unwrap(), b"world");
        assert_eq!(runner.read_from(&path, 0, 5).unwrap(), b"hello");
        assert!(runner.read_from(&path, 11, 5).unwrap().is_empty());
    }

    #[test]
    fn a_failing_command_names_itself_and_its_stderr() {
        let err = Runner::Local
            .run_ok(&["sh", "-c", "echo nope >&2; exit 3"], None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`sh -c") && err.contains("nope"), "{err}");
        let err = Runner::Local
            .run(&["kiroku-no-such-tool"], None)
            .unwrap_err();
        assert!(err.to_string().contains("kiroku-no-such-tool"), "{err}");
    }
}
