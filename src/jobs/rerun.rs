//! Re-running a run's command with changed params (`kiroku rerun RUN --set k=v`, the TUI's
//! launch form): the `--k v` / `--k=v` flags of the recorded command are rewritten in place,
//! every other argument kept byte for byte; a param with no flag is appended as `--k v`.
//! Flags are read as `wrap::source::flag_params` reads them into params: up to a bare `--`,
//! a flag followed by another flag (or nothing) being a switch.

/// A rewritten command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    pub command: Vec<String>,
    /// The keys that had no flag in the command and were appended as `--k v`.
    pub appended: Vec<String>,
}

/// Sets each `(key, value)` of `sets` in `command`'s flags (every occurrence of the flag).
pub fn rewrite_flags(command: &[String], sets: &[(String, String)]) -> Rewritten {
    let mut out = command.to_vec();
    let mut appended = Vec::new();
    for (key, value) in sets {
        let flag = format!("--{key}");
        let inline = format!("--{key}=");
        let mut found = false;
        let mut i = 0;
        // Flags end at a bare `--` (what follows is the program's positional arguments).
        let mut end = out.iter().position(|a| a == "--").unwrap_or(out.len());
        while i < end {
            if out[i].starts_with(&inline) {
                out[i] = format!("{inline}{value}");
                found = true;
            } else if out[i] == flag {
                found = true;
                match out.get(i + 1) {
                    Some(next) if i + 1 < end && !next.starts_with("--") => {
                        out[i + 1] = value.clone();
                    }
                    _ => {
                        // A switch: give it the value.
                        out.insert(i + 1, value.clone());
                        end += 1;
                    }
                }
                i += 1;
            }
            i += 1;
        }
        if !found {
            out.splice(end..end, [flag, value.clone()]);
            appended.push(key.clone());
        }
    }
    Rewritten {
        command: out,
        appended,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn set(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn flags_are_rewritten_in_place_and_the_rest_kept_byte_for_byte() {
        let cmd = s(&[
            "python",
            "train.py",
            "--lr",
            "0.01",
            "--epochs=3",
            "a b 'c' $HOME",
            "--amp",
            "--seed",
            "-1",
        ]);
        let r = rewrite_flags(
            &cmd,
            &[
                set("lr", "0.1"),
                set("epochs", "10"),
                set("seed", "7"),
                set("amp", "false"),
            ],
        );
        assert_eq!(
            r.command,
            s(&[
                "python",
                "train.py",
                "--lr",
                "0.1",
                "--epochs=10",
                "a b 'c' $HOME",
                "--amp",
                "false",
                "--seed",
                "7"
            ])
        );
        assert!(r.appended.is_empty());
    }

    #[test]
    fn a_param_without_a_flag_is_appended_before_a_bare_double_dash() {
        let r = rewrite_flags(
            &s(&["run", "--lr", "1", "--", "--batch", "x"]),
            &[set("batch", "64"), set("lr", "2")],
        );
        assert_eq!(
            r.command,
            s(&["run", "--lr", "2", "--batch", "64", "--", "--batch", "x"])
        );
        assert_eq!(r.appended, vec!["batch".to_string()]);
        let r = rewrite_flags(&s(&["run"]), &[set("a", "")]);
        assert_eq!(r.command, s(&["run", "--a", ""]));
    }

    #[test]
    fn every_occurrence_and_prefix_lookalikes() {
        let r = rewrite_flags(
            &s(&["x", "--lr", "1", "--lr-decay", "0.5", "--lr=3"]),
            &[set("lr", "9")],
        );
        assert_eq!(
            r.command,
            s(&["x", "--lr", "9", "--lr-decay", "0.5", "--lr=9"])
        );
    }
}
