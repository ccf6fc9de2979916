//! One-line plain text from a note's markdown, for excerpts (the activity log): lines joined
//! with spaces (not run together), emphasis and code markers, heading and quote marks and list
//! bullets dropped, runs of whitespace collapsed. The note itself is shown rendered elsewhere.

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

#[cfg(test)]
mod tests {
    use super::*;

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
