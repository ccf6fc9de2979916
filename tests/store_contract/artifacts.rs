//! The `ArtifactStore` part of the store contract. Artifacts: streamed uploads, deletes with their
//! records, refused paths.
use super::*;

contract!(artifacts_upload_streamed_delete_with_their_records_and_refuse_bad_paths,);

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    kiroku::ingest::files::hex(&sha2::Sha256::digest(data))
}

fn upload(store: &dyn Store, id: &str, path: &str, data: &[u8]) -> kiroku::error::Result<Artifact> {
    store.upload_artifact(
        id,
        path,
        Box::new(std::io::Cursor::new(data.to_vec())),
        None,
    )
}

fn artifacts_upload_streamed_delete_with_their_records_and_refuse_bad_paths(store: &dyn Store) {
    let r = new_run(store, "e", "files");
    // Bigger than any one buffer on the way, so it travels in many pieces.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let a = store
        .upload_artifact(
            &r.id,
            "model/w.bin",
            Box::new(std::io::Cursor::new(big.clone())),
            Some("/src/w.bin"),
        )
        .unwrap();
    let want = Artifact {
        path: "model/w.bin".into(),
        size: Some(big.len() as u64),
        hash: Some(sha256(&big)),
        stored: "copied".into(),
        location: Some("/src/w.bin".into()),
    };
    assert_eq!(a, want);
    upload(store, &r.id, "model/cfg.json", b"{}").unwrap();
    upload(store, &r.id, "notes.txt", b"n").unwrap();
    let paths = |store: &dyn Store| -> Vec<String> {
        store
            .run(&r.id)
            .unwrap()
            .artifacts
            .into_iter()
            .map(|a| a.path)
            .collect()
    };
    assert_eq!(paths(store), ["model/cfg.json", "model/w.bin", "notes.txt"]);
    assert_eq!(store.run(&r.id).unwrap().artifacts[1], want);
    // A longest name (255 bytes) is fine; one byte more is the caller's error.
    upload(store, &r.id, &"n".repeat(255), b"x").unwrap();
    store.delete_artifact(&r.id, &"n".repeat(255)).unwrap();
    let invalid = |result: kiroku::error::Result<Artifact>, what: &str| {
        assert!(
            matches!(result, Err(KirokuError::Invalid(_))),
            "{what}: {result:?}"
        )
    };
    invalid(
        upload(store, &r.id, &"n".repeat(256), b"x"),
        "a 256-byte name",
    );
    // File/folder conflicts: a file where a folder is needed, a folder where a file would go.
    invalid(
        upload(store, &r.id, "notes.txt/inner", b"x"),
        "below a file",
    );
    invalid(upload(store, &r.id, "model", b"x"), "over a folder");
    invalid(upload(store, &r.id, "../x", b"x"), "outside the run");
    // Deleting a folder removes its files' records too; deleting again finds nothing.
    store.delete_artifact(&r.id, "model").unwrap();
    assert_eq!(paths(store), ["notes.txt"]);
    assert!(matches!(
        store.delete_artifact(&r.id, "model"),
        Err(KirokuError::NotFound(_))
    ));
    // A deleted run takes no artifact changes.
    store.set_deleted(&r.id, true, "alice").unwrap();
    let refusal = format!(
        "The run {} must be in the 'active' state. Current state is deleted.",
        r.id
    );
    for result in [
        upload(store, &r.id, "late.txt", b"x").map(|_| ()),
        store.delete_artifact(&r.id, "notes.txt"),
        store.add_artifact(&r.id, &want),
    ] {
        match result {
            Err(KirokuError::Invalid(msg)) => assert_eq!(msg, refusal),
            other => panic!("expected the deleted-run refusal, got {other:?}"),
        }
    }
    store.set_deleted(&r.id, false, "alice").unwrap();
    assert_eq!(paths(store), ["notes.txt"]);
    assert!(matches!(
        upload(store, &"0".repeat(32), "x", b"x"),
        Err(KirokuError::NotFound(_))
    ));
}
