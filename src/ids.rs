//! Run ids (32 lowercase hex characters, like MLflow's uuid4().hex) and friendly run names.

/// A new random run id.
pub fn new_run_id() -> String {
    let mut bytes = [0u8; 16];
    // The OS random source failing is not recoverable in any useful way; fall back to time+pid.
    if getrandom::getrandom(&mut bytes).is_err() {
        let seed = (crate::model::now_ms() as u128) << 32 | std::process::id() as u128;
        bytes = seed.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The short form of a run id shown to people: its first 8 characters (the whole id when
/// shorter), enough to tell runs apart and to pass back to any command that takes a run.
pub fn short(id: &str) -> &str {
    match id.char_indices().nth(8) {
        Some((end, _)) => &id[..end],
        None => id,
    }
}

/// Whether `s` is a full run id.
pub fn is_full_run_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `s` could be a prefix of a run id.
pub fn is_hex_prefix(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

const ADJECTIVES: &[&str] = &[
    "amber", "bold", "brave", "calm", "clever", "crisp", "eager", "fancy", "gentle", "glad",
    "keen", "lucid", "merry", "nimble", "quiet", "rapid", "sharp", "shy", "silent", "steady",
    "swift", "tidy", "vivid", "warm", "wise", "zesty",
];
const NOUNS: &[&str] = &[
    "badger", "crane", "dolphin", "falcon", "ferret", "gecko", "heron", "ibex", "koala", "lynx",
    "marmot", "newt", "otter", "owl", "panda", "puffin", "quail", "raven", "seal", "stoat",
    "tapir", "trout", "walrus", "wren", "yak", "zebra",
];

/// A short readable name such as `swift-otter-42`, derived from the id so it is stable.
pub fn friendly_name(id: &str) -> String {
    let n = u64::from_str_radix(&id[..id.len().min(12)], 16).unwrap_or(0);
    format!(
        "{}-{}-{}",
        ADJECTIVES[(n % ADJECTIVES.len() as u64) as usize],
        NOUNS[((n / 97) % NOUNS.len() as u64) as usize],
        (n / 7919) % 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_are_the_first_eight_characters() {
        assert_eq!(short("0123456789abcdef0123456789abcdef"), "01234567");
        assert_eq!(short("abc"), "abc");
        assert_eq!(short("ääääääääää"), "ääääääää");
    }

    #[test]
    fn ids_are_32_hex_and_distinct() {
        let a = new_run_id();
        let b = new_run_id();
        assert!(is_full_run_id(&a) && a != b);
        assert_eq!(a, a.to_lowercase());
        assert!(!friendly_name(&a).is_empty());
    }
}
