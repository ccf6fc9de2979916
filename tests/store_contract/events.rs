//! The `EventStore` part of the store contract. Events and the change counter: versions, watching
//! (local and long-polled), and the server ending its long polls when it stops.
use super::*;

contract!(
    version_moves_on_every_write,
    watch_returns_on_a_write_or_at_the_timeout,
);

fn version_moves_on_every_write(store: &dyn Store) {
    let v0 = store.version().unwrap();
    let r = new_run(store, "e", "v");
    let v1 = store.version().unwrap();
    assert!(v1 > v0);
    store.set_star(&r.id, "alice", true).unwrap();
    assert!(store.version().unwrap() > v1);
}

fn watch_returns_on_a_write_or_at_the_timeout(store: &dyn Store) {
    let v = store.version().unwrap();
    let started = Instant::now();
    assert_eq!(store.watch(v, Duration::from_millis(300)).unwrap(), v);
    assert!(started.elapsed() >= Duration::from_millis(250));
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(150));
            new_run(store, "e", "watched");
        });
        let started = Instant::now();
        assert!(store.watch(v, Duration::from_secs(20)).unwrap() > v);
        assert!(started.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn remote_watch_sees_writes_that_bypass_the_server() {
    // Another process writing to the server's store file (here: a second SqliteStore on the
    // same folder) does not wake watchers directly; the server's slow re-check finds it.
    let f = remote();
    let v = f.store.version().unwrap();
    let other = SqliteStore::open(&f._dir.path().join(".kiroku"), false).unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        new_run(&other, "e", "beside");
    });
    let started = Instant::now();
    assert!(f.store.watch(v, Duration::from_secs(20)).unwrap() > v);
    assert!(started.elapsed() < Duration::from_secs(3));
    writer.join().unwrap();
}

#[test]
fn stopping_the_server_ends_pending_long_polls_at_once() {
    let f = remote();
    let v = f.store.version().unwrap();
    let store = Arc::clone(&f.store);
    let waiter = std::thread::spawn(move || store.watch(v, Duration::from_secs(50)));
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    drop(f);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited for the poll"
    );
    let _ = waiter.join().unwrap();
}
