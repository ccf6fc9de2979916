//! TEMPORARY STUB (not committed)
#[derive(Debug, Clone, PartialEq)]
pub struct Expr;
#[derive(Debug, Clone, PartialEq)]
pub struct OrderKey;
#[derive(Debug)]
pub struct QueryError { pub column: usize, pub message: String }
impl std::fmt::Display for QueryError { fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { write!(f, "error at column {}: {}", self.column, self.message) } }
impl QueryError { pub fn render_caret(&self, input: &str) -> String { format!("{input}\n{}^", " ".repeat(self.column.saturating_sub(1))) } }
pub fn parse_filter(input: &str) -> Result<Option<Expr>, QueryError> { if input.trim().is_empty() { Ok(None) } else { Err(QueryError{column:1,message:"stub".into()}) } }
pub fn parse_order(_input: &str) -> Result<Vec<OrderKey>, QueryError> { Ok(vec![]) }
