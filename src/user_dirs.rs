//! kiroku's per-user folders, found the XDG way: `$XDG_DATA_HOME/kiroku` (the default store),
//! `$XDG_CONFIG_HOME/kiroku` (config, keymap, themes) and `$XDG_STATE_HOME/kiroku` (the UI's
//! remembered state), `$XDG_CACHE_HOME/kiroku` (caches), each falling back to its usual place under `$HOME` when the variable is
//! unset or empty.
//!
//! One helper rather than the `etcetera` crate: kiroku's three lookups need twenty lines, and
//! the crate would change them at the edges (its XDG strategy ignores relative values and its
//! home folder comes from the password database when `HOME` is unset), while these keep what
//! kiroku has always done: a test or a service that sets `HOME` or `XDG_*` gets exactly those
//! folders. A leaf: it imports nothing of kiroku.
use std::path::PathBuf;

/// Which per-user folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserDir {
    /// `$XDG_DATA_HOME/kiroku`, else `~/.local/share/kiroku`.
    Data,
    /// `$XDG_CONFIG_HOME/kiroku`, else `~/.config/kiroku`.
    Config,
    /// `$XDG_STATE_HOME/kiroku`, else `~/.local/state/kiroku`.
    State,
    /// `$XDG_CACHE_HOME/kiroku`, else `~/.cache/kiroku` (what can be rebuilt: the pipelines'
    /// stat cache when the store is remote).
    Cache,
}

impl UserDir {
    /// The environment variable that names this folder's base.
    pub fn variable(self) -> &'static str {
        match self {
            UserDir::Data => "XDG_DATA_HOME",
            UserDir::Config => "XDG_CONFIG_HOME",
            UserDir::State => "XDG_STATE_HOME",
            UserDir::Cache => "XDG_CACHE_HOME",
        }
    }

    /// The base's place under `$HOME` when the variable is not set.
    fn under_home(self) -> &'static str {
        match self {
            UserDir::Data => ".local/share",
            UserDir::Config => ".config",
            UserDir::State => ".local/state",
            UserDir::Cache => ".cache",
        }
    }

    /// kiroku's folder of this kind, or `None` when neither the variable nor `HOME` is set.
    pub fn path(self) -> Option<PathBuf> {
        env_path(self.variable())
            .or_else(|| env_path("HOME").map(|home| home.join(self.under_home())))
            .map(|base| base.join("kiroku"))
    }
}

/// A variable's value as a path, when set and not empty.
fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}
