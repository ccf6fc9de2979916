//! Which columns of a runs listing stay when not all fit, for `kiroku runs ls` and the UI's
//! runs table alike: the id and name and every column the query filters or sorts on stay;
//! params that hold the same value in every listed run go first, then run attributes (user,
//! start, duration), then the params and metrics farthest from what the user looks at. Also
//! the headers that tell a param and a metric of the same key apart (`params.lr`,
//! `metrics.lr`).
use super::columns::Column;
use crate::model::Run;
use crate::query::{Attribute, RunField};
use std::collections::BTreeSet;

/// The rank of a column that always stays.
pub const ALWAYS: u8 = 0;

/// The columns a query names (the fields of its filter and its sort keys); texts that do not
/// parse name none.
pub fn queried_columns(filter: Option<&str>, sort: Option<&str>) -> Vec<Column> {
    let mut fields: Vec<RunField> = filter
        .and_then(|f| crate::query::parse_filter(f).ok().flatten())
        .map(|e| e.fields().into_iter().cloned().collect())
        .unwrap_or_default();
    fields.extend(
        sort.and_then(|s| crate::query::parse_order(s).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|k| k.field),
    );
    let mut out: Vec<Column> = Vec::new();
    for f in fields {
        if let Some(c) = column_of(&f) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// The column that shows a query field, if any.
fn column_of(field: &RunField) -> Option<Column> {
    Some(match field {
        RunField::Metric(k) => Column::Metric(k.clone()),
        RunField::Param(k) => Column::Param(k.clone()),
        RunField::Tag(k) => Column::Tag(k.clone()),
        RunField::Attribute(a) => match a {
            Attribute::RunId => Column::Id,
            Attribute::RunName => Column::Name,
            Attribute::User => Column::User,
            Attribute::Status => Column::Status,
            Attribute::StartTime => Column::Started,
            Attribute::EndTime => Column::Duration,
            Attribute::Experiment => Column::Experiment,
            Attribute::Host => Column::Host,
            _ => return None,
        },
        RunField::Dataset(_) => return None,
    })
}

/// Whether a param holds one value (or none) across `runs`: it tells them not apart.
pub fn is_constant_param(key: &str, runs: &[&Run]) -> bool {
    runs.iter()
        .map(|r| r.params.get(key))
        .collect::<BTreeSet<_>>()
        .len()
        <= 1
}

/// How long a column survives a narrow table: `ALWAYS` stays, higher ranks go first.
pub fn keep_rank(c: &Column, runs: &[&Run], queried: &[Column]) -> u8 {
    if queried.contains(c) {
        return ALWAYS;
    }
    match c {
        Column::Status | Column::Id | Column::Name => ALWAYS,
        Column::Param(k) if runs.len() > 1 && is_constant_param(k, runs) => 9,
        Column::Param(_) | Column::Metric(_) => 1,
        Column::Started => 2,
        Column::Duration => 3,
        Column::User => 4,
        Column::Experiment => 5,
        _ => 6,
    }
}

/// The indices of the columns to show in `max` cells, in table order: columns of `widths`
/// (each followed by `gap` cells) are dropped highest rank first, among equals the one
/// farthest from `focus` (the rightmost when there is no focus), never an `ALWAYS` one nor
/// the focused one; a narrower column dropped earlier comes back where room is left.
pub fn fit_by_rank(
    widths: &[usize],
    ranks: &[u8],
    gap: usize,
    max: usize,
    focus: Option<usize>,
) -> Vec<usize> {
    let total = |shown: &[usize]| -> usize { shown.iter().map(|i| widths[*i] + gap).sum() };
    let mut shown: Vec<usize> = (0..widths.len()).collect();
    let distance = |i: usize| match focus {
        Some(f) => (i.abs_diff(f), i),
        None => (usize::MAX - (widths.len() - i), i),
    };
    while total(&shown) > max {
        let Some((pos, _)) = shown
            .iter()
            .enumerate()
            .filter(|(_, i)| ranks[**i] != ALWAYS && Some(**i) != focus)
            .max_by_key(|(_, i)| (ranks[**i], distance(**i)))
        else {
            break;
        };
        shown.remove(pos);
    }
    for (i, w) in widths.iter().enumerate() {
        if !shown.contains(&i) && total(&shown) + w + gap <= max {
            let at = shown.iter().position(|j| *j > i).unwrap_or(shown.len());
            shown.insert(at, i);
        }
    }
    shown
}

/// A column's header among `cols`: its key alone, unless a param, a metric or a tag of the
/// same key is also shown, when it says which (`params.lr`, `metrics.lr`).
pub fn distinct_header(c: &Column, cols: &[Column]) -> String {
    let key = |c: &Column| match c {
        Column::Param(k) | Column::Metric(k) | Column::Tag(k) => Some(k.clone()),
        _ => None,
    };
    match key(c) {
        Some(k) if cols.iter().any(|o| o != c && key(o).as_ref() == Some(&k)) => c.spec(),
        _ => c.header(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_names_its_filter_and_sort_columns() {
        assert_eq!(
            queried_columns(
                Some("metrics.val/acc > 0.5 and params.lr = 0.1 and user = 'bob'"),
                Some("metrics.train/loss desc, start_time")
            ),
            [
                Column::Metric("val/acc".into()),
                Column::Param("lr".into()),
                Column::User,
                Column::Metric("train/loss".into()),
                Column::Started
            ]
        );
        assert!(queried_columns(Some("metrics.acc >>"), None).is_empty());
    }

    #[test]
    fn columns_go_by_rank_then_distance_from_the_focus() {
        let widths = [4, 4, 4, 4, 4];
        let ranks = [ALWAYS, 1, 9, 1, 1];
        // Room for three (5 cells each): the constant param goes first, then the rightmost.
        assert_eq!(fit_by_rank(&widths, &ranks, 1, 15, None), [0, 1, 3]);
        // Focused on the last: the one farthest from it goes.
        assert_eq!(fit_by_rank(&widths, &ranks, 1, 15, Some(4)), [0, 3, 4]);
        // A focused constant param stays.
        assert_eq!(fit_by_rank(&widths, &ranks, 1, 15, Some(2)), [0, 1, 2]);
        assert_eq!(fit_by_rank(&widths, &ranks, 1, 100, None), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_param_and_a_metric_of_one_key_are_told_apart() {
        let cols = [
            Column::Name,
            Column::Param("lr".into()),
            Column::Param("seed".into()),
            Column::Metric("lr".into()),
        ];
        let headers: Vec<String> = cols.iter().map(|c| distinct_header(c, &cols)).collect();
        assert_eq!(headers, ["NAME", "params.lr", "seed", "metrics.lr"]);
    }
}
