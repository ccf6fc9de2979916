//! TEMPORARY STUB (not committed)
use crate::query::{Expr, OrderKey};
pub struct CompiledSearch { pub joins: String, pub where_sql: String, pub order_sql: String, pub params: Vec<rusqlite::types::Value> }
pub fn compile(_f: Option<&Expr>, _o: &[OrderKey]) -> CompiledSearch { CompiledSearch{ joins: String::new(), where_sql: "1".into(), order_sql: "r.start_ms DESC, r.id ASC".into(), params: vec![] } }
