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

/// The keys of the newest runs a query looks at (its experiments, deleted or not as asked).
pub fn known_keys(store: &dyn crate::store::Store, query: &crate::model::RunQuery) -> KnownKeys {
    let sample = store.search_runs_uncounted(&crate::model::RunQuery {
        experiments: query.experiments.clone(),
        limit: Some(2000),
        include_deleted: query.include_deleted,
        only_deleted: query.only_deleted,
        ..Default::default()
    });
    sample
        .map(|page| KnownKeys::of_runs(&page.runs))
        .unwrap_or_default()
}

/// Searches runs; a query error gets the hint `attribute_hint` finds (the run keys a word taken
/// for an unknown attribute probably meant) appended to its message. What `kiroku runs ls` and
/// the MCP `search_runs` tool both answer.
pub fn search_runs_explained(
    store: &dyn crate::store::Store,
    query: &crate::model::RunQuery,
) -> crate::error::Result<crate::model::RunPage> {
    match store.search_runs(query) {
        Err(crate::error::KirokuError::Query { message, caret }) => {
            let hint = attribute_hint(&message, &known_keys(store, query));
            Err(crate::error::KirokuError::Query {
                message: match hint {
                    Some(hint) => format!("{message}; {hint}"),
                    None => message,
                },
                caret,
            })
        }
        other => other,
    }
}

/// Why a query that matched nothing found nothing: the keys it names that no run has (empty
/// when the query names none, or only keys that exist).
pub fn no_match_hints(
    store: &dyn crate::store::Store,
    query: &crate::model::RunQuery,
) -> Vec<String> {
    if query.filter.is_none() && query.sort.is_none() {
        return Vec::new();
    }
    let fields: Vec<RunField> = query
        .filter
        .as_deref()
        .and_then(|f| crate::query::parse_filter(f).ok().flatten())
        .map(|e| e.fields().into_iter().cloned().collect())
        .unwrap_or_default();
    let order = query
        .sort
        .as_deref()
        .and_then(|s| crate::query::parse_order(s).ok())
        .unwrap_or_default();
    let known = known_keys(store, query);
    let all = fields.iter().chain(order.iter().map(|k| &k.field));
    unknown_key_hints(all, &known)
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
