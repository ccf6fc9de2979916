//! The source tree: the folders an import may read, and the only ways it reads them.
//!
//! An MLflow store copied from elsewhere is untrusted input: a run's `tags/x -> /etc`, a
//! `params/p -> ~/.ssh/id_rsa` or an `artifact_uri: /home/bob` must not make kiroku read files
//! outside the store and keep them where anyone with a token can fetch them. So every file the
//! importer opens is found through [`SourceTree`]:
//!
//! - **What the tree is.** `base` is the folder holding the store: PATH itself when it holds
//!   `mlruns/` or `mlflow.db`, the folder holding PATH when PATH is an `mlruns` folder or an
//!   `mlflow.db` file. The tree is `base/mlruns` (or the `mlruns` folder named as PATH) and
//!   `base/mlartifacts` (where `mlflow server --serve-artifacts` keeps artifacts), each taken
//!   after resolving links, and only where that resolution stays inside `base` (PATH itself is
//!   resolved: the user named it). An `mlflow.db` import has the same tree, found beside the
//!   database. Nothing else is part of it: not `base` itself (often a home folder), and not the
//!   `mlflow.db` file, which is opened as a database only.
//! - **Folder links are never followed** while walking; each is left out with a warning. A
//!   walk therefore visits each real folder once and cannot loop (a folder reached a second
//!   time through a bind mount is left out by its device and inode), and its depth and the
//!   entries it reads per folder are capped.
//! - **A file link is followed only when its target resolves inside the tree**; any other is
//!   left out with a warning and never opened.
//! - **Only regular files are opened**, without following a final link and without blocking
//!   (a FIFO planted as `params/p` cannot hang the import), and never read past a cap.
//! - **Artifact locations** (`artifact_uri`) are resolved the same way by the importer: one
//!   that resolves outside the tree, or names `..`, is recorded as a reference, not copied.
//!
//! Left as is: the window between a check and the open. A store that someone modifies *while*
//! it is imported could swap a checked folder for a link in between; importing a store that
//! is being rewritten under the importer is outside what this guards.
use super::report::{ImportReport, SkipReason};
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// How far one walk goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WalkLimits {
    /// Longest key (the `/`-joined path below the starting folder), in characters; a longer
    /// entry is left out, and a folder with a longer key is not entered.
    pub max_key_chars: usize,
    /// Deepest folder nesting below the starting folder.
    pub max_depth: usize,
    /// Most entries read from one folder.
    pub max_entries: usize,
}

/// `params/`, `tags/`, `metrics/`: keys are at most 250 characters (MLflow's limit and kiroku's),
/// which bounds the nesting too.
pub(crate) const KEY_FOLDER: WalkLimits = WalkLimits {
    max_key_chars: 250,
    max_depth: 128,
    max_entries: 100_000,
};

/// A run's artifact folder.
pub(crate) const ARTIFACT_FOLDER: WalkLimits = WalkLimits {
    max_key_chars: 4096,
    max_depth: 64,
    max_entries: 1_000_000,
};

/// Most entries read from an `mlruns` or experiment folder.
pub(crate) const MAX_STORE_ENTRIES: usize = 1_000_000;

/// Why an entry is not read: the reason it is counted under, and the words for the warning.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub reason: SkipReason,
    pub why: String,
}

impl Refusal {
    fn new(reason: SkipReason, why: impl Into<String>) -> Self {
        Refusal {
            reason,
            why: why.into(),
        }
    }

    /// Records the refusal of `path` as a warning (`what` says what it would have been).
    pub fn report(self, path: &Path, what: &str, report: &mut ImportReport) {
        report.skip(
            self.reason,
            format!("{}: {}; {what} skipped", path.display(), self.why),
        );
    }
}

/// What a path in the tree is, as far as the importer may use it.
#[derive(Debug)]
pub(crate) enum Entry {
    Missing,
    /// A real folder (not a link).
    Dir,
    /// A regular file to open at this path: the entry itself, or the resolved target of a
    /// file link that stays inside the tree.
    File(PathBuf),
    Refused(Refusal),
}

/// The folders an import may read (canonical paths).
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceTree {
    roots: Vec<PathBuf>,
}

impl SourceTree {
    /// A tree of these folders, which must be canonical (links resolved).
    pub fn new(roots: Vec<PathBuf>) -> Self {
        SourceTree { roots }
    }

    /// `base/name` when it is a folder (`want_dir`) or a file that stays inside `base` once
    /// links are resolved (`base` canonical): the path resolved. A link that leads out of
    /// `base` is left out with a warning.
    pub fn store_entry(
        base: &Path,
        name: &str,
        want_dir: bool,
        report: &mut ImportReport,
    ) -> Option<PathBuf> {
        let path = base.join(name);
        let meta = fs::symlink_metadata(&path).ok()?;
        let target = if meta.file_type().is_symlink() {
            let target = fs::canonicalize(&path).ok()?;
            if !target.starts_with(base) {
                report.skip(
                    SkipReason::LinkOutsideTree,
                    format!(
                        "{}: a link to {} outside {}; not imported (name the target itself to import it)",
                        path.display(),
                        target.display(),
                        base.display()
                    ),
                );
                return None;
            }
            target
        } else {
            path
        };
        let meta = fs::metadata(&target).ok()?;
        let wanted = if want_dir {
            meta.is_dir()
        } else {
            meta.is_file()
        };
        wanted.then_some(target)
    }

    /// Whether `resolved` (a canonical path) is inside the tree.
    pub fn contains(&self, resolved: &Path) -> bool {
        self.roots.iter().any(|root| resolved.starts_with(root))
    }

    /// Whether `resolved` (a canonical path) is one of the tree's top folders.
    pub fn is_root(&self, resolved: &Path) -> bool {
        self.roots.iter().any(|root| resolved == root)
    }

    /// What `path` is, following a link only when it is a file link that stays inside.
    pub fn entry(&self, path: &Path) -> Entry {
        match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Entry::Missing,
            Err(e) => Entry::Refused(Refusal::new(SkipReason::Unreadable, e.to_string())),
            Ok(meta) => self.classify(path, meta.file_type()),
        }
    }

    fn classify(&self, path: &Path, kind: fs::FileType) -> Entry {
        if kind.is_dir() {
            Entry::Dir
        } else if kind.is_file() {
            Entry::File(path.to_path_buf())
        } else if kind.is_symlink() {
            self.follow_file_link(path)
        } else {
            Entry::Refused(Refusal::new(
                SkipReason::NotAFile,
                "not a regular file (a FIFO, socket or device)",
            ))
        }
    }

    fn follow_file_link(&self, link: &Path) -> Entry {
        let target = match fs::canonicalize(link) {
            Ok(target) => target,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Entry::Refused(Refusal::new(SkipReason::BrokenLink, "a link to nothing"))
            }
            Err(e) => {
                return Entry::Refused(Refusal::new(
                    SkipReason::Unreadable,
                    format!("a link that cannot be resolved ({e})"),
                ))
            }
        };
        if !self.contains(&target) {
            return Entry::Refused(Refusal::new(
                SkipReason::LinkOutsideTree,
                format!("a link to {} outside the imported tree", target.display()),
            ));
        }
        match fs::metadata(&target) {
            Ok(meta) if meta.is_dir() => Entry::Refused(Refusal::new(
                SkipReason::FolderLink,
                format!(
                    "a link to the folder {} (folder links are not followed)",
                    target.display()
                ),
            )),
            Ok(meta) if meta.is_file() => Entry::File(target),
            Ok(_) => Entry::Refused(Refusal::new(
                SkipReason::NotAFile,
                "a link to something that is not a regular file",
            )),
            Err(e) => Entry::Refused(Refusal::new(SkipReason::Unreadable, e.to_string())),
        }
    }

    /// The entries of the real folder `dir`, sorted by name: at most `max_entries` of them (a
    /// warning says when there were more). An unreadable folder is a warning and no entries.
    pub fn list(
        &self,
        dir: &Path,
        max_entries: usize,
        report: &mut ImportReport,
    ) -> Vec<(OsString, fs::FileType)> {
        let reader = match fs::read_dir(dir) {
            Ok(reader) => reader,
            Err(e) => {
                report.skip(
                    SkipReason::Unreadable,
                    format!("{}: cannot list the folder ({e}); skipped", dir.display()),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        let mut failures = 0u64;
        for entry in reader {
            if out.len() == max_entries {
                report.skip(
                    SkipReason::TooManyEntries,
                    format!(
                        "{}: more than {max_entries} entries; only {max_entries} were read",
                        dir.display()
                    ),
                );
                break;
            }
            match entry.and_then(|e| Ok((e.file_name(), e.file_type()?))) {
                Ok(pair) => out.push(pair),
                Err(_) => failures += 1,
            }
        }
        if failures > 0 {
            report.skip(
                SkipReason::Unreadable,
                format!(
                    "{}: {failures} entries could not be read; skipped",
                    dir.display()
                ),
            );
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The real sub-folders of `dir`, sorted. A link to a folder is left out with a warning;
    /// files and links to files are passed over silently (they are not what is looked for).
    pub fn sub_folders(&self, dir: &Path, report: &mut ImportReport) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for (name, kind) in self.list(dir, MAX_STORE_ENTRIES, report) {
            let path = dir.join(&name);
            if kind.is_dir() {
                out.push(path);
            } else if kind.is_symlink() && path.is_dir() {
                report.skip(
                    SkipReason::FolderLink,
                    format!(
                        "{}: a link to a folder (folder links are not followed); skipped",
                        path.display()
                    ),
                );
            }
        }
        out
    }

    /// Every file below the folder `dir` that may be read, as (key, path to open): the key is
    /// the `/`-joined path below `dir`, the path the file itself or a file link's target inside
    /// the tree. In depth-first order by name. A missing `dir` has no files; everything left
    /// out on the way (links out of the tree, folder links, FIFOs, non-UTF-8 names, keys or
    /// nesting over the limits) is a warning.
    pub fn files_under(
        &self,
        dir: &Path,
        limits: WalkLimits,
        report: &mut ImportReport,
    ) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        match self.entry(dir) {
            Entry::Dir => {}
            Entry::Missing | Entry::File(_) => return out,
            Entry::Refused(refusal) => {
                refusal.report(dir, "folder", report);
                return out;
            }
        }
        struct Frame {
            dir: PathBuf,
            prefix: String,
            depth: usize,
            /// Entries not yet visited, last first.
            pending: Vec<(OsString, fs::FileType)>,
        }
        let mut visited: HashSet<(u64, u64)> = HashSet::new();
        if let Some(id) = folder_id(dir) {
            visited.insert(id);
        }
        let mut pending = self.list(dir, limits.max_entries, report);
        pending.reverse();
        let mut stack = vec![Frame {
            dir: dir.to_path_buf(),
            prefix: String::new(),
            depth: 0,
            pending,
        }];
        while let Some(top) = stack.last_mut() {
            let Some((name, kind)) = top.pending.pop() else {
                stack.pop();
                continue;
            };
            let path = top.dir.join(&name);
            let Some(name) = name.to_str() else {
                report.skip(
                    SkipReason::NameNotUtf8,
                    format!("{}: the name is not UTF-8; skipped", path.display()),
                );
                continue;
            };
            let key = if top.prefix.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", top.prefix)
            };
            if key.chars().count() > limits.max_key_chars {
                report.skip(
                    SkipReason::InvalidKey,
                    format!(
                        "{}: the key is longer than {} characters; skipped",
                        path.display(),
                        limits.max_key_chars
                    ),
                );
                continue;
            }
            if !kind.is_dir() {
                match self.classify(&path, kind) {
                    Entry::File(open) => out.push((key, open)),
                    Entry::Refused(refusal) => refusal.report(&path, "file", report),
                    Entry::Dir | Entry::Missing => {}
                }
                continue;
            }
            let depth = top.depth + 1;
            if depth > limits.max_depth {
                report.skip(
                    SkipReason::TooDeep,
                    format!(
                        "{}: folders nested deeper than {}; skipped",
                        path.display(),
                        limits.max_depth
                    ),
                );
                continue;
            }
            if let Some(id) = folder_id(&path) {
                if !visited.insert(id) {
                    report.skip(
                        SkipReason::FolderLoop,
                        format!(
                            "{}: a folder already walked (a mount loop); skipped",
                            path.display()
                        ),
                    );
                    continue;
                }
            }
            let mut pending = self.list(&path, limits.max_entries, report);
            pending.reverse();
            stack.push(Frame {
                dir: path,
                prefix: key,
                depth,
                pending,
            });
        }
        out
    }
}

/// A folder's (device, inode), without following a link.
fn folder_id(path: &Path) -> Option<(u64, u64)> {
    fs::symlink_metadata(path)
        .ok()
        .map(|meta| (meta.dev(), meta.ino()))
}

/// At most `max` bytes from the start of the regular file at `path`, and whether that is the
/// whole file.
pub(crate) fn read_head(path: &Path, max: usize) -> io::Result<(Vec<u8>, bool)> {
    let file = crate::fsutil::open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut bytes)?;
    let whole = bytes.len() <= max;
    bytes.truncate(max);
    Ok((bytes, whole))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree_at(dir: &Path) -> SourceTree {
        SourceTree::new(vec![fs::canonicalize(dir).unwrap()])
    }

    #[test]
    fn walks_files_without_following_folder_links_or_links_out() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("mlruns");
        let outside = tmp.path().join("outside");
        fs::create_dir_all(root.join("p/nested")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("secret"), "s").unwrap();
        fs::write(root.join("p/a"), "1").unwrap();
        fs::write(root.join("p/nested/b"), "2").unwrap();
        fs::write(root.join("inside"), "3").unwrap();
        symlink("../inside", root.join("p/c")).unwrap();
        symlink(outside.join("secret"), root.join("p/d")).unwrap();
        symlink(".", root.join("p/self")).unwrap();
        symlink("/etc", root.join("p/etc")).unwrap();
        symlink("nothing-here", root.join("p/e")).unwrap();
        let tree = tree_at(&root);
        let mut report = ImportReport::default();
        let files = tree.files_under(&root.join("p"), KEY_FOLDER, &mut report);
        let keys: Vec<&str> = files.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "c", "nested/b"]);
        assert_eq!(
            files[1].1,
            fs::canonicalize(root.join("inside")).unwrap(),
            "a link inside the tree is read at its target"
        );
        assert_eq!(
            report.skipped[&SkipReason::LinkOutsideTree],
            2,
            "{report:#?}"
        );
        assert_eq!(report.skipped[&SkipReason::FolderLink], 1, "{report:#?}");
        assert_eq!(report.skipped[&SkipReason::BrokenLink], 1, "{report:#?}");
        assert_eq!(report.warnings.len(), 4);
    }

    #[test]
    fn a_fifo_is_not_opened_and_reads_stop_at_the_cap() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let tree = tree_at(tmp.path());
        assert!(matches!(
            tree.entry(&fifo),
            Entry::Refused(Refusal {
                reason: SkipReason::NotAFile,
                ..
            })
        ));
        assert!(
            crate::fsutil::open_regular(&fifo).is_err(),
            "opening a FIFO must not block"
        );

        let file = tmp.path().join("big");
        fs::write(&file, "abcdef").unwrap();
        assert_eq!(read_head(&file, 4).unwrap(), (b"abcd".to_vec(), false));
        assert_eq!(read_head(&file, 6).unwrap(), (b"abcdef".to_vec(), true));
        symlink(&file, tmp.path().join("link")).unwrap();
        assert!(
            crate::fsutil::open_regular(&tmp.path().join("link")).is_err(),
            "a final link is never followed by the open itself"
        );
    }

    #[test]
    fn nesting_and_folder_sizes_are_capped() {
        let tmp = tempfile::tempdir().unwrap();
        let mut deep = tmp.path().join("k");
        for _ in 0..10 {
            deep = deep.join("ab");
        }
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("v"), "x").unwrap();
        for i in 0..5 {
            fs::write(tmp.path().join(format!("k/f{i}")), "y").unwrap();
        }
        let tree = tree_at(tmp.path());
        let mut report = ImportReport::default();
        let limits = WalkLimits {
            max_key_chars: 12,
            max_depth: 100,
            max_entries: 100,
        };
        let files = tree.files_under(&tmp.path().join("k"), limits, &mut report);
        assert_eq!(files.len(), 5, "{files:?}");
        assert_eq!(report.skipped[&SkipReason::InvalidKey], 1);

        let mut report = ImportReport::default();
        let limits = WalkLimits {
            max_key_chars: 1000,
            max_depth: 3,
            max_entries: 3,
        };
        let files = tree.files_under(&tmp.path().join("k"), limits, &mut report);
        assert_eq!(report.skipped[&SkipReason::TooManyEntries], 1);
        assert!(files.len() <= 3);
    }
}
