//! models tools.
use super::tools::ToolDef;

pub static TOOLS: &[ToolDef] = &[];
