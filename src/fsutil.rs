//! File-system helpers that know nothing of runs or stores: artifact paths that cannot leave
//! their folder, SHA-256 while copying, hashed copies of files.
//!
//! A leaf: it imports nothing of kiroku but `error`, so `store` (which checks and hashes what it
//! keeps) and `ingest` (which copies files into runs) both use it without importing each other.
use crate::error::{KirokuError, Result};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// The longest file or folder name most file systems take (Linux's `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// Copies `input` to `output` (when given) in pieces, hashing as it goes: the size and the
/// SHA-256 (hex) of what was read.
pub fn copy_hashing(
    input: &mut dyn Read,
    mut output: Option<&mut dyn Write>,
) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        if let Some(out) = output.as_mut() {
            out.write_all(&buf[..n])?;
        }
        size += n as u64;
    }
    Ok((size, hex(&hasher.finalize())))
}

/// Lowercase hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads `src` once, hashing it (sha256, hex) and copying it to `dest` when given (creating
/// folders). Returns its size and hash.
pub fn copy_hashed(src: &Path, dest: Option<&Path>) -> Result<(u64, String)> {
    let mut output = match dest {
        Some(dest) => {
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| KirokuError::io(format!("creating {}", parent.display()), e))?;
            }
            Some(
                fs::File::create(dest)
                    .map_err(|e| KirokuError::io(format!("writing {}", dest.display()), e))?,
            )
        }
        None => None,
    };
    let mut input = fs::File::open(src)
        .map_err(|e| KirokuError::io(format!("reading {}", src.display()), e))?;
    let what = dest.unwrap_or(src);
    copy_hashing(&mut input, output.as_mut().map(|f| f as &mut dyn Write)).map_err(|e| {
        KirokuError::io(
            format!("copying {} to {}", src.display(), what.display()),
            e,
        )
    })
}

/// A relative artifact path that stays inside the run's artifact folder, each of its names
/// short enough for the file system (`NAME_MAX` bytes).
pub fn safe_relative(path: &str) -> Result<PathBuf> {
    let p = Path::new(path);
    let ok = !path.is_empty()
        && !path.contains('\0')
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if !ok {
        return Err(KirokuError::Invalid(format!("artifact path '{path}' must be relative and stay inside the run (no '..', no leading '/')")));
    }
    if let Some(long) = p.components().find(|c| c.as_os_str().len() > NAME_MAX) {
        return Err(KirokuError::Invalid(format!(
            "artifact path '{path}': the name '{}' is {} bytes long; names may have at most {}",
            long.as_os_str().to_string_lossy(),
            long.as_os_str().len(),
            NAME_MAX
        )));
    }
    Ok(p.to_path_buf())
}

/// Opens a regular file for reading, without following a final link and without blocking on
/// a FIFO (a writer could plant one where a file is expected); anything but a regular file is an error.
pub fn open_regular(path: &Path) -> std::io::Result<fs::File> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_paths_cannot_escape() {
        assert!(safe_relative("model/w.bin").is_ok());
        for bad in ["", "../x", "/etc/passwd", "a/../../b", "./"] {
            assert!(safe_relative(bad).is_err(), "{bad}");
        }
    }
}
