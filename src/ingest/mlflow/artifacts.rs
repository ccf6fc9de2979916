//! Artifacts: where a run's files may be (MLflow's `artifact_uri`, local schemes only), which
//! of those folders may be copied (inside the source tree, not claimed by another run), and
//! the copy itself. A location outside the tree is recorded as a reference, never read.
use super::excerpt;
use super::report::{ImportReport, SkipReason};
use super::source::SourceRun;
use super::tree::{SourceTree, ARTIFACT_FOLDER};
use crate::error::Result;
use crate::model::Artifact;
use crate::store::Store;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// The folders a run's artifacts may be copied from, and those already copied.
pub(super) struct ArtifactSources<'a> {
    pub(super) tree: &'a SourceTree,
    /// Folders (canonical) whose files this import copied as some run's artifacts.
    pub(super) claimed: BTreeSet<PathBuf>,
}

impl ArtifactSources<'_> {
    /// The first of the run's candidate folders that may be copied, and why an earlier one
    /// that is there was refused (outside the tree, `..` in it, or overlapping).
    pub(super) fn locate(
        &self,
        run: &SourceRun,
    ) -> (Option<PathBuf>, Option<(SkipReason, String)>) {
        self.locate_among(&run.artifact_dirs)
    }

    /// The first of `candidates` that may be copied (see `locate`).
    pub(super) fn locate_among(
        &self,
        candidates: &[PathBuf],
    ) -> (Option<PathBuf>, Option<(SkipReason, String)>) {
        let mut refused = None;
        for candidate in candidates {
            if candidate.components().any(|c| c == Component::ParentDir) {
                refused.get_or_insert((
                    SkipReason::ArtifactsOutsideTree,
                    format!("{} names '..'", candidate.display()),
                ));
                continue;
            }
            let Ok(resolved) = fs::canonicalize(candidate) else {
                continue;
            };
            if !resolved.is_dir() {
                continue;
            }
            if !self.tree.contains(&resolved) {
                refused.get_or_insert((
                    SkipReason::ArtifactsOutsideTree,
                    format!("{} is outside the imported tree", resolved.display()),
                ));
                continue;
            }
            if self.tree.is_root(&resolved) || self.overlaps_claimed(&resolved) {
                refused.get_or_insert((
                    SkipReason::ArtifactsOverlap,
                    format!(
                        "{} is a store folder or overlaps artifacts copied for another run",
                        resolved.display()
                    ),
                ));
                continue;
            }
            return (Some(resolved), refused);
        }
        (None, refused)
    }

    /// Whether `dir`, one of its ancestors or one of its descendants was copied already.
    pub(super) fn overlaps_claimed(&self, dir: &Path) -> bool {
        dir.ancestors().any(|a| self.claimed.contains(a))
            || self
                .claimed
                .range(dir.to_path_buf()..)
                .next()
                .is_some_and(|next| next.starts_with(dir))
    }
}

/// Copies the run's artifacts from the first candidate folder inside the tree; when nothing is
/// copied, records the run's `artifact_uri` as a reference (a store copied from another machine,
/// a bucket, or a location outside the tree, which is never read).
pub(super) fn import_artifacts(
    store: &dyn Store,
    id: &str,
    run: &SourceRun,
    sources: &mut ArtifactSources,
    report: &mut ImportReport,
) -> Result<()> {
    let mut copied = 0u64;
    let (found, refused) = sources.locate(run);
    if let (Some(src), Some(run_dir)) = (found, store.run_dir(id)) {
        let files = sources.tree.files_under(&src, ARTIFACT_FOLDER, report);
        sources.claimed.insert(src);
        let dest_root = run_dir.join("artifacts");
        for (rel, path) in files {
            // Opened first so that an unreadable file is a warning, not a failed import.
            if let Err(e) = crate::fsutil::open_regular(&path) {
                report.skip(
                    SkipReason::Unreadable,
                    format!("{}: {e}; artifact skipped", path.display()),
                );
                continue;
            }
            let dest = dest_root.join(&rel);
            let (size, hash) = crate::fsutil::copy_hashed(&path, Some(&dest))?;
            store.add_artifact(
                id,
                &Artifact {
                    path: rel,
                    size: Some(size),
                    hash: Some(hash),
                    stored: "copied".into(),
                    location: None,
                },
            )?;
            copied += 1;
            report.artifact_bytes += size;
        }
    }
    report.artifacts_copied += copied;
    if copied > 0 {
        return Ok(());
    }
    let location = run.artifact_uri.clone().filter(|u| !u.is_empty());
    if let Some((reason, why)) = refused {
        report.skip(
            reason,
            format!(
                "run {id}: artifacts at {}: {why}; not copied{}",
                excerpt(location.as_deref().unwrap_or("its artifacts folder")),
                if location.is_some() {
                    ", recorded as a reference"
                } else {
                    ""
                }
            ),
        );
    }
    if let Some(location) = location {
        store.add_artifact(
            id,
            &Artifact {
                path: String::new(),
                size: None,
                hash: None,
                stored: "referenced".into(),
                location: Some(location),
            },
        )?;
        report.artifacts_referenced += 1;
    }
    Ok(())
}

/// Decodes `%XX` escapes of a URI path (invalid escapes are kept as they are).
pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Local folders an `artifact_uri` may refer to, best first. `base` is the folder that
/// relative locations are taken from (the one holding `mlflow.db` or `mlruns/`).
///
/// - `file:///abs/path` and `/abs/path`: that path; when it is not there (a store copied from
///   another machine), the part from its last `mlruns`/`mlartifacts` component on, under `base`.
/// - `mlflow-artifacts:/<exp>/<run>/artifacts`: `base/mlartifacts/<exp>/<run>/artifacts`
///   (where `mlflow server --serve-artifacts` keeps them by default).
/// - a relative path: under `base`.
/// - any other scheme (`s3://`, `gs://`, ...): nothing local.
pub(crate) fn artifact_candidates(uri: &str, base: &Path) -> Vec<PathBuf> {
    let uri = uri.trim();
    if uri.is_empty() {
        return Vec::new();
    }
    if let Some(rest) = uri.strip_prefix("mlflow-artifacts:") {
        // mlflow-artifacts:/1/abc/artifacts or mlflow-artifacts://host:port/1/abc/artifacts
        let path = match rest.strip_prefix("//") {
            Some(with_host) => with_host.find('/').map_or("", |i| &with_host[i..]),
            None => rest,
        };
        let rel = percent_decode(path.trim_start_matches('/'));
        return vec![base.join("mlartifacts").join(rel)];
    }
    let local = if let Some(rest) = uri.strip_prefix("file:") {
        // file:///abs, file://localhost/abs, file:/abs
        let path = match rest.strip_prefix("//") {
            Some(with_host) => with_host.find('/').map_or("", |i| &with_host[i..]),
            None => rest,
        };
        percent_decode(path)
    } else if uri.contains("://") || looks_like_scheme(uri) {
        return Vec::new();
    } else {
        uri.to_string()
    };
    let path = PathBuf::from(&local);
    if path.is_relative() {
        return vec![base.join(path)];
    }
    let mut out = vec![path.clone()];
    let components: Vec<_> = path.components().collect();
    if let Some(pos) = components.iter().rposition(|c| {
        let s = c.as_os_str();
        s == "mlruns" || s == "mlartifacts"
    }) {
        let tail: PathBuf = components[pos..].iter().collect();
        out.push(base.join(tail));
    }
    out
}

/// `dbfs:/x`, `s3:bucket` and the like: a scheme of two or more letters before a colon.
pub(super) fn looks_like_scheme(s: &str) -> bool {
    match s.find(':') {
        Some(i) if i >= 2 => s[..i]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_uris_resolve_to_local_candidates() {
        let base = Path::new("/data/proj");
        assert_eq!(
            artifact_candidates("mlflow-artifacts:/1/abc/artifacts", base),
            vec![PathBuf::from("/data/proj/mlartifacts/1/abc/artifacts")]
        );
        assert_eq!(
            artifact_candidates("mlflow-artifacts://h:5000/1/abc/artifacts", base),
            vec![PathBuf::from("/data/proj/mlartifacts/1/abc/artifacts")]
        );
        assert_eq!(
            artifact_candidates("file:///home/a/mlruns/1/abc/artifacts", base),
            vec![
                PathBuf::from("/home/a/mlruns/1/abc/artifacts"),
                PathBuf::from("/data/proj/mlruns/1/abc/artifacts")
            ]
        );
        assert_eq!(
            artifact_candidates("file:///home/my%20dir/x", base),
            vec![PathBuf::from("/home/my dir/x")]
        );
        assert_eq!(
            artifact_candidates("./mlruns/1/abc/artifacts", base),
            vec![PathBuf::from("/data/proj/./mlruns/1/abc/artifacts")]
        );
        assert!(artifact_candidates("s3://bucket/1/abc/artifacts", base).is_empty());
        assert!(artifact_candidates("dbfs:/databricks/mlflow/1", base).is_empty());
    }
}
