//! `kiroku review CHECKRUN|CHECKRUN/RESULT --approve|--waive|--reject -m TEXT [--until TIME]`:
//! a reviewer's verdict on a check run's failed, warned or errored results. A check run alone
//! reviews each of its results that awaits a review now (see `store::checks_gate`); a result
//! names one, whatever its standing. The store binds each review to the result's dataset
//! version and suite hash and records it in the activity log.
use super::output::{output_error, print_json, print_text};
use super::Context;
use crate::error::{KirokuError, Result};
use crate::model::{now_ms, CheckRunId, Millis, NewReview, Review, ReviewVerdict};
use crate::present::Format;
use crate::store::checks_gate;
use clap::{ArgGroup, Args};

/// The JSON schema of the reviews `kiroku review` recorded.
const REVIEWS_SCHEMA: &str = "kiroku.reviews/v1";

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("verdict").required(true).args(["approve", "waive", "reject"])))]
pub struct ReviewArgs {
    /// A check run (`12`: each of its results awaiting review) or one result (`12/age-range`).
    pub target: String,
    /// The failure is acceptable as it is.
    #[arg(long)]
    pub approve: bool,
    /// Accept it for now, with a reason (`-m`), optionally until a time (`--until`).
    #[arg(long)]
    pub waive: bool,
    /// The data must not be used.
    #[arg(long)]
    pub reject: bool,
    /// Why (required for a waiver).
    #[arg(long, short = 'm', value_name = "TEXT", default_value = "")]
    pub message: String,
    /// When a waiver lapses: a time (`2026-12-31`, `2026-12-31 18:00`) or a span from now
    /// (`12h`, `7d`).
    #[arg(long, value_name = "TIME", requires = "waive")]
    pub until: Option<String>,
}

impl ReviewArgs {
    fn verdict(&self) -> ReviewVerdict {
        if self.approve {
            ReviewVerdict::Approved
        } else if self.waive {
            ReviewVerdict::Waived
        } else {
            ReviewVerdict::Rejected
        }
    }
}

/// `12` or `12/age-range`.
fn parse_target(target: &str) -> Result<(CheckRunId, Option<String>)> {
    let (run, result) = match target.split_once('/') {
        Some((run, result)) => (run, Some(result.to_string())),
        None => (target, None),
    };
    let id = run.trim().parse::<CheckRunId>().map_err(|_| {
        KirokuError::Invalid(format!(
            "'{target}' is not a check run (a number, as in 12) or a result (12/CHECK)"
        ))
    })?;
    if result.as_deref().is_some_and(str::is_empty) {
        return Err(KirokuError::Invalid(format!(
            "'{target}' names no result after the '/'"
        )));
    }
    Ok((id, result))
}

fn parse_until(text: &str, now: Millis) -> Result<Millis> {
    crate::present::time::parse_until(text, now, "--until")
}

/// `kiroku review`.
pub fn review(ctx: &mut Context, args: &ReviewArgs) -> Result<i32> {
    let now = now_ms();
    let (check_run, result) = parse_target(&args.target)?;
    let expires_at = args
        .until
        .as_deref()
        .map(|t| parse_until(t, now))
        .transpose()?;
    let store = ctx.store()?;
    let results = checks_gate::results_to_review(store.as_ref(), check_run, result, now)?;
    let mut recorded: Vec<Review> = Vec::new();
    for result_id in results {
        recorded.push(store.add_review(&NewReview {
            check_run,
            result_id,
            verdict: args.verdict(),
            comment: args.message.clone(),
            reviewer: ctx.user.clone(),
            expires_at,
        })?);
    }
    if ctx.format == Format::Json {
        print_json(&serde_json::json!({"schema": REVIEWS_SCHEMA, "reviews": recorded}))
            .map_err(output_error)?;
        return Ok(0);
    }
    let mut text = String::new();
    for review in &recorded {
        let until = crate::present::time::until_text(review.review.expires_at);
        text.push_str(&format!(
            "{} {}/{} ({}){until}\n",
            review.review.verdict, check_run, review.review.result_id, review.status_reviewed
        ));
    }
    print_text(&text).map_err(output_error)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_a_check_run_or_one_of_its_results() {
        assert_eq!(parse_target("12").unwrap(), (12, None));
        assert_eq!(
            parse_target("12/expect:age/x").unwrap(),
            (12, Some("expect:age/x".into()))
        );
        assert!(parse_target("abc").is_err());
        assert!(parse_target("12/").is_err());
    }

    #[test]
    fn until_is_a_span_from_now_or_a_time() {
        assert_eq!(parse_until("12h", 1_000).unwrap(), 1_000 + 12 * 3_600_000);
        assert_eq!(parse_until("7d", 0).unwrap(), 7 * 86_400_000);
        assert_eq!(
            parse_until("2026-11-01T00:00:00Z", 0).unwrap(),
            1_793_491_200_000
        );
        assert!(parse_until("soon", 0).is_err());
        assert!(parse_until("12x", 0).is_err());
    }
}
