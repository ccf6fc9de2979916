//! Notes as threads: each note followed by its replies (and theirs), oldest first, so a reply
//! shows under the note it answers whatever was written in between.
use crate::model::Note;
use std::collections::BTreeMap;

/// The notes in thread order, as (index into `notes`, depth): a note, then its replies depth
/// first. A reply whose note is not among `notes` (deleted) starts a thread of its own.
pub fn thread_order(notes: &[Note]) -> Vec<(usize, usize)> {
    let ids: BTreeMap<i64, usize> = notes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let mut replies: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    let mut roots = Vec::new();
    for (i, n) in notes.iter().enumerate() {
        match n.reply_to.filter(|p| ids.contains_key(p) && *p != n.id) {
            Some(parent) => replies.entry(parent).or_default().push(i),
            None => roots.push(i),
        }
    }
    let mut out = Vec::with_capacity(notes.len());
    // Depth first with an explicit stack (children pushed in reverse keep their order).
    let mut stack: Vec<(usize, usize)> = roots.into_iter().rev().map(|i| (i, 0)).collect();
    let mut seen = vec![false; notes.len()];
    while let Some((i, depth)) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        out.push((i, depth));
        if let Some(children) = replies.get(&notes[i].id) {
            stack.extend(children.iter().rev().map(|c| (*c, depth + 1)));
        }
    }
    // Notes in a cycle of replies (not written by kiroku, but a store may hold them).
    for (i, s) in seen.iter().enumerate() {
        if !s {
            out.push((i, 0));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(id: i64, reply_to: Option<i64>) -> Note {
        Note {
            id,
            run_id: "r".into(),
            author: "a".into(),
            created_ms: id,
            updated_ms: id,
            body: String::new(),
            reply_to,
            anchor: None,
        }
    }

    #[test]
    fn replies_follow_the_note_they_answer() {
        // #1, #2, #3 written, #4 written, then a reply to #1 (#5) and a reply to it (#6).
        let notes = [
            note(1, None),
            note(2, None),
            note(3, Some(2)),
            note(4, None),
            note(5, Some(1)),
            note(6, Some(5)),
            note(7, Some(99)),
        ];
        let order: Vec<(i64, usize)> = thread_order(&notes)
            .into_iter()
            .map(|(i, d)| (notes[i].id, d))
            .collect();
        assert_eq!(
            order,
            [(1, 0), (5, 1), (6, 2), (2, 0), (3, 1), (4, 0), (7, 0)]
        );
    }

    #[test]
    fn a_cycle_still_lists_every_note_once() {
        let notes = [note(1, Some(2)), note(2, Some(1))];
        assert_eq!(thread_order(&notes).len(), 2);
    }
}
