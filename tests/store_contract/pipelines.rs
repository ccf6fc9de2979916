//! The `PipelineStore` part of the store contract: content objects (stored streamed under their
//! md5, refused when the content is not what the id says, read back whole, present or not in
//! one batch, ids that name no object refused) and run-cache entries (recorded, replaced by a
//! later one under the same key, absent keys answered with none).
use super::*;
use kiroku::model::pipeline::{CachedOut, RunCacheEntry};

contract!(
    objects_are_stored_under_their_md5_and_read_back,
    an_object_whose_content_is_not_its_md5_is_refused,
    ids_that_name_no_object_are_refused,
    run_cache_entries_are_recorded_and_replaced,
);

/// md5 of "hello\n" (`printf 'hello\n' | md5sum`).
const HELLO_MD5: &str = "b1946ac92492d2347c6235b4d2611184";

fn read_all(store: &dyn Store, id: &str) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut store.open_object(id).unwrap(), &mut out).unwrap();
    out
}

fn objects_are_stored_under_their_md5_and_read_back(store: &dyn Store) {
    let ids = vec![HELLO_MD5.to_string(), format!("{HELLO_MD5}.dir")];
    assert_eq!(store.has_objects(&ids).unwrap(), vec![false, false]);
    assert!(matches!(
        store.open_object(HELLO_MD5),
        Err(KirokuError::NotFound(_))
    ));
    let size = store
        .put_object(
            HELLO_MD5,
            Box::new(std::io::Cursor::new(b"hello\n".to_vec())),
        )
        .unwrap();
    assert_eq!(size, 6);
    // Again: nothing changes.
    store
        .put_object(
            HELLO_MD5,
            Box::new(std::io::Cursor::new(b"hello\n".to_vec())),
        )
        .unwrap();
    assert_eq!(store.has_objects(&ids).unwrap(), vec![true, false]);
    assert_eq!(read_all(store, HELLO_MD5), b"hello\n");
    // A directory listing is an object of its own, named with `.dir`.
    store
        .put_object(
            &format!("{HELLO_MD5}.dir"),
            Box::new(std::io::Cursor::new(b"hello\n".to_vec())),
        )
        .unwrap();
    assert_eq!(store.has_objects(&ids).unwrap(), vec![true, true]);
    // A large object streams through whole (several pieces of every buffer on the way).
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let id = {
        use md5::Digest;
        kiroku::fsutil::hex(&md5::Md5::digest(&big))
    };
    assert_eq!(
        store
            .put_object(&id, Box::new(std::io::Cursor::new(big.clone())))
            .unwrap(),
        big.len() as u64
    );
    assert!(read_all(store, &id) == big);
}

fn an_object_whose_content_is_not_its_md5_is_refused(store: &dyn Store) {
    let e = store
        .put_object(
            HELLO_MD5,
            Box::new(std::io::Cursor::new(b"hullo\n".to_vec())),
        )
        .unwrap_err();
    assert!(matches!(e, KirokuError::Invalid(_)), "{e}");
    assert!(e.to_string().contains(HELLO_MD5), "{e}");
    assert_eq!(
        store.has_objects(&[HELLO_MD5.to_string()]).unwrap(),
        vec![false]
    );
}

fn ids_that_name_no_object_are_refused(store: &dyn Store) {
    for bad in [
        "../../etc/passwd",
        "B1946AC92492D2347C6235B4D2611184",
        "abc",
    ] {
        assert!(
            matches!(
                store.has_objects(&[bad.to_string()]),
                Err(KirokuError::Invalid(_))
            ),
            "{bad}"
        );
        assert!(store.open_object(bad).is_err(), "{bad}");
        assert!(store
            .put_object(bad, Box::new(std::io::Cursor::new(Vec::new())))
            .is_err());
    }
    assert!(matches!(
        store.run_cache_entry("nothex"),
        Err(KirokuError::Invalid(_))
    ));
}

fn run_cache_entries_are_recorded_and_replaced(store: &dyn Store) {
    let key = "ab".repeat(32);
    assert_eq!(store.run_cache_entry(&key).unwrap(), None);
    let run = new_run(store, "pipe", "prep");
    let mut entry = RunCacheEntry {
        key: key.clone(),
        stage: "prep@1".into(),
        outs: vec![
            CachedOut {
                path: "data/prep/1.bin".into(),
                md5: HELLO_MD5.into(),
                size: 6,
                nfiles: None,
            },
            CachedOut {
                path: "models".into(),
                md5: format!("{HELLO_MD5}.dir"),
                size: 60,
                nfiles: Some(3),
            },
        ],
        run_id: Some(run.id.clone()),
        user: "alice".into(),
        created_at: 0,
    };
    let before = now_ms();
    store.record_run_cache(&entry).unwrap();
    let got = store.run_cache_entry(&key).unwrap().unwrap();
    assert!(got.created_at >= before, "{got:?}");
    assert_eq!(
        RunCacheEntry {
            created_at: 0,
            ..got
        },
        entry
    );
    entry.outs.truncate(1);
    entry.run_id = None;
    store.record_run_cache(&entry).unwrap();
    let got = store.run_cache_entry(&key).unwrap().unwrap();
    assert_eq!(got.outs, entry.outs);
    assert_eq!(got.run_id, None);
    // A bad object id in an entry is refused.
    entry.outs[0].md5 = "nope".into();
    assert!(store.record_run_cache(&entry).is_err());
}
