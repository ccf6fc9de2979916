//! Finding the store: `--store`, then `KIROKU_STORE`, then walking up from the current
//! directory (like git finds `.git`), then a per-user default store under the XDG data dir.
use crate::error::{KirokuError, Result};
use crate::store::{SqliteStore, Store};
use crate::user_dirs::UserDir;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The folder name of an embedded store inside a project.
pub const STORE_DIR: &str = ".kiroku";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A `.kiroku` folder (it may not exist yet).
    Local(PathBuf),
    /// An `http(s)://` URL of a `kiroku serve`.
    Remote(String),
}

impl StoreLocation {
    /// The project folder, where `kiroku.toml` lives: the one holding `.kiroku` for a local
    /// store; for a server, the nearest folder up from the current one holding a `kiroku.toml`
    /// (the project a command is given in: its `[models]`, targets and the rest apply to what
    /// it does on the server).
    pub fn project_dir(&self) -> Option<PathBuf> {
        match self {
            StoreLocation::Local(p) => p.parent().map(Path::to_path_buf),
            StoreLocation::Remote(_) => std::env::current_dir().ok().and_then(|cwd| {
                cwd.ancestors()
                    .find(|dir| dir.join("kiroku.toml").is_file())
                    .map(Path::to_path_buf)
            }),
        }
    }
}

/// Turns a `--store`/`KIROKU_STORE` value into a location: a URL, a `.kiroku` folder, or the
/// project folder holding one.
pub fn location_from_arg(value: &str) -> StoreLocation {
    if value.starts_with("http://") || value.starts_with("https://") {
        return StoreLocation::Remote(value.trim_end_matches('/').to_string());
    }
    let path = absolute(Path::new(value));
    let is_store_dir =
        path.file_name().is_some_and(|n| n == STORE_DIR) || path.join("kiroku.db").is_file();
    if is_store_dir {
        StoreLocation::Local(path)
    } else {
        StoreLocation::Local(path.join(STORE_DIR))
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// The per-user default store: `$XDG_DATA_HOME/kiroku/default/.kiroku` (or `~/.local/share/...`).
pub fn user_default_location() -> Result<StoreLocation> {
    let data = UserDir::Data
        .path()
        .ok_or_else(|| KirokuError::NoStore("neither XDG_DATA_HOME nor HOME is set".into()))?;
    Ok(StoreLocation::Local(data.join("default").join(STORE_DIR)))
}

/// Walks up from `start` looking for a `.kiroku` folder.
pub fn find_upwards(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(STORE_DIR))
        .find(|candidate| candidate.join("kiroku.db").is_file())
}

/// Where the store is, by the discovery order.
pub fn resolve_location(flag: Option<&str>) -> Result<StoreLocation> {
    if let Some(v) = flag.filter(|v| !v.is_empty()) {
        return Ok(location_from_arg(v));
    }
    if let Ok(v) = std::env::var("KIROKU_STORE") {
        if !v.is_empty() {
            return Ok(location_from_arg(&v));
        }
    }
    let cwd =
        std::env::current_dir().map_err(|e| KirokuError::io("reading the current directory", e))?;
    if let Some(found) = find_upwards(&cwd) {
        return Ok(StoreLocation::Local(found));
    }
    user_default_location()
}

/// Opens the store at `location`. A missing local store is created when `create` is set or when
/// it is the per-user default; otherwise it is an error that says how to make one.
pub fn open_store(location: &StoreLocation, create: bool) -> Result<Arc<dyn Store>> {
    match location {
        StoreLocation::Local(dir) => {
            let exists = dir.join("kiroku.db").is_file();
            let is_default = user_default_location().ok().as_ref() == Some(location);
            if !exists && !create && !is_default {
                return Err(KirokuError::NoStore(format!(
                    "{} does not exist; run `kiroku init` in {} to create it",
                    dir.display(),
                    dir.parent().unwrap_or(dir).display()
                )));
            }
            Ok(Arc::new(SqliteStore::open(dir, false)?))
        }
        StoreLocation::Remote(url) => Ok(Arc::new(crate::store::http::HttpStore::new(url)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_arg_accepts_store_dir_project_dir_and_url() {
        assert_eq!(
            location_from_arg("/p/.kiroku"),
            StoreLocation::Local("/p/.kiroku".into())
        );
        assert_eq!(
            location_from_arg("/p"),
            StoreLocation::Local("/p/.kiroku".into())
        );
        assert_eq!(
            location_from_arg("http://h:5000/"),
            StoreLocation::Remote("http://h:5000".into())
        );
    }
}
