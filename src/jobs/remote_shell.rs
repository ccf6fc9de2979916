//! Running shell scripts on another box with the system `ssh`, and quoting for them.
//!
//! `ssh` joins its remote command's words with spaces and the remote login shell parses the
//! result again (`ssh host printf '%s' 'a b'` prints `ab`), so every word kiroku sends is quoted
//! once for a POSIX shell here ([`quote`], [`join`]): wrapped in single quotes, a `'` written as
//! `'\''`. A NUL byte cannot be in any argument of any program, so it is refused with an error.
//!
//! [`Ssh`] runs scripts on a host: `BatchMode` (never a password or host-key prompt, so nothing
//! hangs), timeouts for a dead host or link, and a shared connection (`ControlMaster`) under a
//! private per-user folder so that polling a job every second does not pay a login each time.
//! A script is sent on standard input to the remote `sh -s`, so the user's login shell (bash,
//! zsh, fish) only ever sees those two words and the script is free of length limits.
//! Used by the ssh backend (`super::ssh`) and for a Slurm login node (`ssh_host`).
use crate::error::{KirokuError, Result};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Characters that need no quotes anywhere in a shell word (`=` is left out: a first word
/// `A=b` would be an assignment; `~` would expand at the start of a word).
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_@%+:,./-".contains(c)
}

/// `arg` as one POSIX shell word that reads back exactly as `arg`: as it is when it holds only
/// plain characters, else wrapped in single quotes (a `'` becomes `'\''`). Errors on a NUL byte.
pub fn quote(arg: &str) -> Result<String> {
    if arg.contains('\0') {
        return Err(KirokuError::Invalid(format!(
            "{:?} contains a NUL byte, which no command argument can hold",
            arg
        )));
    }
    if !arg.is_empty() && arg.chars().all(is_plain) {
        return Ok(arg.to_string());
    }
    Ok(format!("'{}'", arg.replace('\'', r"'\''")))
}

/// The words `args` quoted and joined with spaces: a shell reads back exactly `args`. An error
/// names the argument that holds a NUL byte.
pub fn join<S: AsRef<str>>(args: &[S]) -> Result<String> {
    let mut words = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        words.push(quote(arg.as_ref()).map_err(|e| {
            KirokuError::Invalid(format!("argument {} of the command: {e}", i + 1))
        })?);
    }
    Ok(words.join(" "))
}

/// A remote path as a shell word: a leading `~/` (or a lone `~`) means the remote home
/// (`"$HOME"/…`), which quoting would otherwise keep literal; anything else is quoted.
pub fn quote_path(path: &str) -> Result<String> {
    if path == "~" {
        return Ok("\"$HOME\"".into());
    }
    match path.strip_prefix("~/") {
        Some("") => Ok("\"$HOME\"".into()),
        Some(rest) => Ok(format!("\"$HOME\"/{}", quote(rest)?)),
        None => quote(path),
    }
}

/// What a remote script left: its output and exit code.
#[derive(Debug, Clone)]
pub struct SshOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The script's exit code (`None`: `ssh` died of a signal).
    pub code: Option<i32>,
}

impl SshOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The last non-empty line of stderr (where ssh and scripts say what went wrong).
    pub fn stderr_line(&self) -> String {
        last_line(&self.stderr)
    }
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

/// The exit code `ssh` itself uses for its own failures (cannot connect, auth refused).
const SSH_FAILED: i32 = 255;

/// A host to run scripts on through the system `ssh`.
#[derive(Debug, Clone)]
pub struct Ssh {
    host: String,
    /// The target's own options (`-p 2222`, `-F file`, `-o ProxyJump=…`).
    extra_options: Vec<String>,
    /// Where the shared connections' sockets live; `None`: no sharing.
    control_dir: Option<PathBuf>,
}

impl Ssh {
    /// A runner for `host` (as `ssh` takes it: `user@box`, an alias of `~/.ssh/config`) with
    /// the target's `extra_options`. Errors on a host `ssh` would read as an option or that
    /// holds spaces or control characters.
    pub fn new(host: &str, extra_options: &[String]) -> Result<Ssh> {
        if host.is_empty() {
            return Err(KirokuError::Invalid("the ssh host is empty".into()));
        }
        if host.starts_with('-') {
            return Err(KirokuError::Invalid(format!(
                "ssh host '{host}' starts with '-', which ssh would read as an option"
            )));
        }
        if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(KirokuError::Invalid(format!(
                "ssh host {host:?} holds a space or control character"
            )));
        }
        Ok(Ssh {
            host: host.to_string(),
            extra_options: extra_options.to_vec(),
            control_dir: control_dir(),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// `ssh` with its options and the host, ready for a remote command word. `BatchMode` comes
    /// first so no option can turn prompts back on; the target's options come before kiroku's
    /// other defaults, so they can change them (ssh keeps the first value of an option).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-o", "BatchMode=yes"]);
        cmd.args(&self.extra_options);
        cmd.args([
            "-o",
            "ConnectTimeout=15",
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "ServerAliveCountMax=3",
        ]);
        if let Some(dir) = &self.control_dir {
            cmd.args(["-o", "ControlMaster=auto", "-o"])
                .arg(format!("ControlPath={}/%C", dir.display()))
                .args(["-o", "ControlPersist=60"]);
        }
        // `--`: the host is never an option, whatever it looks like.
        cmd.arg("--").arg(&self.host);
        cmd
    }

    /// Runs the POSIX shell `script` on the host (sent on standard input to `sh -s`). An error
    /// when `ssh` itself fails (unreachable host, refused login), naming the host and ssh's
    /// own words; the script's exit code otherwise, whatever it is.
    pub fn run(&self, script: &str) -> Result<SshOutput> {
        self.exec("sh -s", script.as_bytes())
    }

    /// Runs `script` (given to the remote `sh -c`) with `input` on its standard input.
    pub fn run_with_input(&self, script: &str, input: &[u8]) -> Result<SshOutput> {
        self.exec(&format!("sh -c {}", quote(script)?), input)
    }

    fn exec(&self, remote_command: &str, input: &[u8]) -> Result<SshOutput> {
        let mut child = self
            .command()
            .arg(remote_command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    KirokuError::Invalid(format!(
                        "ssh to '{}': the `ssh` command is not installed here (install openssh-client)",
                        self.host
                    ))
                } else {
                    KirokuError::io(format!("ssh to '{}': starting ssh", self.host), e)
                }
            })?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let input = input.to_vec();
        // A thread, so a script that prints much before it has read all its input cannot
        // deadlock against us; a broken pipe means the far side stopped reading, which the
        // exit status tells better.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let output = child
            .wait_with_output()
            .map_err(|e| KirokuError::io(format!("ssh to '{}'", self.host), e))?;
        let _ = writer.join();
        let out = SshOutput {
            stdout: output.stdout,
            stderr: output.stderr,
            code: output.status.code(),
        };
        if out.code == Some(SSH_FAILED) || out.code.is_none() {
            let why = out.stderr_line();
            return Err(KirokuError::Invalid(format!(
                "ssh to '{}' failed: {}",
                self.host,
                if why.is_empty() {
                    "ssh exited with no message".to_string()
                } else {
                    why
                }
            )));
        }
        Ok(out)
    }
}

/// The private folder for shared ssh connections (`/tmp/kiroku-ssh-UID`, short enough for a
/// socket path), made on first use; `None` when it cannot be made private to this user
/// (another user's, a link, loose permissions): then each call logs in anew.
fn control_dir() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let dir = std::env::temp_dir().join(format!("kiroku-ssh-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    let private = meta.is_dir() && meta.uid() == uid && meta.permissions().mode() & 0o077 == 0;
    // The socket path must fit in a sockaddr_un (108 bytes); %C is 40 hex characters.
    (private && dir.as_os_str().len() < 60).then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `sh` reads back from `join(args)`: each word on its own, NUL-separated.
    fn through_sh(args: &[&str]) -> Vec<String> {
        let script = format!("printf '%s\\0' {}", join(args).unwrap());
        let out = Command::new("sh").args(["-c", &script]).output().unwrap();
        assert!(out.status.success(), "{script}");
        let text = String::from_utf8(out.stdout).unwrap();
        let mut words: Vec<String> = text.split('\0').map(String::from).collect();
        assert_eq!(words.pop().as_deref(), Some(""));
        words
    }

    #[test]
    fn tricky_words_read_back_exactly() {
        let tricky = [
            "plain",
            "",
            "a b",
            "it's",
            "\"double\"",
            "$HOME",
            "$(id -u)",
            "`id`",
            "a;b",
            "line\nbreak",
            "*",
            "~",
            "A=b",
            "-n",
            "tab\there",
            "ünïcödé ✓",
            "'",
            "''",
            "back\\slash",
            "!bang",
            "#hash",
        ];
        assert_eq!(through_sh(&tricky), tricky);
    }

    #[test]
    fn plain_words_stay_unquoted_and_others_are_wrapped() {
        assert_eq!(quote("train.py").unwrap(), "train.py");
        assert_eq!(quote("--lr=0.1").unwrap(), "'--lr=0.1'");
        assert_eq!(quote("").unwrap(), "''");
        assert_eq!(quote("it's").unwrap(), r"'it'\''s'");
    }

    #[test]
    fn a_nul_byte_is_refused_naming_the_argument() {
        let err = join(&["ok", "bad\0arg"]).unwrap_err().to_string();
        assert!(err.contains("argument 2"), "{err}");
        assert!(err.contains("NUL"), "{err}");
    }

    #[test]
    fn home_paths_expand_remotely_and_others_do_not() {
        assert_eq!(quote_path("~/exp dir").unwrap(), "\"$HOME\"/'exp dir'");
        assert_eq!(quote_path("~").unwrap(), "\"$HOME\"");
        assert_eq!(quote_path("/srv/$x").unwrap(), "'/srv/$x'");
        let out = Command::new("sh")
            .args(["-c", &format!("printf %s {}", quote_path("~/a b").unwrap())])
            .env("HOME", "/h")
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"/h/a b");
    }

    #[test]
    fn hosts_that_ssh_would_misread_are_refused() {
        assert!(Ssh::new("-oProxyCommand=evil", &[]).is_err());
        assert!(Ssh::new("a b", &[]).is_err());
        assert!(Ssh::new("", &[]).is_err());
        assert!(Ssh::new("ana@gpu-box", &[]).is_ok());
    }
}
