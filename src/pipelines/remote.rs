//! Stages on an ssh target: the stage's files go to a copy of the project on the host before
//! it runs, and its outputs come back to the workspace after it succeeds, so that they are
//! hashed, cached and written to `dvc.lock` as a local stage's are.
//!
//! The copy lives under the target's `workdir`, in `.kiroku/pipelines/<project>-<id>/` (`id`:
//! the first 12 hex digits of the sha256 of this host's name and the project's folder, so two
//! projects never share one). Before the stage runs, its dependencies and params files are sent
//! (one `tar` stream through `ssh`, replacing what was there) and its outputs removed there
//! (unless `persist`); the stage's command starts with `cd` into the copy (its `wdir` in it).
//! After it succeeds, its outputs come back the same way (an output missing on the host fails
//! the stage, naming it).
//!
//! Slurm targets run a job in its own workdir (the project's folder: clusters share their home
//! with their login node), so their outputs are in the workspace already and need no transfer.
use super::Stage;
use crate::config::{Config, TargetKind};
use crate::error::{KirokuError, Result};
use crate::jobs::remote_shell::{quote, Ssh};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// A project's copy on an ssh target's host.
pub struct RemoteProject {
    target: String,
    ssh: Ssh,
    /// The target's workdir as a shell word.
    workdir: String,
    /// The copy, relative to the workdir.
    folder: String,
}

impl RemoteProject {
    /// The copy of the project in `root` on `target`, or None when the target runs stages in
    /// the workspace itself (local, Slurm).
    pub fn for_target(config: &Config, target: &str, root: &Path) -> Result<Option<Self>> {
        if target == "local" {
            return Ok(None);
        }
        let resolved = crate::jobs::targets::resolve(config, Some(target))?;
        let c = &resolved.config;
        if c.kind != TargetKind::Ssh {
            return Ok(None);
        }
        let missing = |key: &str| {
            KirokuError::Invalid(format!(
                "target '{target}': ssh targets need `{key}` in [targets.{target}]"
            ))
        };
        let host = c.host.as_deref().ok_or_else(|| missing("host"))?;
        let workdir = c
            .workdir
            .as_deref()
            .filter(|w| !w.is_empty())
            .ok_or_else(|| missing("workdir"))?;
        let workdir = crate::jobs::ssh::workdir_word(workdir)?;
        let here = crate::process::host_name().unwrap_or_default();
        let digest = Sha256::digest(format!("{here}\n{}", root.display()).as_bytes());
        let id: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        let name: String = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(Some(RemoteProject {
            target: target.to_string(),
            ssh: Ssh::new(host, &c.ssh_options)
                .map_err(|e| KirokuError::Invalid(format!("target '{target}': {e}")))?,
            workdir,
            folder: format!(".kiroku/pipelines/{name}-{id}"),
        }))
    }

    /// The command that goes first in the stage's commands: into its `wdir` in the copy
    /// (relative to the target's workdir, where the job starts).
    pub fn cd_command(&self, stage: &Stage) -> Result<String> {
        let dir = if stage.wdir.is_empty() || stage.wdir == "." {
            self.folder.clone()
        } else {
            format!("{}/{}", self.folder, stage.wdir)
        };
        Ok(format!("cd {}", quote(&dir)?))
    }

    /// Sends the stage's dependencies, params files and `persist` outputs that exist here to
    /// the copy, and removes its other outputs there.
    pub fn push(&self, root: &Path, stage: &Stage) -> Result<()> {
        let mut paths: Vec<String> = stage
            .deps
            .iter()
            .map(|d| stage.path_from_root(&d.path))
            .chain(stage.params.iter().map(|p| stage.path_from_root(&p.file)))
            .chain(
                stage
                    .outs
                    .iter()
                    .filter(|o| o.persist)
                    .map(|o| stage.path_from_root(&o.path)),
            )
            .filter(|p| root.join(p).exists())
            .collect();
        paths.sort();
        paths.dedup();
        let removed: Vec<String> = stage
            .outs
            .iter()
            .filter(|o| !o.persist)
            .map(|o| stage.path_from_root(&o.path))
            .collect();
        let archive = if paths.is_empty() {
            Vec::new()
        } else {
            tar_create(root, &paths)?
        };
        let mut script = format!(
            "cd {} && mkdir -p {f} && cd {f}",
            self.workdir,
            f = quote(&self.folder)?
        );
        for path in paths.iter().chain(&removed) {
            script.push_str(&format!(" && rm -rf -- {}", quote(path)?));
        }
        if !paths.is_empty() {
            script.push_str(" && tar -xf -");
        }
        self.run("sending the stage's dependencies", &script, &archive)
            .map(|_| ())
    }

    /// Brings the stage's outputs back from the copy into `root` (each replacing what is
    /// here).
    pub fn fetch(&self, root: &Path, stage: &Stage) -> Result<()> {
        let outs: Vec<String> = stage
            .outs
            .iter()
            .map(|o| stage.path_from_root(&o.path))
            .collect();
        if outs.is_empty() {
            return Ok(());
        }
        let mut script = format!("cd {} && cd {}", self.workdir, quote(&self.folder)?);
        for out in &outs {
            let q = quote(out)?;
            script.push_str(&format!(
                " && {{ [ -e {q} ] || {{ echo \"output {} is missing on the host\" >&2; exit 3; }}; }}",
                out.replace(['"', '\\', '$', '`'], "_")
            ));
        }
        script.push_str(" && tar -cf - --");
        for out in &outs {
            script.push_str(&format!(" {}", quote(out)?));
        }
        let archive = self.run("fetching the stage's outputs", &script, &[])?;
        for out in &outs {
            super::cache::remove_path(&root.join(out))?;
        }
        tar_extract(root, &archive)
    }

    fn run(&self, what: &str, script: &str, input: &[u8]) -> Result<Vec<u8>> {
        let out = self
            .ssh
            .run_with_input(script, input)
            .map_err(|e| KirokuError::Invalid(format!("target '{}': {what}: {e}", self.target)))?;
        if !out.success() {
            return Err(KirokuError::Invalid(format!(
                "target '{}': {what} on '{}' failed: {}",
                self.target,
                self.ssh.host(),
                out.stderr_line()
            )));
        }
        Ok(out.stdout)
    }
}

/// A tar archive of `paths` (relative to `root`).
fn tar_create(root: &Path, paths: &[String]) -> Result<Vec<u8>> {
    let out = Command::new("tar")
        .arg("-C")
        .arg(root)
        .args(["-cf", "-", "--"])
        .args(paths)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| KirokuError::io("running tar", e))?;
    if !out.status.success() {
        return Err(KirokuError::Invalid(format!(
            "tar of {} failed: {}",
            paths.join(", "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

/// Unpacks a tar archive into `root`.
fn tar_extract(root: &Path, archive: &[u8]) -> Result<()> {
    let mut child = Command::new("tar")
        .arg("-C")
        .arg(root)
        .args(["-xf", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| KirokuError::io("running tar", e))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let written = stdin.write_all(archive);
    drop(stdin);
    let out = child
        .wait_with_output()
        .map_err(|e| KirokuError::io("running tar", e))?;
    if !out.status.success() || written.is_err() {
        return Err(KirokuError::Invalid(format!(
            "unpacking the stage's outputs into {} failed: {}",
            root.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}
