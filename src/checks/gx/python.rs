//! The two places GX's pandas engine leans on Python itself: `str(value)` (regex and length
//! expectations call `column.astype(str)` first, so `1.0` is matched as the text `1.0` and
//! `1e+16` as `1e+16`), and Python's `re.search` (pandas' `str.contains`), which this runs with
//! Rust's `regex` crate after translating what differs.
//!
//! Python `re` against Rust `regex`, and what this does about each difference:
//! - `$` (outside a class, without `(?m)`) matches at the end *or before a final newline* in
//!   Python, only at the end in Rust: translated to `(?:\n?\z)` (the same yes/no answer).
//! - `\Z` is Python's end of text; Rust spells it `\z`: translated.
//! - A `{` that does not open a valid `{m}`/`{m,}`/`{m,n}`/`{,n}` is a literal in Python and
//!   an error in Rust: escaped; Python's `{,n}` becomes `{0,n}`.
//! - Look-around (`(?=`, `(?!`, `(?<=`, `(?<!`), back-references (`\1`, `(?P=name)`),
//!   conditionals, atomic groups and possessive quantifiers do not exist in Rust's `regex`
//!   (it guarantees linear time): such a pattern is refused with an error naming the
//!   construct, and the expectation's result is `error`, never a guess.
//! - Unicode classes: Python's `\d` is Unicode decimal digits (as Rust's); Python's `\w` is
//!   `str.isalnum()` plus `_`, Rust's is Unicode word characters (Rust also counts combining
//!   marks and connector punctuation); Python's `\s` also matches `\x1c`–`\x1f`, Rust's does
//!   not. These differ only on rare characters and are not translated.
use regex::Regex;

/// Python's `str()` of a cell: ints in decimal, floats as `repr` (`1.0`, `1e+16`, `inf`),
/// booleans `True`/`False`, strings as they are.
pub fn python_str(cell: super::frame::Cell) -> String {
    use super::frame::Cell;
    match cell {
        Cell::Null => "nan".to_string(),
        Cell::Int(value) => value.to_string(),
        Cell::Float(value) => float_repr(value),
        Cell::Bool(true) => "True".to_string(),
        Cell::Bool(false) => "False".to_string(),
        Cell::Str(text) => text.to_string(),
    }
}

/// Python's `repr(float)`: the shortest digits that read back the same, in fixed notation when
/// the decimal exponent is in -4..16, else scientific with a signed two-digit exponent.
pub fn float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    // Rust's `{:e}` gives the shortest round-trip digits: `d.ddd` `e` exponent.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let point = exponent + 1; // value = 0.<digits> × 10^point
    let body = if !(-3..=16).contains(&point) {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!("{first}{fraction}e{exponent_sign}{:02}", exponent.abs())
    } else if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    };
    format!("{sign}{body}")
}

/// A Python `re` pattern compiled for `re.search` semantics with Rust's `regex`, or why it
/// cannot be.
pub fn compile_python_regex(pattern: &str) -> Result<Regex, String> {
    if let Some(construct) = unsupported_construct(pattern) {
        return Err(format!(
            "the regex '{pattern}' uses {construct}, which Python's re has and Rust's regex does not"
        ));
    }
    let translated = translate(pattern);
    Regex::new(&translated)
        .map_err(|error| format!("the regex '{pattern}' does not compile: {error}"))
}

/// The first construct of `pattern` that Rust's `regex` lacks, in words.
fn unsupported_construct(pattern: &str) -> Option<&'static str> {
    let checks: [(&str, &str); 7] = [
        ("(?=", "a look-ahead (?=…)"),
        ("(?!", "a negative look-ahead (?!…)"),
        ("(?<=", "a look-behind (?<=…)"),
        ("(?<!", "a negative look-behind (?<!…)"),
        ("(?P=", "a named back-reference (?P=…)"),
        ("(?>", "an atomic group (?>…)"),
        ("(?(", "a conditional (?(…)…)"),
    ];
    if let Some((_, name)) = checks.iter().find(|(needle, _)| pattern.contains(needle)) {
        return Some(name);
    }
    let bytes = pattern.as_bytes();
    let mut index = 0;
    let mut in_class = false;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' if index + 1 < bytes.len() => {
                if !in_class && bytes[index + 1].is_ascii_digit() && bytes[index + 1] != b'0' {
                    return Some("a back-reference (\\1)");
                }
                index += 2;
                continue;
            }
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'+' | b'*' | b'?' | b'}' if !in_class && bytes.get(index + 1) == Some(&b'+') => {
                return Some("a possessive quantifier (*+, ++, ?+)");
            }
            _ => {}
        }
        index += 1;
    }
    None
}

/// Rewrites the parts of a Python pattern whose meaning differs in Rust (see the module doc).
fn translate(pattern: &str) -> String {
    let multiline = pattern.contains("(?m") || has_inline_flag(pattern, 'm');
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut index = 0;
    let mut in_class = false;
    while index < chars.len() {
        let current = chars[index];
        match current {
            '\\' if index + 1 < chars.len() => {
                let next = chars[index + 1];
                if next == 'Z' && !in_class {
                    out.push_str("\\z");
                } else {
                    out.push(current);
                    out.push(next);
                }
                index += 2;
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` (or `^]`) right after the opening bracket is a literal in both.
                if chars.get(index + 1) == Some(&'^') {
                    out.push('^');
                    index += 1;
                }
                if chars.get(index + 1) == Some(&']') {
                    out.push_str("\\]");
                    index += 1;
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '[' if in_class => out.push_str("\\["),
            '$' if !in_class && !multiline => out.push_str("(?:\\n?\\z)"),
            '{' if !in_class => match quantifier_at(&chars[index..]) {
                Some((text, used)) => {
                    out.push_str(&text);
                    index += used;
                    continue;
                }
                None => out.push_str("\\{"),
            },
            '}' if !in_class => out.push_str("\\}"),
            _ => out.push(current),
        }
        index += 1;
    }
    out
}

/// Whether an inline flag group like `(?im)` or `(?m:` sets `flag`.
fn has_inline_flag(pattern: &str, flag: char) -> bool {
    pattern.match_indices("(?").any(|(at, _)| {
        pattern[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .any(|c| c == flag)
    })
}

/// A `{m}`, `{m,}`, `{m,n}` or `{,n}` quantifier at the start of `chars`: its Rust spelling and
/// how many chars it used.
fn quantifier_at(chars: &[char]) -> Option<(String, usize)> {
    let close = chars.iter().position(|&c| c == '}')?;
    let inner: String = chars[1..close].iter().collect();
    let (low, high) = match inner.split_once(',') {
        Some((low, high)) => (low, Some(high)),
        None => (inner.as_str(), None),
    };
    let digits = |text: &str| text.chars().all(|c| c.is_ascii_digit());
    if !digits(low)
        || !high.is_none_or(digits)
        || (low.is_empty() && high.is_none_or(str::is_empty))
    {
        return None;
    }
    let low = if low.is_empty() { "0" } else { low };
    let text = match high {
        Some(high) => format!("{{{low},{high}}}"),
        None => format!("{{{low}}}"),
    };
    Some((text, close + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456.789, "123456.789"),
            (1.2345e100, "1.2345e+100"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (value, expected) in cases {
            assert_eq!(float_repr(value), expected, "{value:e}");
        }
    }

    #[test]
    fn python_search_semantics_survive_translation() {
        let search =
            |pattern: &str, text: &str| compile_python_regex(pattern).unwrap().is_match(text);
        assert!(
            search("a$", "xa\n"),
            "Python's $ matches before a final newline"
        );
        assert!(!search("a$", "a\nb"));
        assert!(search("a\\Z", "xa") && !search("a\\Z", "a\n"));
        assert!(search("a{", "a{"), "a stray brace is a literal");
        assert!(search("^x{,2}$", "xx") && !search("^x{,2}$", "xxx"));
        assert!(search("[]a]", "]"));
        assert!(search("b", "abc"), "search, not match");
    }

    #[test]
    fn constructs_rust_lacks_are_refused_by_name() {
        assert!(compile_python_regex("(?<=a)b")
            .unwrap_err()
            .contains("look-behind"));
        assert!(compile_python_regex("(a)\\1")
            .unwrap_err()
            .contains("back-reference"));
        assert!(compile_python_regex("a++")
            .unwrap_err()
            .contains("possessive"));
    }
}
