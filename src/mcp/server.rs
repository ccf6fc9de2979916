//! The MCP handler: lists the tools the caller may use, runs a call off the reactor, and turns
//! its outcome into a tool result: the `kiroku.*/v1` document as structured content with a
//! short summary, or, for anything the tool refused (an unknown run, a filter with a syntax
//! error, a read-only caller asking to write), a tool error carrying the message and caret the
//! command line prints, with the error as `kiroku.error/v1` structured content.
//!
//! Who calls: over HTTP, the `server::auth::Caller` the server's authentication put on the
//! request (its token's user and read-only flag); over stdio, the host's user.
use super::args::Args;
use super::tools::{self, Call, Effect, ToolDef};
use super::{Actor, Host};
use crate::api::ApiError;
use crate::error::KirokuError;
use crate::server::auth::Caller;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListResourceTemplatesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use std::sync::Arc;

/// What the server tells a client about itself when it connects.
const INSTRUCTIONS: &str = "kiroku is an experiment tracker. Start with list_experiments or \
search_runs (the query language is in its description), read a run with get_run, compare with \
compare_runs. Tools that change something act as the connected user and are logged as made \
through MCP; cancel_job and promote_model preview unless called with confirm: true.";

/// The MCP server over one host. Cheap to clone (one per HTTP session).
#[derive(Clone)]
pub struct KirokuMcp {
    host: Arc<Host>,
}

impl KirokuMcp {
    pub fn new(host: Arc<Host>) -> Self {
        KirokuMcp { host }
    }

    /// Who makes a request: the HTTP caller when there is one, else the host's user.
    pub fn actor(&self, context: &RequestContext<RoleServer>) -> Actor {
        let caller = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>());
        actor_for(&self.host, caller)
    }

    /// The tools `actor` may use: reading ones always, writing ones when they may write.
    pub fn tools_for(&self, actor: &Actor) -> Vec<&'static ToolDef> {
        tools::all()
            .into_iter()
            .filter(|t| actor.may_write || !t.writes())
            .collect()
    }

    /// Runs a tool (blocking: store calls) and shapes its result.
    pub fn call_blocking(&self, actor: &Actor, name: &str, args: Args) -> CallToolResult {
        let Some(tool) = tools::all().into_iter().find(|t| t.name == name) else {
            return tool_error(&KirokuError::NotFound(format!(
                "no tool named '{name}'{}",
                crate::suggest::close_matches(name, tools::all().iter().map(|t| t.name), 1)
                    .first()
                    .map(|c| format!("; did you mean '{c}'?"))
                    .unwrap_or_default()
            )));
        };
        if tool.writes() && !actor.may_write {
            return tool_error(&KirokuError::Forbidden(format!(
                "{name} changes the store, and {}",
                actor
                    .refusal
                    .clone()
                    .unwrap_or_else(|| "this connection may only read".into())
            )));
        }
        let names = tool.argument_names();
        let known: Vec<&str> = names.iter().map(String::as_str).collect();
        if let Err(e) = args.only(&known) {
            return tool_error(&e);
        }
        let call = Call {
            host: &self.host,
            actor,
            args,
        };
        let outcome = if tool.writes() {
            crate::store::origin::through("mcp", || (tool.run)(&call))
        } else {
            (tool.run)(&call)
        };
        match outcome {
            Ok(reply) => {
                let mut result = CallToolResult::structured(reply.document);
                result.content = vec![ContentBlock::text(reply.summary)];
                result
            }
            Err(e) => tool_error(&e),
        }
    }
}

/// The actor for an HTTP caller (`None`: stdio, or a server without authentication).
pub fn actor_for(host: &Host, caller: Option<&Caller>) -> Actor {
    let user = caller
        .and_then(|c| c.user.clone())
        .unwrap_or_else(|| host.user.clone());
    let token_read_only = caller.is_some_and(|c| c.read_only);
    let refusal = if host.read_only {
        Some("this server was started with --read-only".to_string())
    } else if token_read_only {
        Some(format!("the token of '{user}' is read-only"))
    } else {
        None
    };
    Actor {
        user,
        may_write: refusal.is_none(),
        refusal,
    }
}

/// A tool error: the message as the command line prints it (`kiroku: error: ` aside), and
/// the error's `kiroku.error/v1` document (`error_code`, `kind`, `message`, `caret`).
pub fn tool_error(e: &KirokuError) -> CallToolResult {
    let api = ApiError::from(e);
    let mut document = serde_json::to_value(&api).unwrap_or_default();
    document["schema"] = "kiroku.error/v1".into();
    let mut result = CallToolResult::structured_error(document);
    result.content = vec![ContentBlock::text(e.to_string())];
    result
}

/// A tool as a client sees it.
fn describe(tool: &ToolDef) -> Tool {
    let schema = match (tool.schema)() {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let annotations = ToolAnnotations::with_title(tool.title)
        .read_only(tool.effect == Effect::Read)
        .destructive(tool.effect == Effect::Destructive);
    Tool::new(tool.name, tool.description, Arc::new(schema))
        .with_title(tool.title)
        .with_annotations(annotations)
}

impl ServerHandler for KirokuMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(
            Implementation::new("kiroku", env!("CARGO_PKG_VERSION"))
                .with_title("kiroku experiment tracker"),
        )
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let actor = self.actor(&context);
        Ok(ListToolsResult::with_all_items(
            self.tools_for(&actor).into_iter().map(describe).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let actor = self.actor(&context);
        let this = self.clone();
        let name = request.name.to_string();
        let args = Args::new(request.arguments);
        let result = tokio::task::spawn_blocking(move || this.call_blocking(&actor, &name, args))
            .await
            .map_err(|e| ErrorData::internal_error(format!("the tool failed: {e}"), None))?;
        Ok(result.into())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            super::resources::templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let host = Arc::clone(&self.host);
        let uri = request.uri.clone();
        let read = tokio::task::spawn_blocking(move || super::resources::read(&host, &uri))
            .await
            .map_err(|e| ErrorData::internal_error(format!("reading failed: {e}"), None))?;
        match read {
            Ok(result) => Ok(result.into()),
            Err(e) => Err(ErrorData::resource_not_found(e.to_string(), None)),
        }
    }
}
