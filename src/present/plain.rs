//! Plain words for people: counts with the right plural, and one-line plain text from a note's markdown, for excerpts (the activity log): lines joined
//! with spaces (not run together), emphasis and code markers, heading and quote marks and list
//! bullets dropped, runs of whitespace collapsed. The note itself is shown rendered elsewhere.

/// `n` and the noun, singular for one: `1 point`, `5 points` (the noun takes an `s`).
pub fn count_of(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Runs named for a message: `run lr0.1-s1 (3f2a91c0)`, `3 runs: a, b, c`, or the first
/// three of many and how many more (`labels`: one per run, as the caller names them).
pub fn runs_named(labels: &[String]) -> String {
    const SHOWN: usize = 3;
    match labels {
        [one] => format!("run {one}"),
        _ => {
            let mut text = format!("{}: {}", count_of(labels.len() as u64, "run"), {
                labels
                    .iter()
                    .take(SHOWN)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            if labels.len() > SHOWN {
                text.push_str(&format!(" and {} more", labels.len() - SHOWN));
            }
            text
        }
    }
}

/// Why a failed run failed, as its output says: the last line that names an error or
/// exception (`FloatingPointError: loss is nan`), else the last line that is not blank.
pub fn last_error_line(log: &str) -> Option<&str> {
    let lines = log
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty());
    let names_error = |l: &&str| {
        let lower = l.to_ascii_lowercase();
        [
            "error",
            "exception",
            "traceback",
            "fatal",
            "panicked",
            "killed",
        ]
        .iter()
        .any(|w| lower.contains(w))
    };
    // The last error line, unless it is a traceback's header (the line after says more).
    let all: Vec<&str> = lines.collect();
    all.iter()
        .rev()
        .find(|l| names_error(l) && !l.starts_with("Traceback"))
        .or(all.last())
        .map(|l| l.trim())
}

/// `text` (markdown) as one plain line.
pub fn plain_one_line(text: &str) -> String {
    let words: Vec<String> = text
        .lines()
        .map(|line| {
            let line = line.trim_start();
            let line = line
                .trim_start_matches('#')
                .trim_start_matches('>')
                .trim_start();
            let line = ["- ", "* ", "+ "]
                .iter()
                .find_map(|bullet| line.strip_prefix(bullet))
                .unwrap_or(line);
            line.replace("**", "").replace("__", "").replace('`', "")
        })
        .collect();
    words
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// An event's detail on one line, as `key=value` pairs (`stage=review`, `note_id=4 excerpt=…`,
/// a note's markdown excerpt as plain text), for the activity screen and `kiroku events`.
pub fn event_detail(e: &crate::model::Event) -> String {
    let Some(d) = &e.detail else {
        return String::new();
    };
    match d {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    // A note's excerpt is markdown, maybe of several lines: one plain line here.
                    serde_json::Value::String(s) if k == "excerpt" => plain_one_line(s),
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                format!("{k}={v}")
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_error_line_is_the_one_that_says_why() {
        let log = "epoch 1\nTraceback (most recent call last):\n  x\nValueError: bad\nbye\n";
        assert_eq!(last_error_line(log), Some("ValueError: bad"));
        assert_eq!(last_error_line("a\nlast words  \n\n"), Some("last words"));
        assert_eq!(last_error_line("\n \n"), None);
    }

    #[test]
    fn runs_are_named_up_to_three() {
        let l = |n: usize| (0..n).map(|i| format!("r{i}")).collect::<Vec<_>>();
        assert_eq!(runs_named(&l(1)), "run r0");
        assert_eq!(runs_named(&l(2)), "2 runs: r0, r1");
        assert_eq!(runs_named(&l(5)), "5 runs: r0, r1, r2 and 2 more");
    }

    #[test]
    fn counts_are_singular_for_one() {
        assert_eq!(count_of(1u64, "point"), "1 point");
        assert_eq!(count_of(0u64, "point"), "0 points");
        assert_eq!(count_of(5u32, "run"), "5 runs");
    }

    #[test]
    fn lines_are_joined_and_markdown_marks_dropped() {
        assert_eq!(
            plain_one_line("Loss looks fine, acc too.\n**Promote?**"),
            "Loss looks fine, acc too. Promote?"
        );
        assert_eq!(
            plain_one_line("# Result\n> quoted `lr`\n- one\n* two\n\n  spaced   out"),
            "Result quoted lr one two spaced out"
        );
        assert_eq!(plain_one_line("snake_case and 2*3"), "snake_case and 2*3");
    }
}
