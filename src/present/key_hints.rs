//! Why a filter or sort found nothing, in words: the metric, param and tag keys it names that
//! no run has, each with the keys close to it (`metrics.accuracy` is no key of any run; close:
//! `metrics.val/acc`), and for a word the query language took for an unknown attribute
//! (`--sort val/acc`), the run keys it probably meant. Shared by `kiroku runs ls` and the UI.
use crate::model::Run;
use crate::query::RunField;
use crate::suggest::close_matches;
use std::collections::BTreeSet;

/// How many close keys a hint names.
const CLOSE: usize = 3;

/// The metric, param and tag keys of a set of runs, as `metrics.KEY`, `params.KEY`, `tags.KEY`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct KnownKeys {
    qualified: BTreeSet<String>,
}

impl KnownKeys {
    pub fn of_runs(runs: &[Run]) -> KnownKeys {
        let mut qualified = BTreeSet::new();
        for run in runs {
            qualified.extend(run.metrics.keys().map(|k| format!("metrics.{k}")));
            qualified.extend(run.params.keys().map(|k| format!("params.{k}")));
            qualified.extend(run.tags.keys().map(|k| format!("tags.{k}")));
        }
        KnownKeys { qualified }
    }

    fn contains(&self, qualified: &str) -> bool {
        self.qualified.contains(qualified)
    }

    /// Keys close to `key` (without its `metrics.`/`params.`/`tags.` prefix), of any kind.
    fn close_to(&self, key: &str) -> Vec<String> {
        let bare: Vec<(&str, &str)> = self
            .qualified
            .iter()
            .filter_map(|q| q.split_once('.').map(|(_, k)| (k, q.as_str())))
            .collect();
        close_matches(key, bare.iter().map(|(k, _)| *k), CLOSE * 2)
            .into_iter()
            .flat_map(|k| {
                bare.iter()
                    .filter(move |(b, _)| *b == k)
                    .map(|(_, q)| q.to_string())
            })
            .take(CLOSE)
            .collect()
    }
}

/// One hint per metric, param or tag in `fields` that no known run has.
pub fn unknown_key_hints<'a>(
    fields: impl IntoIterator<Item = &'a RunField>,
    known: &KnownKeys,
) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut hints = Vec::new();
    for field in fields {
        let key = match field {
            RunField::Metric(k) | RunField::Param(k) | RunField::Tag(k) => k,
            _ => continue,
        };
        let qualified = field.to_string();
        if known.contains(&qualified) || !seen.insert(qualified.clone()) {
            continue;
        }
        let close = known.close_to(key);
        hints.push(if close.is_empty() {
            format!("{qualified} is not a key of any run")
        } else {
            format!(
                "{qualified} is not a key of any run (close: {})",
                close.join(", ")
            )
        });
    }
    hints
}

/// For a parse error about an unknown attribute `word`: the run keys it probably meant.
pub fn attribute_hint(error: &str, known: &KnownKeys) -> Option<String> {
    let word = error
        .split("unknown attribute '")
        .nth(1)?
        .split('\'')
        .next()?;
    let close = known.close_to(word);
    (!close.is_empty()).then(|| format!("did you mean {}?", close.join(" or ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse_filter;

    fn known() -> KnownKeys {
        KnownKeys {
            qualified: [
                "metrics.val/acc",
                "metrics.val/loss",
                "params.lr",
                "tags.stage",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        }
    }

    #[test]
    fn a_key_no_run_has_is_named_with_close_ones() {
        let filter = parse_filter("metrics.acc > 0.5 and params.lr = 0.1 and metrics.zzzz > 1")
            .unwrap()
            .unwrap();
        assert_eq!(
            unknown_key_hints(filter.fields(), &known()),
            [
                "metrics.acc is not a key of any run (close: metrics.val/acc)",
                "metrics.zzzz is not a key of any run",
            ]
        );
    }

    #[test]
    fn a_bare_word_taken_for_an_attribute_suggests_run_keys() {
        let error = "error at column 1: unknown attribute 'val/acc' (known: run_id, status)";
        assert_eq!(
            attribute_hint(error, &known()).as_deref(),
            Some("did you mean metrics.val/acc?")
        );
        assert_eq!(attribute_hint("something else", &known()), None);
    }
}
