//! The tool table: every tool's name, description, input schema, whether it writes, and the
//! function that answers it. The schema is the one source of the argument names (`Args::only`
//! refuses any other), so what a client is told and what a call may send cannot drift apart.
use super::args::Args;
use super::{Actor, Host};
use crate::error::Result;
use crate::store::Store;
use serde_json::Value;

/// One call in progress: the host, who is calling, and the arguments.
pub struct Call<'a> {
    pub host: &'a Host,
    pub actor: &'a Actor,
    pub args: Args,
}

impl Call<'_> {
    pub fn store(&self) -> &dyn Store {
        self.host.store.as_ref()
    }

    /// The acting user (for notes, stars, submissions, reviews).
    pub fn user(&self) -> &str {
        &self.actor.user
    }
}

/// What a tool answers: a `kiroku.*/v1` document and a line or two for a person.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub summary: String,
    pub document: Value,
}

impl Reply {
    pub fn new(summary: impl Into<String>, document: Value) -> Self {
        Reply {
            summary: summary.into(),
            document,
        }
    }
}

/// How a tool changes the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads only.
    Read,
    /// Writes; easy to undo or add-only (a note, a tag, a submission).
    Write,
    /// Writes something hard to undo (cancel a job, promote a model): takes `confirm: true`,
    /// and without it answers a preview of what it would do.
    Destructive,
}

/// A tool.
pub struct ToolDef {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// The JSON schema of the arguments (an object schema).
    pub schema: fn() -> Value,
    pub effect: Effect,
    pub run: fn(&Call) -> Result<Reply>,
}

impl ToolDef {
    pub fn writes(&self) -> bool {
        self.effect != Effect::Read
    }

    /// The argument names the schema declares.
    pub fn argument_names(&self) -> Vec<String> {
        (self.schema)()
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// Every tool, by area.
pub fn all() -> Vec<&'static ToolDef> {
    super::runs::TOOLS
        .iter()
        .chain(super::collab::TOOLS)
        .chain(super::jobs::TOOLS)
        .chain(super::data::TOOLS)
        .chain(super::models::TOOLS)
        .collect()
}

/// An object schema from `(name, schema)` properties and the required names.
pub fn object_schema(properties: &[(&str, Value)], required: &[&str]) -> Value {
    let props: serde_json::Map<String, Value> = properties
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    serde_json::json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

/// A string property.
pub fn string(description: &str) -> Value {
    serde_json::json!({"type": "string", "description": description})
}

/// A whole-number property with bounds.
pub fn integer(description: &str, min: u64, max: u64) -> Value {
    serde_json::json!({"type": "integer", "minimum": min, "maximum": max, "description": description})
}

/// A true/false property.
pub fn boolean(description: &str) -> Value {
    serde_json::json!({"type": "boolean", "description": description})
}

/// A list-of-strings property.
pub fn strings(description: &str) -> Value {
    serde_json::json!({"type": "array", "items": {"type": "string"}, "description": description})
}

/// An object of key → string-or-number.
pub fn pairs(description: &str) -> Value {
    serde_json::json!({
        "type": "object",
        "additionalProperties": {"type": ["string", "number", "boolean"]},
        "description": description,
    })
}

/// The `confirm` property of a hard-to-undo tool.
pub fn confirm() -> Value {
    boolean("Set true to carry the change out. Without it the tool only previews what it would do; show the preview to the user before confirming.")
}

/// The run argument, shared by every tool on one run.
pub fn run_ref() -> Value {
    string("The run: its id, a unique id prefix (8+ characters is usual), or its name.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_schemas_are_objects_that_name_their_required_arguments() {
        let tools = all();
        let mut names: Vec<&str> = tools.iter().map(|t| t.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate tool names");
        for t in tools {
            let schema = (t.schema)();
            assert_eq!(schema["type"], "object", "{}", t.name);
            let declared = t.argument_names();
            for r in schema["required"].as_array().unwrap() {
                assert!(
                    declared.contains(&r.as_str().unwrap().to_string()),
                    "{}: required {r} is not a property",
                    t.name
                );
            }
            assert!(
                t.description.len() > 40,
                "{}: describe it for a model",
                t.name
            );
            assert!(
                t.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}",
                t.name
            );
            if t.effect == Effect::Destructive {
                assert!(declared.contains(&"confirm".to_string()), "{}", t.name);
            }
        }
    }
}
