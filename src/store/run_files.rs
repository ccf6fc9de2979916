//! Files inside a run's folder, reached without ever following a symbolic link.
//!
//! Anyone who can write a run's folder (a script under `kiroku run`, a member of a `--shared`
//! store's group) can plant links in it: `artifacts/pw -> /etc/passwd`, `artifacts/d -> /`.
//! Resolving paths by name would read, list, write and delete through them. Here every path is
//! walked one component at a time from an open folder with `openat(.., O_NOFOLLOW)`, so a link
//! anywhere in the path is refused (it reads as "not found" or "not a folder"), and nothing can
//! swap a folder for a link between a check and its use: there is no check, only opens.
//!
//! Writes go to a unique hidden temporary beside the destination (`.kiroku-partial-<random>`)
//! and are renamed into place, so a reader never sees half a file and two writers never share
//! a temporary.
use crate::error::KirokuError;
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The prefix of temporaries; listings hide names that start with it.
pub const PARTIAL_PREFIX: &str = ".kiroku-partial-";

/// The name of a run's saved output (`kiroku run`), in its folder and as its artifact.
pub const OUTPUT_LOG: &str = "output.log";

/// The saved output of a run whose folder (or, for a remote store, spool) is `run_dir`.
pub fn output_log_path(run_dir: &Path) -> PathBuf {
    run_dir.join(OUTPUT_LOG)
}

/// One entry of a listed folder. Links and special files are never listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
    /// Files only.
    pub size: Option<u64>,
}

/// A folder inside a run (its `artifacts/`, or the run folder itself), held open.
pub struct RunFiles {
    root: OwnedFd,
}

fn cstr(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `openat` that never follows a link in the last component (earlier ones are never links:
/// callers walk one component at a time).
fn open_at(
    dir: &OwnedFd,
    name: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated and `dir` an open descriptor; the result is owned here.
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    })?;
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn open_dir_at(dir: &OwnedFd, name: &CStr) -> io::Result<OwnedFd> {
    open_at(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

fn mkdir_at(dir: &OwnedFd, name: &CStr) -> io::Result<()> {
    // SAFETY: as in `open_at`. The umask trims 0o777 (shared stores set their own).
    match check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o777) }) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        other => other.map(|_| ()),
    }
}

fn stat_at(dir: &OwnedFd, name: &CStr) -> io::Result<libc::stat> {
    // SAFETY: `st` is written by fstatat before it is read; AT_SYMLINK_NOFOLLOW stats a link
    // itself, never its target.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        check(libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        ))?;
        Ok(st)
    }
}

fn is_kind(st: &libc::stat, kind: libc::mode_t) -> bool {
    st.st_mode & libc::S_IFMT == kind
}

/// The names in an open folder, without `.` and `..`.
fn names(dir: &OwnedFd) -> io::Result<Vec<CString>> {
    // fdopendir takes ownership of the descriptor it is given: hand it a duplicate.
    let dup = dir.try_clone()?;
    // SAFETY: on success the DIR owns `dup`'s descriptor (closed by closedir below); on
    // failure `dup` still owns it and closes it when dropped.
    let stream = unsafe { libc::fdopendir(dup.as_raw_fd()) };
    if stream.is_null() {
        return Err(io::Error::last_os_error());
    }
    std::mem::forget(dup);
    let mut out = Vec::new();
    loop {
        // SAFETY: `stream` is a valid DIR until closedir; the entry is copied before the next call.
        let entry = unsafe { libc::readdir(stream) };
        if entry.is_null() {
            break;
        }
        // SAFETY: d_name is NUL-terminated.
        let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) };
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            out.push(name.to_owned());
        }
    }
    // SAFETY: closes the stream and its descriptor once.
    unsafe { libc::closedir(stream) };
    Ok(out)
}

/// How deep `remove` goes into a folder tree. Each level holds a descriptor and a stack frame;
/// a planted tree thousands of folders deep must fail (400), not take the server's stack.
const REMOVE_DEPTH_MAX: usize = 128;

/// Removes `name` in `dir`: a file or link itself, or a folder and everything in it (links in
/// it are removed, never followed), at most `REMOVE_DEPTH_MAX` levels below `depth`.
fn remove_at(dir: &OwnedFd, name: &CStr, depth: usize) -> io::Result<()> {
    // SAFETY: as in `open_at`.
    match check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) }) {
        Ok(_) => return Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EISDIR) | Some(libc::EPERM)) => {}
        Err(e) => return Err(e),
    }
    if depth >= REMOVE_DEPTH_MAX {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    let sub = open_dir_at(dir, name)?;
    for entry in names(&sub)? {
        remove_at(&sub, &entry, depth + 1)?;
    }
    // SAFETY: as in `open_at`.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), libc::AT_REMOVEDIR) }).map(|_| ())
}

/// A fresh random suffix for a temporary's name.
fn random_suffix() -> io::Result<String> {
    let mut bytes = [0u8; 12];
    getrandom::getrandom(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The parent components and the last name of a relative path of plain names.
fn split(rel: &Path) -> io::Result<(Vec<CString>, CString)> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(name) => parts.push(cstr(name)?),
            _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
        }
    }
    let last = parts
        .pop()
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    Ok((parts, last))
}

impl RunFiles {
    /// Opens `run_dir/sub` (`sub` a plain folder name such as `artifacts`, or empty for the
    /// run folder itself); neither may be a link. `create` makes `sub` when it is missing.
    pub fn open(run_dir: &Path, sub: &str, create: bool) -> io::Result<Self> {
        let path = cstr(run_dir.as_os_str())?;
        // SAFETY: as in `open_at`. The store's own location may pass through links the user
        // set up; the run folder itself may not be one.
        let fd = check(unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: a fresh descriptor nobody else owns.
        let run = unsafe { OwnedFd::from_raw_fd(fd) };
        if sub.is_empty() {
            return Ok(RunFiles { root: run });
        }
        let sub = cstr(OsStr::new(sub))?;
        if create {
            mkdir_at(&run, &sub)?;
        }
        Ok(RunFiles {
            root: open_dir_at(&run, &sub)?,
        })
    }

    /// The folder at `dirs` below the root, made when `create`.
    fn walk(&self, dirs: &[CString], create: bool) -> io::Result<OwnedFd> {
        let mut cur = self.root.try_clone()?;
        for name in dirs {
            if create {
                mkdir_at(&cur, name)?;
            }
            cur = open_dir_at(&cur, name)?;
        }
        Ok(cur)
    }

    /// The regular file at `rel` (relative to the root), for reading. A link, folder or special
    /// file there is `NotFound`, as is any link on the way.
    pub fn open_file(&self, rel: &Path) -> io::Result<File> {
        let (dirs, name) = split(rel)?;
        let dir = self.walk(&dirs, false)?;
        // O_NONBLOCK: opening a FIFO planted here must not hang; regular files ignore it.
        let fd = open_at(&dir, &name, libc::O_RDONLY | libc::O_NONBLOCK, 0)?;
        let file = File::from(fd);
        if !file.metadata()?.is_file() {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        Ok(file)
    }

    /// The folders and regular files in the folder at `rel` (empty: the root), sorted by name.
    /// Links and temporaries are left out; a missing folder lists nothing.
    pub fn list(&self, rel: &Path) -> io::Result<Vec<Entry>> {
        let dirs = if rel.as_os_str().is_empty() {
            Vec::new()
        } else {
            let (mut dirs, last) = split(rel)?;
            dirs.push(last);
            dirs
        };
        let dir = match self.walk(&dirs, false) {
            Ok(dir) => dir,
            Err(e) if is_absent(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for name in names(&dir)? {
            let text = name.to_string_lossy().into_owned();
            if text.starts_with(PARTIAL_PREFIX) || text.ends_with(".kiroku-partial") {
                continue;
            }
            let Ok(st) = stat_at(&dir, &name) else {
                continue;
            };
            if is_kind(&st, libc::S_IFDIR) {
                out.push(Entry {
                    name: text,
                    is_dir: true,
                    size: None,
                });
            } else if is_kind(&st, libc::S_IFREG) {
                out.push(Entry {
                    name: text,
                    is_dir: false,
                    size: Some(st.st_size as u64),
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Removes the file, link or folder at `rel`; `NotFound` when nothing is there.
    pub fn remove(&self, rel: &Path) -> io::Result<()> {
        let (dirs, name) = split(rel)?;
        let dir = self.walk(&dirs, false)?;
        remove_at(&dir, &name, 0)
    }

    /// A new temporary for the file at `rel`, in its folder (made as needed); `commit` puts it
    /// in place, dropping it uncommitted removes it.
    pub fn create_partial(&self, rel: &Path) -> io::Result<Partial> {
        let (dirs, name) = split(rel)?;
        let dir = self.walk(&dirs, true)?;
        let temp = cstr(OsStr::new(&format!("{PARTIAL_PREFIX}{}", random_suffix()?)))?;
        let fd = open_at(
            &dir,
            &temp,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
            0o666,
        )?;
        Ok(Partial {
            dir,
            temp,
            name,
            file: File::from(fd),
            committed: false,
        })
    }
}

/// Opens the regular file at `path` when it lies inside `run_dir` and is reached from there
/// without links (for readers holding full paths: the TUI's previews and log view).
pub fn open_in_run(run_dir: &Path, path: &Path) -> io::Result<File> {
    let rel = path
        .strip_prefix(run_dir)
        .map_err(|_| io::Error::from(io::ErrorKind::NotFound))?;
    RunFiles::open(run_dir, "", false)?.open_file(rel)
}

/// Whether an error means "nothing (usable) there": missing, or a link or file where a folder
/// was expected.
pub fn is_absent(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
        || matches!(e.raw_os_error(), Some(libc::ENOTDIR) | Some(libc::ELOOP))
}

/// Whether an error is the caller's: a file where a folder is needed or the reverse, a link in
/// the way, a name too long.
pub fn is_conflict(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOTDIR)
            | Some(libc::EISDIR)
            | Some(libc::ENOTEMPTY)
            | Some(libc::EEXIST)
            | Some(libc::ELOOP)
            | Some(libc::ENAMETOOLONG)
    ) || e.kind() == io::ErrorKind::InvalidInput
}

/// The error a user sees for an artifact operation that failed on `path` (the artifact's own
/// relative path; never the server's folders): missing is `NotFound`, a conflict with what is
/// there is `Invalid`, anything else an internal I/O failure.
pub fn artifact_error(e: io::Error, path: &str) -> KirokuError {
    if e.kind() == io::ErrorKind::NotFound {
        KirokuError::NotFound(format!("no artifact at '{path}'"))
    } else if is_conflict(&e) {
        KirokuError::Invalid(format!(
            "artifact path '{path}' conflicts with what the run holds (a file where a folder is \
             needed, a folder where a file is, a link, or a name too long): {e}"
        ))
    } else {
        KirokuError::io(format!("artifact '{path}'"), e)
    }
}

/// A file being written beside its destination under a unique hidden name.
pub struct Partial {
    dir: OwnedFd,
    temp: CString,
    name: CString,
    file: File,
    committed: bool,
}

impl Partial {
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Renames the temporary over the destination (replacing a file or link there, never
    /// writing through one). Calling it again after it succeeded does nothing.
    pub fn commit(&mut self) -> io::Result<()> {
        if self.committed {
            return Ok(());
        }
        // SAFETY: both names are NUL-terminated and resolved in the same open folder.
        check(unsafe {
            libc::renameat(
                self.dir.as_raw_fd(),
                self.temp.as_ptr(),
                self.dir.as_raw_fd(),
                self.name.as_ptr(),
            )
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.committed {
            // SAFETY: as in `commit`.
            unsafe { libc::unlinkat(self.dir.as_raw_fd(), self.temp.as_ptr(), 0) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_inside_a_run_are_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "s").unwrap();
        let run = tmp.path().join("run");
        std::fs::create_dir_all(run.join("artifacts/real")).unwrap();
        symlink(outside.join("secret"), run.join("artifacts/pw")).unwrap();
        symlink(&outside, run.join("artifacts/d")).unwrap();
        let files = RunFiles::open(&run, "artifacts", false).unwrap();
        assert!(files.open_file(Path::new("pw")).is_err());
        assert!(files.open_file(Path::new("d/secret")).is_err());
        assert_eq!(files.list(Path::new("d")).unwrap(), vec![]);
        let names: Vec<_> = files
            .list(Path::new(""))
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec!["real"]);
        assert!(files.create_partial(Path::new("d/new")).is_err());
        assert!(files.remove(Path::new("d/secret")).is_err());
        // Removing the link removes the link, not what it points at.
        files.remove(Path::new("d")).unwrap();
        assert!(outside.join("secret").exists());
        // A partial commits over a link without writing through it.
        let mut p = files.create_partial(Path::new("pw")).unwrap();
        p.file().write_all(b"mine").unwrap();
        p.commit().unwrap();
        assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"s");
        assert_eq!(std::fs::read(run.join("artifacts/pw")).unwrap(), b"mine");
    }

    #[test]
    fn removing_a_very_deep_tree_fails_instead_of_exhausting_the_stack() {
        let tmp = tempfile::tempdir().unwrap();
        let files = RunFiles::open(tmp.path(), "artifacts", true).unwrap();
        let deep = |n: usize| "d/".repeat(n) + "f";
        for (top, depth, removable) in [("a", 100, true), ("b", 1000, false)] {
            let rel = format!("{top}/{}", deep(depth));
            let mut p = files.create_partial(Path::new(&rel)).unwrap();
            p.commit().unwrap();
            assert_eq!(files.remove(Path::new(top)).is_ok(), removable, "{depth}");
        }
        assert!(!tmp.path().join("artifacts/a").exists());
    }

    #[test]
    fn an_uncommitted_partial_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let files = RunFiles::open(tmp.path(), "artifacts", true).unwrap();
        drop(files.create_partial(Path::new("a/b")).unwrap());
        assert_eq!(
            std::fs::read_dir(tmp.path().join("artifacts/a"))
                .unwrap()
                .count(),
            0
        );
    }
}
