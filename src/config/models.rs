//! `[models.NAME]` in `kiroku.toml`: how a registered model is evaluated, what an alias's gate
//! requires, and the deploy hooks that fire when an alias moves.
//!
//! ```toml
//! [models.churn]
//! evaluate = { command = "python eval.py", target = "local" }   # target: default_target
//!
//! [models.churn.aliases.production]
//! require = ["metrics.val/acc >= 0.95", "params.optimizer = 'adam'"]
//! better_than_current = "val/acc"     # "-val/loss": lower is better
//! data_checks = "reviewed"            # or "passed"
//! approvals = 2
//!
//! [[models.churn.hooks]]
//! name = "deploy"                     # default: hooks[N]
//! on = ["alias_moved"]                # default: every event
//! aliases = ["production"]            # default: every alias
//! command = "./deploy.sh"             # run as a job on `target`
//! target = "local"
//! url = "https://ci.example/hook"     # and/or a signed POST
//! secret_env = "DEPLOY_HOOK_SECRET"   # the signing secret's environment variable
//! ```
//!
//! `better_than_current` names a metric; a leading `-` means lower is better (the same sign
//! `kiroku runs --sort -metric` would read). Each `require` is a filter of the run query
//! language (`crate::query`, a module of this layer, so `models::settings` checks their syntax
//! when a `kiroku model` command reads them); everything else is checked when the file is read.
//! A fault names the file, the line (where the file says it) and the key.
use super::line_and_column;
use crate::error::{KirokuError, Result};
use crate::model::{excerpt, EXCERPT_CHARS};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// `[models.NAME]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The evaluation each new version gets.
    #[serde(default)]
    pub evaluate: Option<EvaluateConfig>,
    /// `[models.NAME.aliases.ALIAS]`: the gate of each alias.
    #[serde(default)]
    pub aliases: BTreeMap<String, AliasPolicy>,
    /// `[[models.NAME.hooks]]`.
    #[serde(default)]
    pub hooks: Vec<HookConfig>,
}

/// `evaluate = { command = "...", target = "..." }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateConfig {
    /// A shell command line (run by `sh -c`).
    pub command: String,
    /// Where it runs (default: `default_target`, else `local`).
    #[serde(default)]
    pub target: Option<String>,
    /// The experiment of the evaluation runs (default `model-eval`).
    #[serde(default)]
    pub experiment: Option<String>,
}

/// What data checks a gate requires of the training run's input datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataChecksRule {
    /// Checked, and every result passed (nothing needed a review).
    Passed,
    /// Checked, and nothing blocks: failures approved or waived by a reviewer.
    Reviewed,
}

/// `[models.NAME.aliases.ALIAS]`: what a version must meet to take the alias.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasPolicy {
    /// Filters over the version's run and its evaluation metrics, each of which must hold.
    #[serde(default)]
    pub require: Vec<String>,
    /// A metric the version must beat the alias's current holder on (`-name`: lower wins).
    #[serde(default)]
    pub better_than_current: Option<String>,
    #[serde(default)]
    pub data_checks: Option<DataChecksRule>,
    /// Approvals needed from distinct reviewers (none rejecting).
    #[serde(default)]
    pub approvals: Option<u32>,
}

/// A metric and which way is better, from `better_than_current`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BetterMetric {
    pub metric: String,
    pub higher_is_better: bool,
}

impl AliasPolicy {
    /// `better_than_current` read: `val/acc` (higher wins) or `-val/loss` (lower wins).
    pub fn better_metric(&self) -> Option<BetterMetric> {
        let text = self.better_than_current.as_deref()?.trim();
        Some(match text.strip_prefix('-') {
            Some(metric) => BetterMetric {
                metric: metric.trim().to_string(),
                higher_is_better: false,
            },
            None => BetterMetric {
                metric: text.trim_start_matches('+').trim().to_string(),
                higher_is_better: true,
            },
        })
    }

    /// Whether the policy asks for anything.
    pub fn is_empty(&self) -> bool {
        self.require.is_empty()
            && self.better_than_current.is_none()
            && self.data_checks.is_none()
            && self.approvals.unwrap_or(0) == 0
    }
}

/// The events a hook may fire on.
pub const HOOK_EVENTS: &[&str] = &["alias_moved", "alias_deleted", "version_created"];

/// `[[models.NAME.hooks]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// A name for listings and deliveries (default `hooks[N]`).
    #[serde(default)]
    pub name: Option<String>,
    /// Events it fires on (`HOOK_EVENTS`; default: all).
    #[serde(default)]
    pub on: Vec<String>,
    /// Aliases it fires for (default: all); a hook naming aliases fires on no event without
    /// one (`version_created`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// A shell command line run as a job.
    #[serde(default)]
    pub command: Option<String>,
    /// Where the command runs (default: `default_target`, else `local`).
    #[serde(default)]
    pub target: Option<String>,
    /// A URL to POST the event to, signed.
    #[serde(default)]
    pub url: Option<String>,
    /// The environment variable holding the webhook's signing secret.
    #[serde(default)]
    pub secret_env: Option<String>,
}

impl HookConfig {
    /// Its name: `name`, else `hooks[index]`.
    pub fn display_name(&self, index: usize) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("hooks[{index}]"))
    }

    /// Whether it fires on `event` for `alias` (None: an event of no alias).
    pub fn fires_on(&self, event: &str, alias: Option<&str>) -> bool {
        let event_ok = self.on.is_empty() || self.on.iter().any(|e| e == event);
        // A hook for some aliases fires only on those aliases' events.
        let alias_ok = match alias {
            Some(alias) => self.aliases.is_empty() || self.aliases.iter().any(|a| a == alias),
            None => self.aliases.is_empty(),
        };
        event_ok && alias_ok
    }
}

/// The first fault of the models of a file: the key at fault (`models.churn.hooks[0].url`),
/// text to find its line by, and why.
fn models_fault(
    models: &BTreeMap<String, ModelConfig>,
) -> Option<(String, Option<String>, String)> {
    for (name, model) in models {
        let at = |key: &str| format!("models.{}.{key}", excerpt(name, EXCERPT_CHARS));
        if let Some(evaluate) = &model.evaluate {
            if evaluate.command.trim().is_empty() {
                return Some((at("evaluate.command"), None, "must not be empty".into()));
            }
        }
        for (alias, policy) in &model.aliases {
            if !alias_name_ok(alias) {
                return Some((
                    at(&format!("aliases.{alias}")),
                    None,
                    "an alias is letters, digits, `_` and `-` (not `latest` or `vN`, which MLflow reserves)".into(),
                ));
            }
            if let Some(better) = policy.better_metric() {
                if better.metric.is_empty() {
                    return Some((
                        at(&format!("aliases.{alias}.better_than_current")),
                        None,
                        "names no metric (write `val/acc`, or `-val/loss` when lower is better)"
                            .into(),
                    ));
                }
            }
        }
        for (i, hook) in model.hooks.iter().enumerate() {
            let key = |k: &str| at(&format!("hooks[{i}].{k}"));
            if hook.command.is_none() && hook.url.is_none() {
                return Some((
                    at(&format!("hooks[{i}]")),
                    None,
                    "a hook needs a `command` (run as a job) or a `url` (a signed POST), or both"
                        .into(),
                ));
            }
            if let Some(event) = hook.on.iter().find(|e| !HOOK_EVENTS.contains(&e.as_str())) {
                return Some((
                    key("on"),
                    Some(event.clone()),
                    format!(
                        "unknown event `{}` (events: {})",
                        excerpt(event, EXCERPT_CHARS),
                        HOOK_EVENTS.join(", ")
                    ),
                ));
            }
            if hook.command.as_deref().is_some_and(|c| c.trim().is_empty()) {
                return Some((key("command"), None, "must not be empty".into()));
            }
            if hook.target.is_some() && hook.command.is_none() {
                return Some((
                    key("target"),
                    None,
                    "applies only with `command` (where the command runs)".into(),
                ));
            }
            if let Some(url) = &hook.url {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Some((
                        key("url"),
                        Some(url.clone()),
                        format!(
                            "`{}` is not an http:// or https:// URL",
                            excerpt(url, EXCERPT_CHARS)
                        ),
                    ));
                }
            }
            if hook.secret_env.is_some() && hook.url.is_none() {
                return Some((
                    key("secret_env"),
                    None,
                    "applies only with `url` (it signs the webhook)".into(),
                ));
            }
        }
    }
    None
}

/// An alias as MLflow accepts one: `^[\w\-]*$`, non-empty, not `latest` nor `v<digits>`.
pub fn alias_name_ok(alias: &str) -> bool {
    let reserved = alias.eq_ignore_ascii_case("latest")
        || (alias.len() > 1
            && alias.starts_with(['v', 'V'])
            && alias[1..].bytes().all(|b| b.is_ascii_digit()));
    !alias.is_empty()
        && !reserved
        && alias
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// Checks every `[models.NAME]` of a file; the error names the file, the line and the key.
pub(super) fn check_models(
    models: &BTreeMap<String, ModelConfig>,
    text: &str,
    path: &Path,
) -> Result<()> {
    match models_fault(models) {
        None => Ok(()),
        Some((key, needle, message)) => Err(fault_at(text, path, &key, needle, &message)),
    }
}

/// The error for a fault at `key` (`models.NAME....`) of the file `path` holding `text`: its
/// line is where `needle` first appears, else where the model's table starts.
pub fn fault_at(
    text: &str,
    path: &Path,
    key: &str,
    needle: Option<String>,
    message: &str,
) -> KirokuError {
    let name = key.split('.').nth(1).unwrap_or_default();
    let offset = needle
        .and_then(|n| text.find(&n))
        .or_else(|| text.find(&format!("[models.{name}")))
        .or_else(|| text.find(&format!("models.{name}")));
    KirokuError::Invalid(match offset {
        Some(offset) => format!(
            "{}: line {}: {key}: {message}",
            path.display(),
            line_and_column(text, offset).0
        ),
        None => format!("{}: {key}: {message}", path.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/p/kiroku.toml"))
    }

    #[test]
    fn a_full_model_section_reads() {
        let config = parse(
            r#"
[models.churn]
evaluate = { command = "python eval.py", target = "local" }
[models.churn.aliases.production]
require = ["metrics.val/acc >= 0.95"]
better_than_current = "-val/loss"
data_checks = "reviewed"
approvals = 2
[[models.churn.hooks]]
on = ["alias_moved"]
aliases = ["production"]
url = "http://127.0.0.1:9/hook"
secret_env = "HOOK_SECRET"
"#,
        )
        .unwrap();
        let model = &config.models["churn"];
        assert_eq!(model.evaluate.as_ref().unwrap().command, "python eval.py");
        let policy = &model.aliases["production"];
        assert_eq!(
            policy.better_metric(),
            Some(BetterMetric {
                metric: "val/loss".into(),
                higher_is_better: false
            })
        );
        assert_eq!(policy.data_checks, Some(DataChecksRule::Reviewed));
        assert_eq!(policy.approvals, Some(2));
        assert!(model.hooks[0].fires_on("alias_moved", Some("production")));
        assert!(!model.hooks[0].fires_on("alias_moved", Some("staging")));
        assert!(!model.hooks[0].fires_on("version_created", None));
        let any = HookConfig::default();
        assert!(any.fires_on("version_created", None));
        assert_eq!(model.hooks[0].display_name(0), "hooks[0]");
    }

    #[test]
    fn broken_sections_name_file_line_and_key() {
        for (text, key, line) in [
            (
                "[models.m]\n[[models.m.hooks]]\non = [\"moved\"]\nurl = \"http://x\"\n",
                "models.m.hooks[0].on",
                3,
            ),
            (
                "[models.m]\n[[models.m.hooks]]\naliases = [\"p\"]\n",
                "models.m.hooks[0]",
                1,
            ),
            (
                "[models.m]\n[[models.m.hooks]]\nurl = \"ftp://x\"\n",
                "models.m.hooks[0].url",
                3,
            ),
            (
                "[models.m]\n[[models.m.hooks]]\ncommand = \"x\"\nsecret_env = \"S\"\n",
                "models.m.hooks[0].secret_env",
                1,
            ),
            (
                "[models.m.aliases.latest]\napprovals = 1\n",
                "models.m.aliases.latest",
                1,
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(
                e.contains("/p/kiroku.toml")
                    && e.contains(key)
                    && e.contains(&format!("line {line}:")),
                "{text}: {e}"
            );
        }
        let e = parse("[models.m.aliases.production]\napprovals = \"two\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("approvals"), "{e}");
        let e = parse("[models.m.aliases.production]\ndata_checks = \"ok\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("data_checks"), "{e}");
    }

    #[test]
    fn aliases_follow_mlflow() {
        for ok in ["production", "champion-2", "a_b"] {
            assert!(alias_name_ok(ok), "{ok}");
        }
        for bad in ["", "latest", "LATEST", "v3", "V12", "a b", "a.b"] {
            assert!(!alias_name_ok(bad), "{bad}");
        }
        assert!(alias_name_ok("v"));
        assert!(alias_name_ok("v2a"));
    }
}
