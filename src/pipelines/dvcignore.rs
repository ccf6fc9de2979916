//! `.dvcignore` as DVC 3 reads it, for hashing folders: the files it ignores are left out of a
//! directory's `.dir` listing, so the hash is DVC's.
//!
//! DVC's rules (`dvc/ignore.py`, `dvc/pathspec_math.py`, pathspec's `GitIgnoreSpecPattern`):
//! - the patterns are gitignore's (`*`, `?`, `[…]`, `**`, a leading `/` anchors, a trailing
//!   `/` means folders only, `!` re-includes, `\` escapes); each line is stripped of spaces at
//!   both ends, blank lines and `#` comments skipped;
//! - the repository root's rules start with `.hg/`, `.git/`, `.git` and `.dvc/`;
//! - a `.dvcignore` in a sub-folder applies below it: its patterns are rewritten relative to
//!   the root (`change_rule`) and appended to those above;
//! - the last pattern that matches decides; a path is ignored when it or a folder above it is;
//! - a `.dvcignore` inside a folder being hashed is an error.
//!
//! The repository root is the nearest folder at or above the hashed one holding `.dvc` (else
//! `dvc.yaml`).
use crate::error::{KirokuError, Result};
use std::path::{Path, PathBuf};

/// The ignore file's name.
pub const DVCIGNORE: &str = ".dvcignore";

/// One compiled pattern.
#[derive(Debug, Clone)]
struct Rule {
    regex: regex::Regex,
    /// Whether a match ignores (false: `!` re-includes).
    ignore: bool,
    /// Whether it matches folders only (the pattern ends in `/`).
    dir_only: bool,
}

/// The rules that apply under one repository root.
#[derive(Debug, Clone)]
pub struct Ignore {
    /// Paths are matched relative to it.
    root: PathBuf,
    rules: Vec<Rule>,
}

impl Ignore {
    /// The rules for hashing the folder `dir`: the defaults and every `.dvcignore` from the
    /// repository root down to `dir`'s parent.
    pub fn for_dir(dir: &Path) -> Result<Ignore> {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let root = dir
            .ancestors()
            .find(|a| a.join(".dvc").is_dir())
            .or_else(|| dir.ancestors().find(|a| a.join("dvc.yaml").is_file()))
            .unwrap_or(&dir)
            .to_path_buf();
        let mut patterns: Vec<String> = [".hg/", ".git/", ".git", ".dvc/"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rel = dir.strip_prefix(&root).unwrap_or(Path::new(""));
        let mut steps: Vec<PathBuf> = vec![PathBuf::new()];
        let mut acc = PathBuf::new();
        for part in rel.components() {
            acc.push(part);
            steps.push(acc.clone());
        }
        // The hashed folder's own .dvcignore is DVC's error, not a rule.
        steps.pop();
        for step in steps {
            let file = root.join(&step).join(DVCIGNORE);
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let prefix = step
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                patterns.push(if prefix.is_empty() {
                    line.to_string()
                } else {
                    change_rule(line, &prefix)
                });
            }
        }
        let rules = patterns.iter().filter_map(|p| compile(p)).collect();
        Ok(Ignore { root, rules })
    }

    /// Whether `path` (a file, or a folder when `is_dir`) is ignored.
    pub fn ignored(&self, path: &Path, is_dir: bool) -> bool {
        let Ok(rel) = path.strip_prefix(&self.root) else {
            return false;
        };
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        for i in 1..=parts.len() {
            let prefix = parts[..i].join("/");
            let ignored = self.last_match(&prefix, is_dir || i < parts.len());
            if ignored || i == parts.len() {
                return ignored;
            }
        }
        false
    }

    fn last_match(&self, path: &str, is_dir: bool) -> bool {
        let with_slash = format!("{path}/");
        for rule in self.rules.iter().rev() {
            if rule.dir_only && !is_dir {
                continue;
            }
            if rule.regex.is_match(path) || (is_dir && rule.regex.is_match(&with_slash)) {
                return rule.ignore;
            }
        }
        false
    }
}

/// An error when `dir` (being hashed) holds a `.dvcignore` anywhere, as DVC refuses.
pub fn refuse_inner_ignore(dir: &Path, relpaths: &[&str]) -> Result<()> {
    if let Some(found) = relpaths
        .iter()
        .find(|r| **r == DVCIGNORE || r.ends_with(&format!("/{DVCIGNORE}")))
    {
        return Err(KirokuError::Invalid(format!(
            "{DVCIGNORE} file should not be in collected dir path: '{}'",
            dir.join(found).parent().unwrap_or(dir).display()
        )));
    }
    Ok(())
}

/// DVC's `change_rule`: a pattern of the `.dvcignore` in folder `rel` rewritten for the root.
fn change_rule(rule: &str, rel: &str) -> String {
    let rule = rule.trim();
    let (negated, rule) = match rule.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, rule),
    };
    let head = &rule[..rule.len().saturating_sub(1)];
    let (all_levels, rule) = if head.contains('/') && !rule.starts_with("**/") {
        (false, rule.strip_prefix('/').unwrap_or(rule))
    } else {
        (true, rule.strip_prefix("**/").unwrap_or(rule))
    };
    let rule = rule.strip_prefix('\\').unwrap_or(rule);
    let rule = if all_levels {
        format!("/**/{rule}")
    } else {
        format!("/{rule}")
    };
    if negated {
        format!("!/{rel}{rule}")
    } else {
        format!("/{rel}{rule}")
    }
}

/// pathspec's `GitIgnoreSpecPattern.pattern_to_regex`, compiled to match from the start (as
/// Python's `re.match`); None for a pattern that matches nothing.
fn compile(pattern: &str) -> Option<Rule> {
    let dir_only = pattern.ends_with('/');
    let mut text = pattern;
    if !text.ends_with("\\ ") {
        text = text.trim_end();
    }
    if text.is_empty() || text.starts_with('#') || text == "/" {
        return None;
    }
    let (ignore, text) = match text.strip_prefix('!') {
        Some(rest) => (false, rest),
        None => (true, text),
    };
    let mut segs: Vec<String> = text.split('/').map(str::to_string).collect();
    let is_dir_pattern = segs.last().is_some_and(|s| s.is_empty());
    if segs[0].is_empty() {
        segs.remove(0);
    } else if (segs.len() == 1 || (segs.len() == 2 && segs[1].is_empty())) && segs[0] != "**" {
        segs.insert(0, "**".into());
    }
    if segs.is_empty() {
        return None;
    }
    if let Some(last) = segs.last_mut() {
        if last.is_empty() {
            *last = "**".into();
        }
    }
    let mut i = segs.len() - 1;
    while i > 0 {
        if segs[i - 1] == "**" && segs[i] == "**" {
            segs.remove(i);
        }
        i -= 1;
    }
    const DIR_MARK: &str = "(?:/)";
    const DIR_MARK_OPT: &str = "(?:/|$)";
    let regex = match segs
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["**"] if is_dir_pattern => DIR_MARK.to_string(),
        ["**"] => ".".to_string(),
        ["**", "*"] => ".".to_string(),
        ["**", "*", "**"] if is_dir_pattern => DIR_MARK.to_string(),
        ["**", "*", "**"] => "/".to_string(),
        _ => {
            let end = segs.len() - 1;
            let mut out = String::new();
            let mut need_slash = false;
            for (i, seg) in segs.iter().enumerate() {
                if seg == "**" {
                    if i == 0 {
                        out.push_str("^(?:.+/)?");
                    } else if i < end {
                        out.push_str("(?:/.+)?");
                        need_slash = true;
                    } else if is_dir_pattern {
                        out.push_str(DIR_MARK);
                    } else {
                        out.push('/');
                    }
                } else {
                    if i == 0 {
                        out.push('^');
                    }
                    if need_slash {
                        out.push('/');
                    }
                    if seg == "*" {
                        out.push_str("[^/]+");
                    } else {
                        out.push_str(&segment_glob(seg)?);
                    }
                    if i == end {
                        out.push_str(DIR_MARK_OPT);
                    }
                    need_slash = true;
                }
            }
            out
        }
    };
    let regex = regex::Regex::new(&format!("^(?:{regex})")).ok()?;
    Some(Rule {
        regex,
        ignore,
        dir_only,
    })
}

/// pathspec's `_translate_segment_glob` (an invalid range discards the pattern, as git does).
fn segment_glob(pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut escape = false;
    let mut i = 0;
    let end = chars.len();
    while i < end {
        let c = chars[i];
        i += 1;
        if escape {
            escape = false;
            out.push_str(&regex::escape(&c.to_string()));
        } else if c == '\\' {
            escape = true;
        } else if c == '*' {
            out.push_str("[^/]*");
        } else if c == '?' {
            out.push_str("[^/]");
        } else if c == '[' {
            let mut j = i;
            if j < end && (chars[j] == '!' || chars[j] == '^') {
                j += 1;
            }
            if j < end && chars[j] == ']' {
                j += 1;
            }
            while j < end && chars[j] != ']' {
                j += 1;
            }
            if j >= end {
                return None;
            }
            j += 1;
            let mut expr = String::from("[");
            if chars[i] == '!' || chars[i] == '^' {
                expr.push('^');
                i += 1;
            }
            let inner: String = chars[i..j].iter().collect();
            expr.push_str(&inner.replace('\\', "\\\\"));
            out.push_str(&expr);
            i = j;
        } else {
            out.push_str(&regex::escape(&c.to_string()));
        }
    }
    if escape {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_patterns_compile_as_pathspec_translates_them() {
        let m = |p: &str, path: &str| compile(p).unwrap().regex.is_match(path);
        assert!(m("*.tmp", "a/b.tmp"));
        assert!(!m("/top.log", "a/top.log"));
        assert!(m("/top.log", "top.log"));
        assert!(m("logs/", "x/logs/"));
        assert!(m("a/**/b", "a/x/y/b"));
        assert!(m("a/**/b", "a/b"));
        assert!(m("[ab]*.txt", "d/b1.txt"));
        assert!(!m("[!ab]*.txt", "d/b1.txt"));
        assert!(m("\\#hash", "#hash"));
        assert!(compile("[oops").is_none());
        assert_eq!(change_rule("*.csv", "data"), "/data/**/*.csv");
        assert_eq!(change_rule("!sub/x", "data"), "!/data/sub/x");
    }
}
