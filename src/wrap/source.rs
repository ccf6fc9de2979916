//! What a wrapped run records about its origin: git state, command line, host, user, and the
//! environment variables worth keeping (never secret-looking ones).
use crate::model::RunSource;
use crate::store::is_secret_name;
use std::path::Path;
use std::process::Command;

/// Diffs larger than this are cut (with a marker) so one run cannot bloat the store.
const MAX_DIFF_BYTES: usize = 2 << 20;

fn git(cwd: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `cwd` or a folder above it holds `.git` (a folder, or the file of a worktree or
/// submodule), or git is pointed elsewhere by `GIT_DIR`.
fn inside_a_repository(cwd: &Path) -> bool {
    std::env::var_os("GIT_DIR").is_some() || cwd.ancestors().any(|dir| dir.join(".git").exists())
}

/// Git commit, branch and dirty diff of `cwd` (all None outside a repository), and the command.
pub fn capture_source(cwd: &Path, command: &[String]) -> RunSource {
    let mut source = RunSource {
        command: command.to_vec(),
        cwd: Some(cwd.display().to_string()),
        ..Default::default()
    };
    // Outside any repository no git process is started at all (a queue of many small jobs
    // pays for every process); inside one, commit and branch come from one call.
    if !inside_a_repository(cwd) {
        return source;
    }
    let Some(revs) = git(cwd, &["rev-parse", "HEAD", "--abbrev-ref", "HEAD"]) else {
        return source;
    };
    let mut lines = revs.lines();
    source.git_commit = lines.next().map(|c| c.trim().to_string());
    source.git_branch = lines.next().map(|b| b.trim().to_string());
    let status = git(cwd, &["status", "--porcelain", "--untracked-files=no"]).unwrap_or_default();
    let dirty = !status.trim().is_empty();
    source.git_dirty = Some(dirty);
    if dirty {
        source.git_diff = git(cwd, &["diff", "HEAD"]).map(|mut d| {
            if d.len() > MAX_DIFF_BYTES {
                let mut cut = MAX_DIFF_BYTES;
                while !d.is_char_boundary(cut) {
                    cut -= 1;
                }
                d.truncate(cut);
                d.push_str("\n[kiroku: diff truncated]\n");
            }
            d
        });
    }
    source
}

/// Variables recorded by default, by exact name or prefix (`*`).
const DEFAULT_ENV: &[&str] = &[
    "CUDA_VISIBLE_DEVICES",
    "CUDA_*",
    "NVIDIA_VISIBLE_DEVICES",
    "SLURM_JOB_ID",
    "SLURM_*",
    "OMP_NUM_THREADS",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "CONDA_DEFAULT_ENV",
    "CONDA_PREFIX",
    "HOSTNAME",
    "SHELL",
    "LANG",
];

/// The environment worth recording: the defaults plus `extra` names, secrets never.
pub fn capture_environment(extra: &[String]) -> Vec<(String, String)> {
    capture_environment_of(std::env::vars(), extra)
}

/// `capture_environment` of the variables `vars` (a command's environment, built for it).
pub fn capture_environment_of(
    vars: impl IntoIterator<Item = (String, String)>,
    extra: &[String],
) -> Vec<(String, String)> {
    let wanted = |name: &str| {
        DEFAULT_ENV
            .iter()
            .map(|s| s.to_string())
            .chain(extra.iter().cloned())
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == pattern,
            })
    };
    let mut env: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(name, _)| wanted(name) && !is_secret_name(name))
        .collect();
    env.sort();
    env
}

/// This machine's host name.
pub fn host_name() -> Option<String> {
    crate::process::host_name()
}

/// The current user: `KIROKU_USER`, then `USER`/`LOGNAME`, then the password database.
pub fn user_name() -> String {
    for var in ["KIROKU_USER", "USER", "LOGNAME"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                return v;
            }
        }
    }
    // SAFETY: getpwuid returns a pointer into static storage or null; we copy the name at once.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if !pw.is_null() && !(*pw).pw_name.is_null() {
            return std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned();
        }
    }
    format!("uid{}", unsafe { libc::getuid() })
}

/// `--key value` and `--key=value` flags of a command line, as params. A flag followed by
/// another flag (or nothing) is a boolean switch and records `true`.
pub fn flag_params(args: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let Some(flag) = arg.strip_prefix("--") else {
            continue;
        };
        if flag.is_empty() {
            break; // `--` ends the options
        }
        let (key, value) = match flag.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => match args.get(i) {
                Some(next) if !next.starts_with("--") => {
                    i += 1;
                    (flag.to_string(), next.clone())
                }
                _ => (flag.to_string(), "true".to_string()),
            },
        };
        let valid_key = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
        if valid_key {
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value, // the last occurrence wins, as in most parsers
                None => out.push((key, value)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn flags_become_params() {
        let p = flag_params(&s(&[
            "python",
            "train.py",
            "--lr",
            "0.01",
            "--epochs=3",
            "--amp",
            "--seed",
            "-1",
            "pos",
        ]));
        assert_eq!(
            p,
            vec![
                ("lr".into(), "0.01".into()),
                ("epochs".into(), "3".into()),
                ("amp".into(), "true".into()),
                ("seed".into(), "-1".into())
            ]
        );
        assert!(flag_params(&s(&["x", "--", "--lr", "1"])).is_empty());
    }

    #[test]
    fn secrets_are_never_captured() {
        std::env::set_var("CUDA_API_KEY", "hunter2");
        std::env::set_var("CUDA_VISIBLE_DEVICES", "0");
        let env = capture_environment(&["MY_TOKEN".into()]);
        assert!(env.iter().any(|(k, _)| k == "CUDA_VISIBLE_DEVICES"));
        assert!(!env
            .iter()
            .any(|(k, _)| k.contains("KEY") || k.contains("TOKEN")));
    }
}
