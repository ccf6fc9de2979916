//! The `NoteStore` part of the store contract. Notes and stars: threads, authorship, and the events
//! they leave.
use super::*;

contract!(
    notes_stars_deletion_and_events,
    only_a_notes_author_edits_or_deletes_it,
);

fn notes_stars_deletion_and_events(store: &dyn Store) {
    let r = new_run(store, "e", "n");
    let note = store
        .add_note(
            &r.id,
            &NewNote {
                author: "alice".into(),
                body: "looks good".into(),
                reply_to: None,
                anchor: Some("metrics.acc".into()),
                created_ms: None,
            },
        )
        .unwrap();
    assert_eq!(store.notes(&r.id).unwrap(), vec![note.clone()]);
    assert!(store.set_star(&r.id, "bob", true).unwrap());
    assert!(!store.set_star(&r.id, "bob", true).unwrap());
    assert_eq!(store.run(&r.id).unwrap().run.stars, vec!["bob".to_string()]);
    store.set_deleted(&r.id, true, "alice").unwrap();
    let hidden = store.search_runs(&RunQuery::default()).unwrap();
    assert!(hidden.runs.iter().all(|x| x.id != r.id));
    store.set_deleted(&r.id, false, "alice").unwrap();
    let events = store
        .events(&EventQuery {
            run_id: Some(r.id.clone()),
            ..Default::default()
        })
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"run.deleted") && kinds.contains(&"run.restored"),
        "{kinds:?}"
    );
    let limited = store
        .events(&EventQuery {
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(limited.len(), 1);
}

fn only_a_notes_author_edits_or_deletes_it(store: &dyn Store) {
    let r = new_run(store, "e", "owned");
    let add = |author: &str, body: &str, reply_to| NewNote {
        author: author.into(),
        body: body.into(),
        reply_to,
        anchor: None,
        created_ms: None,
    };
    let first = store.add_note(&r.id, &add("alice", "mine", None)).unwrap();
    let reply = store
        .add_note(&r.id, &add("bob", "a reply", Some(first.id)))
        .unwrap();
    assert!(matches!(
        store.edit_note(&r.id, first.id, "bob was here", "bob"),
        Err(KirokuError::Forbidden(_))
    ));
    assert!(matches!(
        store.delete_note(&r.id, first.id, "bob"),
        Err(KirokuError::Forbidden(_))
    ));
    assert!(matches!(
        store.edit_note(&r.id, 9999, "x", "alice"),
        Err(KirokuError::NotFound(_))
    ));
    let edited = store
        .edit_note(&r.id, first.id, "mine, edited", "alice")
        .unwrap();
    assert_eq!(edited.body, "mine, edited");
    assert_eq!(edited.author, "alice");
    store.delete_note(&r.id, first.id, "alice").unwrap();
    let left = store.notes(&r.id).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].id, left[0].reply_to), (reply.id, None));
}
