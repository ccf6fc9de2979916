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
