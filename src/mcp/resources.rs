//! Runs and experiments as resources a client can attach to a conversation:
//! `kiroku://run/ID` (the run as `kiroku.run/v1`) and `kiroku://experiment/ID` (the experiment
//! and its newest runs as `kiroku.experiment/v1`). ID is anything the command line takes: a run
//! id, prefix or name; an experiment id or name.
use super::Host;
use crate::error::{KirokuError, Result};
use crate::model::RunQuery;
use rmcp::model::{ReadResourceResult, ResourceContents, ResourceTemplate};

/// Runs an experiment resource lists.
const EXPERIMENT_RUNS: u64 = 50;

pub fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new("kiroku://run/{id}", "run")
            .with_title("A kiroku run")
            .with_description("One run: params, metric summaries, tags, notes, source (kiroku.run/v1). {id}: run id, prefix or name.")
            .with_mime_type("application/json"),
        ResourceTemplate::new("kiroku://experiment/{id}", "experiment")
            .with_title("A kiroku experiment")
            .with_description("An experiment and its newest runs (kiroku.experiment/v1). {id}: experiment id or name.")
            .with_mime_type("application/json"),
    ]
}

/// What a resource URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Run(String),
    Experiment(String),
}

/// Reads `kiroku://run/ID` or `kiroku://experiment/ID` (ID percent-decoded).
pub fn parse_uri(uri: &str) -> Result<Target> {
    let rest = uri.strip_prefix("kiroku://").ok_or_else(|| {
        KirokuError::Invalid(format!(
            "'{uri}' is not a kiroku resource (kiroku://run/ID or kiroku://experiment/ID)"
        ))
    })?;
    let (kind, id) = rest.split_once('/').unwrap_or((rest, ""));
    let id = percent_decode(id);
    if id.is_empty() {
        return Err(KirokuError::Invalid(format!("'{uri}' names no id")));
    }
    match kind {
        "run" => Ok(Target::Run(id)),
        "experiment" => Ok(Target::Experiment(id)),
        other => Err(KirokuError::Invalid(format!(
            "unknown resource kind '{other}' in '{uri}' (run or experiment)"
        ))),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The resource's JSON document.
pub fn document(host: &Host, target: &Target) -> Result<serde_json::Value> {
    let store = host.store.as_ref();
    Ok(match target {
        Target::Run(reference) => {
            let id = store.resolve_run(reference)?;
            serde_json::json!({"schema": "kiroku.run/v1", "run": store.run(&id)?})
        }
        Target::Experiment(reference) => {
            let experiment = store.experiment(reference)?;
            let page = store.search_runs(&RunQuery {
                experiments: vec![experiment.name.clone()],
                limit: Some(EXPERIMENT_RUNS),
                ..Default::default()
            })?;
            serde_json::json!({
                "schema": "kiroku.experiment/v1",
                "experiment": experiment,
                "total_runs": page.total,
                "runs": page.runs,
            })
        }
    })
}

pub fn read(host: &Host, uri: &str) -> Result<ReadResourceResult> {
    let target = parse_uri(uri)?;
    let text = serde_json::to_string_pretty(&document(host, &target)?)
        .map_err(|e| KirokuError::Invalid(format!("encoding {uri}: {e}")))?;
    Ok(ReadResourceResult::new(vec![ResourceContents::text(
        text, uri,
    )
    .with_mime_type("application/json")]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_run_and_experiment_uris() {
        assert_eq!(
            parse_uri("kiroku://run/abc123").unwrap(),
            Target::Run("abc123".into())
        );
        assert_eq!(
            parse_uri("kiroku://experiment/my%20exp").unwrap(),
            Target::Experiment("my exp".into())
        );
        assert!(parse_uri("kiroku://run/").is_err());
        assert!(parse_uri("file:///etc/passwd").is_err());
        let e = parse_uri("kiroku://model/x").unwrap_err().to_string();
        assert!(e.contains("unknown resource kind 'model'"), "{e}");
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
