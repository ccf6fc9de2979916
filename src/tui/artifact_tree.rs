//! The Artifacts tab as a file tree (as in lazygit or yazi): artifact paths (`model/sub/w.bin`)
//! are split into folders and files; a folder lists its sub-folders first, then its files, each
//! sorted by name; folders start open and can be closed. The visible rows are recomputed from
//! the artifact list and the set of closed folders, so the cursor is just a row index.
use super::worker::ArtifactEntry;
use std::collections::{BTreeMap, BTreeSet};

/// One visible line of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum TreeRow {
    Folder {
        /// The folder's full path without a trailing slash (`model/sub`).
        path: String,
        name: String,
        depth: usize,
        open: bool,
        /// Files anywhere under it, and the sum of their known sizes.
        files: usize,
        size: u64,
    },
    File {
        /// Index into the artifact list.
        index: usize,
        name: String,
        depth: usize,
    },
}

impl TreeRow {
    pub fn depth(&self) -> usize {
        match self {
            TreeRow::Folder { depth, .. } | TreeRow::File { depth, .. } => *depth,
        }
    }
}

#[derive(Default)]
struct Dir {
    dirs: BTreeMap<String, Dir>,
    files: Vec<(String, usize)>,
}

impl Dir {
    fn totals(&self, entries: &[ArtifactEntry]) -> (usize, u64) {
        let mut n = self.files.len();
        let mut size: u64 = self
            .files
            .iter()
            .filter_map(|(_, i)| entries.get(*i).and_then(|e| e.size))
            .sum();
        for d in self.dirs.values() {
            let (dn, ds) = d.totals(entries);
            n += dn;
            size += ds;
        }
        (n, size)
    }
}

/// The rows shown for `entries` with the folders in `closed` folded.
pub fn rows(entries: &[ArtifactEntry], closed: &BTreeSet<String>) -> Vec<TreeRow> {
    let mut root = Dir::default();
    for (i, e) in entries.iter().enumerate() {
        let parts: Vec<&str> = e.path.split('/').filter(|p| !p.is_empty()).collect();
        let Some((name, folders)) = parts.split_last() else {
            continue;
        };
        let mut dir = &mut root;
        for f in folders {
            dir = dir.dirs.entry((*f).to_string()).or_default();
        }
        dir.files.push(((*name).to_string(), i));
    }
    let mut out = Vec::new();
    walk(&root, "", 0, entries, closed, &mut out);
    out
}

fn walk(
    dir: &Dir,
    prefix: &str,
    depth: usize,
    entries: &[ArtifactEntry],
    closed: &BTreeSet<String>,
    out: &mut Vec<TreeRow>,
) {
    for (name, sub) in &dir.dirs {
        let path = format!("{prefix}{name}");
        let open = !closed.contains(&path);
        let (files, size) = sub.totals(entries);
        out.push(TreeRow::Folder {
            path: path.clone(),
            name: name.clone(),
            depth,
            open,
            files,
            size,
        });
        if open {
            walk(sub, &format!("{path}/"), depth + 1, entries, closed, out);
        }
    }
    let mut files = dir.files.clone();
    files.sort();
    for (name, index) in files {
        out.push(TreeRow::File { index, name, depth });
    }
}

/// The row index of the folder that holds row `i` (none at the top level).
pub fn parent_row(rows: &[TreeRow], i: usize) -> Option<usize> {
    let depth = rows.get(i)?.depth();
    if depth == 0 {
        return None;
    }
    (0..i)
        .rev()
        .find(|&j| matches!(&rows[j], TreeRow::Folder { depth: d, .. } if *d + 1 == depth))
}
