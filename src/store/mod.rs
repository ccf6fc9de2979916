//! The project store: the `Store` trait and its implementations.
pub mod sqlite;
