//! An alias move and its hook deliveries are written in one transaction: `kiroku serve` is
//! SIGKILLed at seeded random moments while a client moves a hooked alias back and forth through
//! MLflow's API. After every kill the store's integrity check passes, and every move in the alias
//! history has its delivery in the outbox (a move kept without its delivery would be a deploy
//! hook lost for good); every move the client saw acknowledged is in the history.
//!
//! `KIROKU_FAULT_SEED` replays a failing sequence (the seed is printed on failure).
mod common;

use common::rng::Rng;
use common::{Project, Server};
use kiroku::store::{ModelStore, PromotionStore, SqliteStore};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const ROUNDS: u64 = 12;

fn seed() -> u64 {
    std::env::var("KIROKU_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6d6f_7665)
}

fn post(
    client: &reqwest::blocking::Client,
    url: &str,
    path: &str,
    body: serde_json::Value,
) -> bool {
    client
        .post(format!("{url}/api/2.0/mlflow/{path}"))
        .json(&body)
        .send()
        .is_ok_and(|r| r.status().is_success())
}

/// Checks the store after a kill: integrity, and every move with its delivery (and no delivery
/// without its move). Returns how many moves the history holds.
fn check(p: &Project, round: u64, seed: u64) -> usize {
    let conn = rusqlite::Connection::open(p.store_dir().join("kiroku.db")).unwrap();
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok", "integrity after kill {round} (seed {seed})");
    drop(conn);
    let store = SqliteStore::open(&p.store_dir(), false).unwrap();
    let moves = store.alias_history("served", Some("production")).unwrap();
    let queued: BTreeSet<String> = store
        .deliveries(Some("served"), 100_000)
        .unwrap()
        .into_iter()
        .map(|d| d.delivery.id)
        .collect();
    for m in &moves {
        let id = format!("move-{}-0-webhook", m.id);
        assert!(
            queued.contains(&id),
            "move {} (to {:?}) kept without its delivery after kill {round} (seed {seed})",
            m.id,
            m.to_version
        );
    }
    assert_eq!(
        queued.len(),
        moves.len(),
        "a delivery of no move (seed {seed})"
    );
    moves.len()
}

#[test]
fn a_killed_server_never_keeps_an_alias_move_without_its_hook_delivery() {
    let seed = seed();
    let mut rng = Rng(seed);
    let p = Project::new();
    // A webhook nobody listens on: deliveries stay in the outbox, retried.
    std::fs::write(
        p.path().join("kiroku.toml"),
        "[[models.served.hooks]]\nurl = \"http://127.0.0.1:9/hook\"\non = [\"alias_moved\"]\n",
    )
    .unwrap();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    {
        let server = Server::start(&p, &[]).unwrap();
        assert!(post(
            &client,
            &server.url,
            "registered-models/create",
            serde_json::json!({"name": "served"})
        ));
        for _ in 0..2 {
            assert!(post(
                &client,
                &server.url,
                "model-versions/create",
                serde_json::json!({"name": "served", "source": "s3://bucket/model"})
            ));
        }
    }
    let mut kept = 0;
    for round in 0..ROUNDS {
        let server = Server::start(&p, &[]).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let mover = {
            let (url, stop, client) = (server.url.clone(), Arc::clone(&stop), client.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                let mut acked = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let body = serde_json::json!({"name": "served", "alias": "production", "version": (n % 2 + 1).to_string()});
                    if post(&client, &url, "registered-models/alias", body) {
                        acked += 1;
                    }
                }
                acked
            })
        };
        std::thread::sleep(Duration::from_millis(30 + rng.below(300)));
        let pid = server.child.id() as i32;
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        stop.store(true, Ordering::SeqCst);
        let acked = mover.join().unwrap();
        drop(server);
        let now = check(&p, round, seed);
        // Every move the client saw acknowledged is kept (one more may be, unacknowledged).
        assert!(
            now >= kept + acked,
            "{acked} moves acknowledged in round {round}, {} kept (seed {seed})",
            now - kept
        );
        kept = now;
    }
    assert!(kept > ROUNDS as usize, "moves were made ({kept})");
}
