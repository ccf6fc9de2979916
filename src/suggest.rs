//! Close matches for a mistyped word ("did you mean …?"): edit distance, and the candidates
//! near enough to be worth naming.

/// The Levenshtein distance between `a` and `b`, in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

/// Up to `max` of `candidates` close to `word`, nearest first: within a third of the word's
/// length in edits (at least 2), or containing it or contained in it (`accuracy` for `acc`,
/// `val/acc` for `acc`), ignoring case.
pub fn close_matches<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Vec<String> {
    let lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            let c_lower = c.to_lowercase();
            let distance = edit_distance(&lower, &c_lower);
            let related = !lower.is_empty()
                && (c_lower.contains(&lower) || (c_lower.len() >= 2 && lower.contains(&c_lower)));
            (distance <= limit || related).then_some((distance, c))
        })
        .collect();
    scored.sort();
    scored.dedup();
    scored
        .into_iter()
        .take(max)
        .map(|(_, c)| c.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_edits() {
        assert_eq!(edit_distance("between", "betwen"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn close_matches_are_near_or_related_nearest_first() {
        let keys = ["val/acc", "val/loss", "train/loss", "lr"];
        assert_eq!(close_matches("val/ac", keys, 3), ["val/acc"]);
        assert_eq!(close_matches("loss", keys, 3), ["val/loss", "train/loss"]);
        assert_eq!(
            close_matches("accuracy", ["val/acc", "accuracy_top5", "lr"], 3),
            ["accuracy_top5"]
        );
        assert!(close_matches("zzzzzz", keys, 3).is_empty());
    }
}
