//! What a review covers and what blocks a run: the one place that decides both.
//!
//! A review binds to one check (its result id) on one dataset version under one suite hash
//! (`Review::version_id`, `Review::suite_hash`). For a result of a check run, the reviews that
//! bind to it are those of the same check, version and suite hash, whichever check run they
//! were made on; the newest decides (a later verdict replaces an earlier one):
//! - a result that passed (or is unsupported) needs none: `Standing::Clear`;
//! - none binds (new data, a changed suite, never reviewed): `Awaiting`;
//! - the newest is a rejection: `Rejected`, which blocks;
//! - the result is worse than what was reviewed (a higher status, or more unexpected rows):
//!   `Awaiting`, saying what it was;
//! - a waiver past its expiry: `Awaiting`, saying when it lapsed;
//! - otherwise (approved, or waived and not lapsed): `Accepted`.
//!
//! `dataset_gate` applies this to a dataset's newest version's newest check run for
//! `--require-checks` (`kiroku run`, `kiroku submit`); the refusal names every blocking check and
//! how to review it.
use crate::error::{KirokuError, Result};
use crate::model::data::DatasetVersion;
use crate::model::{
    CheckResult, CheckRun, CheckRunQuery, CheckStatus, Millis, Review, ReviewVerdict,
};
use crate::store::Store;

/// Where one result stands with its reviewers.
#[derive(Debug, Clone, PartialEq)]
pub enum Standing {
    /// It passed (or is unsupported): nothing to review.
    Clear,
    /// Approved, or waived and not lapsed, by this review.
    Accepted(Review),
    /// Rejected by this review: the data must not be used.
    Rejected(Review),
    /// Needs a review: why (`not reviewed`, `worse than reviewed …`, `waiver … lapsed …`), and
    /// the review that no longer holds, if any.
    Awaiting {
        why: String,
        previous: Option<Box<Review>>,
    },
}

impl Standing {
    /// Whether it keeps data from being used (`--require-checks`).
    pub fn blocks(&self) -> bool {
        matches!(self, Standing::Rejected(_) | Standing::Awaiting { .. })
    }

    /// One word for listings: `clear`, `approved`, `waived`, `rejected`, `awaiting`.
    pub fn label(&self) -> &'static str {
        match self {
            Standing::Clear => "clear",
            Standing::Accepted(review) => review.review.verdict.as_str(),
            Standing::Rejected(_) => "rejected",
            Standing::Awaiting { .. } => "awaiting",
        }
    }
}

/// Whether `result` is worse than what `review` saw: a higher status, or more unexpected rows.
fn worse_than_reviewed(result: &CheckResult, review: &Review) -> bool {
    let more_rows = match (result.unexpected_count, review.unexpected_count_reviewed) {
        (Some(now), Some(then)) => now > then,
        _ => false,
    };
    result.status > review.status_reviewed || more_rows
}

fn counted(status: CheckStatus, unexpected: Option<u64>) -> String {
    match unexpected {
        Some(n) => format!("{status}, {n} unexpected"),
        None => status.to_string(),
    }
}

/// Where result `result` of `run` stands, given `reviews` (any; those that do not bind to the
/// result are ignored) at time `now`.
pub fn standing(run: &CheckRun, result: &CheckResult, reviews: &[Review], now: Millis) -> Standing {
    if !result.status.needs_review() {
        return Standing::Clear;
    }
    let version = run.version_of(result);
    let newest = reviews
        .iter()
        .filter(|r| {
            r.review.result_id == result.id
                && r.version_id == version
                && r.suite_hash == run.run.suite_hash
        })
        .max_by_key(|r| (r.created_at, r.id));
    let Some(review) = newest else {
        return Standing::Awaiting {
            why: "not reviewed".into(),
            previous: None,
        };
    };
    if review.review.verdict == ReviewVerdict::Rejected {
        return Standing::Rejected(review.clone());
    }
    if worse_than_reviewed(result, review) {
        return Standing::Awaiting {
            why: format!(
                "worse than when {} in review {} ({}; now {})",
                review.review.verdict,
                review.id,
                counted(review.status_reviewed, review.unexpected_count_reviewed),
                counted(result.status, result.unexpected_count)
            ),
            previous: Some(Box::new(review.clone())),
        };
    }
    if let Some(until) = review.review.expires_at.filter(|&until| until <= now) {
        return Standing::Awaiting {
            why: format!("waiver in review {} lapsed at {}", review.id, utc(until)),
            previous: Some(Box::new(review.clone())),
        };
    }
    Standing::Accepted(review.clone())
}

/// Every result of `run` with where it stands, in the run's order.
pub fn standings<'a>(
    run: &'a CheckRun,
    reviews: &[Review],
    now: Millis,
) -> Vec<(&'a CheckResult, Standing)> {
    run.run
        .results
        .iter()
        .map(|result| (result, standing(run, result, reviews, now)))
        .collect()
}

/// Whether any result of `run` awaits a review now (a rejected one has had its review).
pub fn awaits_review(run: &CheckRun, reviews: &[Review], now: Millis) -> bool {
    standings(run, reviews, now)
        .iter()
        .any(|(_, s)| matches!(s, Standing::Awaiting { .. }))
}

/// One result that keeps a dataset from being used.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocker {
    pub result: CheckResult,
    pub standing: Standing,
}

/// What `--require-checks NAME` found for a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub dataset: String,
    pub version: DatasetVersion,
    /// The newest check run over the newest version; None when none ran.
    pub check_run: Option<CheckRun>,
    pub blockers: Vec<Blocker>,
}

impl Gate {
    /// Whether the data may be used: checked, and nothing blocks.
    pub fn passes(&self) -> bool {
        self.check_run.is_some() && self.blockers.is_empty()
    }

    /// Why the data may not be used, naming each blocking check and how to review it; None
    /// when it passes.
    pub fn refusal(&self) -> Option<String> {
        if self.passes() {
            return None;
        }
        let version = format!("{}@{}", self.dataset, self.version.number);
        let Some(run) = &self.check_run else {
            return Some(format!(
                "dataset {version} ({}) has no check run; check it first: kiroku check SUITE --data {}={}",
                short_version(&self.version.id),
                self.dataset,
                self.version.path
            ));
        };
        let mut text = format!(
            "dataset {version} is not cleared: check run {} (suite {}, {}) has {} blocking check{}:\n",
            run.id,
            run.run.suite,
            run.run.status,
            self.blockers.len(),
            if self.blockers.len() == 1 { "" } else { "s" }
        );
        for blocker in &self.blockers {
            let why = match &blocker.standing {
                Standing::Rejected(review) => format!(
                    "rejected by {} in review {}: {}",
                    review.review.reviewer, review.id, review.review.comment
                ),
                Standing::Awaiting { why, .. } => why.clone(),
                other => other.label().to_string(),
            };
            text.push_str(&format!(
                "  {}/{}  {}  {why}\n",
                run.id,
                blocker.result.id,
                counted(blocker.result.status, blocker.result.unexpected_count)
            ));
        }
        text.push_str(&format!(
            "review them with: kiroku review {} --approve|--waive|--reject -m TEXT (or kiroku review {}/CHECK …)",
            run.id, run.id
        ));
        Some(text)
    }
}

/// A time as `YYYY-MM-DD HH:MM UTC`, for messages (the store knows no reader's zone).
pub fn utc(ms: Millis) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => format!("{ms} ms"),
    }
}

/// `sha256:` and the first 12 hex digits, for messages.
pub fn short_version(id: &str) -> &str {
    &id[..id.len().min("sha256:".len() + 12)]
}

/// Where dataset `name` stands for `--require-checks`: its newest version, that version's
/// newest check run, and the results that block. `NotFound` when there is no such dataset.
pub fn dataset_gate(store: &dyn Store, name: &str, now: Millis) -> Result<Gate> {
    let version = store.dataset_version(name).map_err(|e| match e {
        KirokuError::NotFound(_) => KirokuError::NotFound(format!(
            "no dataset named {name} to require checks of (register it: kiroku data add {name} PATH)"
        )),
        other => other,
    })?;
    version_gate(store, version, now)
}

/// Where one dataset version stands: its newest check run and the results that block.
pub fn version_gate(store: &dyn Store, version: DatasetVersion, now: Millis) -> Result<Gate> {
    let check_run = store
        .check_runs(&CheckRunQuery {
            version_id: Some(version.id.clone()),
            limit: Some(1),
            ..Default::default()
        })?
        .into_iter()
        .next();
    let blockers = match &check_run {
        None => Vec::new(),
        Some(run) => {
            let reviews = store.reviews(run.id, None)?;
            standings(run, &reviews, now)
                .into_iter()
                .filter(|(_, standing)| standing.blocks())
                .map(|(result, standing)| Blocker {
                    result: result.clone(),
                    standing,
                })
                .collect()
        }
    };
    Ok(Gate {
        dataset: version.dataset.clone(),
        version,
        check_run,
        blockers,
    })
}

/// Why a run may not start, naming every blocking check; None when each dataset of `names`
/// passes its gate: at the version of `pinned` with its name (the version a run was given with
/// `--input`), else at its newest version. A refusal is no error of the store's: the commands
/// print it and exit 1, as for any failure.
pub fn require_checks(
    store: &dyn Store,
    names: &[String],
    pinned: &[DatasetVersion],
    now: Millis,
) -> Result<Option<String>> {
    let mut refusals = Vec::new();
    for name in names {
        let gate = match pinned.iter().find(|v| &v.dataset == name) {
            Some(version) => version_gate(store, version.clone(), now)?,
            None => dataset_gate(store, name, now)?,
        };
        if let Some(refusal) = gate.refusal() {
            refusals.push(refusal);
        }
    }
    if refusals.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "refusing to start (--require-checks):\n{}",
        refusals.join("\n")
    )))
}

/// The results of `check_run` a review addresses: the one named, else each result that awaits a
/// review now. Refused when that leaves none (nothing warned, failed or errored; or all of it
/// already reviewed), saying which. What `kiroku review` and MCP's `review_check` record.
pub fn results_to_review(
    store: &dyn Store,
    check_run: crate::model::CheckRunId,
    result: Option<String>,
    now: Millis,
) -> Result<Vec<String>> {
    let run = store.check_run(check_run)?;
    if let Some(one) = result {
        return Ok(vec![one]);
    }
    let reviews = store.reviews(check_run, None)?;
    let results: Vec<String> = standings(&run, &reviews, now)
        .into_iter()
        .filter(|(_, standing)| matches!(standing, Standing::Awaiting { .. }))
        .map(|(result, _)| result.id.clone())
        .collect();
    if !results.is_empty() {
        return Ok(results);
    }
    let needing = run
        .run
        .results
        .iter()
        .filter(|r| r.status.needs_review())
        .count();
    Err(KirokuError::Invalid(if needing == 0 {
        format!("check run {check_run} has no warned, failed or errored result to review")
    } else {
        format!(
            "every warned, failed or errored result of check run {check_run} is already reviewed; name one (kiroku review {check_run}/CHECK …) to review it again"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CheckSource, CheckedDataset, NewCheckRun, NewReview};

    fn result(id: &str, status: CheckStatus, unexpected: Option<u64>) -> CheckResult {
        CheckResult {
            id: id.into(),
            check_type: "between".into(),
            column: Some("age".into()),
            columns: vec![],
            dataset: None,
            status,
            observed: serde_json::Value::Null,
            expected: serde_json::Value::Null,
            element_count: None,
            missing_count: None,
            unexpected_count: unexpected,
            unexpected_percent: None,
            samples: vec![],
            top_unexpected: vec![],
            message: None,
            details: serde_json::Value::Null,
        }
    }

    fn run(version: &str, suite_hash: &str, results: Vec<CheckResult>) -> CheckRun {
        CheckRun {
            id: 7,
            run: NewCheckRun {
                suite: "s".into(),
                suite_hash: suite_hash.into(),
                source: CheckSource::Kiroku,
                datasets: vec![CheckedDataset {
                    name: "train".into(),
                    version_id: version.into(),
                    path: "/d".into(),
                    rows: 10,
                }],
                status: CheckStatus::overall(results.iter().map(|r| r.status)),
                results,
                started_at: 0,
                ended_at: 0,
                user: "u".into(),
                host: "h".into(),
                run_id: None,
            },
        }
    }

    fn review(
        id: i64,
        verdict: ReviewVerdict,
        version: &str,
        status: CheckStatus,
        unexpected: Option<u64>,
        expires_at: Option<Millis>,
    ) -> Review {
        Review {
            id,
            review: NewReview {
                check_run: 1,
                result_id: "age".into(),
                verdict,
                comment: "ok".into(),
                reviewer: "ana".into(),
                expires_at,
            },
            version_id: version.into(),
            suite_hash: "sha256:s".into(),
            status_reviewed: status,
            unexpected_count_reviewed: unexpected,
            created_at: id,
        }
    }

    use CheckStatus::*;
    use ReviewVerdict::*;

    #[test]
    fn a_pass_needs_no_review_and_an_unreviewed_failure_awaits_one() {
        let r = run("v1", "sha256:s", vec![result("age", Pass, Some(0))]);
        assert_eq!(standing(&r, &r.run.results[0], &[], 0), Standing::Clear);
        let r = run("v1", "sha256:s", vec![result("age", Fail, Some(3))]);
        let s = standing(&r, &r.run.results[0], &[], 0);
        assert!(s.blocks() && s.label() == "awaiting", "{s:?}");
    }

    #[test]
    fn a_review_holds_for_the_same_check_version_and_suite_only() {
        let approved = review(1, Approved, "v1", Fail, Some(3), None);
        let same = run("v1", "sha256:s", vec![result("age", Fail, Some(3))]);
        assert_eq!(
            standing(
                &same,
                &same.run.results[0],
                std::slice::from_ref(&approved),
                0
            )
            .label(),
            "approved"
        );
        let new_data = run("v2", "sha256:s", vec![result("age", Fail, Some(3))]);
        assert!(standing(
            &new_data,
            &new_data.run.results[0],
            std::slice::from_ref(&approved),
            0
        )
        .blocks());
        let new_suite = run("v1", "sha256:t", vec![result("age", Fail, Some(3))]);
        assert!(standing(
            &new_suite,
            &new_suite.run.results[0],
            std::slice::from_ref(&approved),
            0
        )
        .blocks());
        let other_check = run("v1", "sha256:s", vec![result("name", Fail, Some(3))]);
        assert!(standing(&other_check, &other_check.run.results[0], &[approved], 0).blocks());
    }

    #[test]
    fn a_failure_that_got_worse_comes_back() {
        let approved = review(1, Approved, "v1", Warn, Some(3), None);
        let more_rows = run("v1", "sha256:s", vec![result("age", Warn, Some(4))]);
        let s = standing(
            &more_rows,
            &more_rows.run.results[0],
            std::slice::from_ref(&approved),
            0,
        );
        assert!(
            matches!(&s, Standing::Awaiting { why, previous: Some(_) } if why.contains("worse")),
            "{s:?}"
        );
        let higher = run("v1", "sha256:s", vec![result("age", Fail, Some(3))]);
        assert!(standing(
            &higher,
            &higher.run.results[0],
            std::slice::from_ref(&approved),
            0
        )
        .blocks());
        let better = run("v1", "sha256:s", vec![result("age", Warn, Some(2))]);
        assert!(!standing(&better, &better.run.results[0], &[approved], 0).blocks());
    }

    #[test]
    fn a_waiver_lapses_at_its_expiry_and_a_rejection_blocks_until_replaced() {
        let waived = review(1, Waived, "v1", Fail, Some(3), Some(1_000));
        let r = run("v1", "sha256:s", vec![result("age", Fail, Some(3))]);
        assert_eq!(
            standing(&r, &r.run.results[0], std::slice::from_ref(&waived), 999).label(),
            "waived"
        );
        let lapsed = standing(&r, &r.run.results[0], std::slice::from_ref(&waived), 1_000);
        assert!(
            matches!(&lapsed, Standing::Awaiting { why, .. } if why.contains("lapsed")),
            "{lapsed:?}"
        );
        let rejected = review(2, Rejected, "v1", Fail, Some(3), None);
        let both = [waived, rejected.clone()];
        assert_eq!(
            standing(&r, &r.run.results[0], &both, 0),
            Standing::Rejected(rejected.clone())
        );
        let approved_after = review(3, Approved, "v1", Fail, Some(3), None);
        assert_eq!(
            standing(&r, &r.run.results[0], &[rejected, approved_after], 0).label(),
            "approved"
        );
    }

    #[test]
    fn a_result_over_several_datasets_binds_to_all_their_versions() {
        let mut r = run("v1", "sha256:s", vec![result("overlap", Fail, Some(1))]);
        r.run.datasets.push(CheckedDataset {
            name: "test".into(),
            version_id: "v9".into(),
            path: "/t".into(),
            rows: 1,
        });
        assert_eq!(r.version_of(&r.run.results[0]), "v1+v9");
        let mut named = r.run.results[0].clone();
        named.dataset = Some("test".into());
        assert_eq!(r.version_of(&named), "v9");
    }
}
