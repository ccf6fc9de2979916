//! The `Store` contract: every test body is written once over `&dyn Store` and runs against
//! `SqliteStore` and against `HttpStore` talking to a live `kiroku serve` (in-process, on a
//! loopback port) over another `SqliteStore`. Remote and local cannot drift apart.
//!
//! One module per domain of the store (`tests/store_contract/<domain>.rs`, beside the domain's
//! trait in `src/store/domains/` and its two implementations); this file holds the fixtures,
//! the `contract!` macro each module declares its tests with, and helpers they share. Tests
//! are named `<domain>::<sqlite|http>::<body>`.
use kiroku::error::KirokuError;
use kiroku::model::*;
use kiroku::series::SeriesQuery;
use kiroku::server::BackgroundServer;
use kiroku::store::http::HttpStore;
use kiroku::store::{SqliteStore, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Fixture {
    _dir: tempfile::TempDir,
    _server: Option<BackgroundServer>,
    store: Arc<dyn Store>,
}

fn local() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
    Fixture {
        _dir: dir,
        _server: None,
        store: Arc::new(store),
    }
}

fn remote() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap());
    let server = BackgroundServer::start(
        sqlite.clone() as Arc<dyn Store>,
        Some(sqlite),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let store = HttpStore::with_token(&server.url(), None).unwrap();
    Fixture {
        _dir: dir,
        _server: Some(server),
        store: Arc::new(store),
    }
}

/// Declares one test per implementation for each contract body of the calling module.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(crate::local().store.as_ref()); })*
        }
        mod http {
            $(#[test] fn $name() { super::$name(crate::remote().store.as_ref()); })*
        }
    };
}

mod artifacts;
mod data;
mod events;
mod experiments;
mod jobs;
mod metrics;
mod models;
mod notes;
mod pipelines;
mod promotions;
mod runs;
mod supervision;

fn new_run(store: &dyn Store, exp: &str, name: &str) -> Run {
    store
        .create_run(&NewRun {
            experiment: exp.into(),
            name: Some(name.into()),
            user: "alice".into(),
            params: vec![("lr".into(), "0.01".into())],
            tags: vec![("team".into(), "vision".into())],
            ..Default::default()
        })
        .unwrap()
}
