//! Through what a write came: set around a block of store calls (`through("mcp", || ...)`),
//! every event the SQLite store records on this thread in that block carries it as
//! `detail.via`, so the activity log tells changes an agent made through MCP from those made
//! at the command line. Thread-local because SQLite writes run on the caller's thread.
use std::cell::Cell;

thread_local! {
    static VIA: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Runs `f` with writes marked as made through `via`.
pub fn through<T>(via: &'static str, f: impl FnOnce() -> T) -> T {
    let before = VIA.with(|v| v.replace(Some(via)));
    struct Restore(Option<&'static str>);
    impl Drop for Restore {
        fn drop(&mut self) {
            VIA.with(|v| v.set(self.0));
        }
    }
    let _restore = Restore(before);
    f()
}

/// The origins writes may be marked with, as a request names them (`x-kiroku-via`); any other
/// name is ignored.
pub fn known(name: &str) -> Option<&'static str> {
    ["mcp"].into_iter().find(|k| *k == name)
}

/// What writes on this thread are made through now, if set.
pub fn current() -> Option<&'static str> {
    VIA.with(|v| v.get())
}

/// An event's detail with `via` added when set (an object detail gains the key; an absent
/// one becomes `{"via": ...}`; any other detail is kept as `{"value": ..., "via": ...}`).
pub fn mark(detail: Option<serde_json::Value>) -> Option<serde_json::Value> {
    let Some(via) = current() else {
        return detail;
    };
    Some(match detail {
        Some(serde_json::Value::Object(mut map)) => {
            map.insert("via".into(), via.into());
            serde_json::Value::Object(map)
        }
        None => serde_json::json!({"via": via}),
        Some(other) => serde_json::json!({"value": other, "via": via}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_only_inside_the_block() {
        assert_eq!(mark(None), None);
        let inside = through("mcp", || {
            (
                mark(None),
                mark(Some(serde_json::json!({"key": "a"}))),
                mark(Some(serde_json::json!(3))),
            )
        });
        assert_eq!(inside.0, Some(serde_json::json!({"via": "mcp"})));
        assert_eq!(
            inside.1,
            Some(serde_json::json!({"key": "a", "via": "mcp"}))
        );
        assert_eq!(
            inside.2,
            Some(serde_json::json!({"value": 3, "via": "mcp"}))
        );
        assert_eq!(current(), None);
    }
}
