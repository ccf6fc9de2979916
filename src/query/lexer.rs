//! Splits query text into tokens, tracking character columns for error messages.

use super::ast::{decimal_len, is_word_char, CmpOp};
use super::{Dialect, QueryError};

/// The kinds of token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An unquoted word: keyword, field (`metrics.val/acc`) or bare word.
    Word(String),
    /// An unquoted number, or `inf` / `infinity` with a sign (`-inf`), as written.
    Number(String),
    /// A string in single or double quotes, quotes removed.
    Str(String),
    /// A name in backquotes, quotes removed.
    Quoted(String),
    /// A comparison operator.
    Op(CmpOp),
    LParen,
    RParen,
    Comma,
    Eof,
}

/// A token and where it sits in the input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    /// 0-based character index of the first character.
    pub start: usize,
    /// 0-based character index one past the last character.
    pub end: usize,
    /// The source text, as written (empty for `Eof`).
    pub text: String,
}

impl Token {
    /// 1-based column of the token's first character.
    pub fn column(&self) -> usize {
        self.start + 1
    }
}

/// Tokenises `input`; the last token is always `Eof`, placed one past the last character.
/// The dialect decides what a quote inside a quoted string means (`Dialect::quotes_escape`).
pub(crate) fn lex(input: &str, dialect: Dialect) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '=' => {
                i += 1;
                if chars.get(i) == Some(&'=') {
                    i += 1;
                }
                Tok::Op(CmpOp::Eq)
            }
            '!' => {
                if chars.get(i + 1) == Some(&'=') {
                    i += 2;
                    Tok::Op(CmpOp::Ne)
                } else {
                    return Err(QueryError::new(
                        start + 1,
                        "unexpected '!' (did you mean '!='?)",
                    ));
                }
            }
            '<' => {
                i += 1;
                match chars.get(i) {
                    Some('=') => {
                        i += 1;
                        Tok::Op(CmpOp::Le)
                    }
                    Some('>') => {
                        i += 1;
                        Tok::Op(CmpOp::Ne)
                    }
                    _ => Tok::Op(CmpOp::Lt),
                }
            }
            '>' => {
                i += 1;
                if chars.get(i) == Some(&'=') {
                    i += 1;
                    Tok::Op(CmpOp::Ge)
                } else {
                    Tok::Op(CmpOp::Gt)
                }
            }
            '\'' | '"' | '`' => {
                let (text, next) = read_quoted(&chars, i, dialect)?;
                i = next;
                if c != '`' {
                    Tok::Str(text)
                } else if chars.get(i) == Some(&'.') && chars.get(i + 1) != Some(&'.') {
                    // A quoted type: `` `metrics`.acc `` reads as `metrics.acc`, and
                    // `` `tags`.`a b` `` as `tags.` followed by the quoted key.
                    i += 1;
                    let key_start = i;
                    while i < chars.len() && is_word_char(chars[i]) {
                        i += 1;
                    }
                    let key: String = chars[key_start..i].iter().collect();
                    Tok::Word(format!("{text}.{key}"))
                } else {
                    Tok::Quoted(text)
                }
            }
            _ if c.is_alphabetic() || c == '_' => {
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                Tok::Word(chars[start..i].iter().collect())
            }
            '0'..='9' | '.' | '+' | '-' => {
                // Only the characters a decimal can hold (copying the whole rest of the input
                // for every number made lexing quadratic: 10,000 numbers took 10 s).
                let rest: String = chars[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '+' | '-' | 'e' | 'E'))
                    .collect();
                let n = decimal_len(&rest);
                if n > 0 {
                    // decimal_len counts bytes, but a decimal number is ASCII.
                    i += n;
                    if i < chars.len() && is_word_char(chars[i]) {
                        // `2024-01-run`, `1abc`: a word that starts with digits.
                        while i < chars.len() && is_word_char(chars[i]) {
                            i += 1;
                        }
                        Tok::Word(chars[start..i].iter().collect())
                    } else {
                        Tok::Number(chars[start..i].iter().collect())
                    }
                } else if let Some(len) = signed_infinity(&chars[i..]) {
                    i += len;
                    Tok::Number(chars[start..i].iter().collect())
                } else {
                    return Err(QueryError::new(start + 1, format!("unexpected '{c}'")));
                }
            }
            _ => return Err(QueryError::new(start + 1, format!("unexpected '{c}'"))),
        };
        out.push(Token {
            tok,
            start,
            end: i,
            text: chars[start..i].iter().collect(),
        });
    }
    out.push(Token {
        tok: Tok::Eof,
        start: chars.len(),
        end: chars.len(),
        text: String::new(),
    });
    Ok(out)
}

/// Reads a quoted string or name starting at the quote `chars[start]`. Returns the contents
/// and the index after the closing quote. In kiroku's dialect a doubled quote stands for one
/// quote character; in MLflow's the contents are kept as written (see
/// `Dialect::quotes_escape`).
fn read_quoted(
    chars: &[char],
    start: usize,
    dialect: Dialect,
) -> Result<(String, usize), QueryError> {
    if !dialect.quotes_escape() {
        return read_quoted_verbatim(chars, start);
    }
    let q = chars[start];
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                let what = if q == '`' {
                    "unterminated quoted name"
                } else {
                    "unterminated string"
                };
                return Err(QueryError::new(start + 1, what));
            }
            Some(&c) if c == q => {
                if chars.get(i + 1) == Some(&q) {
                    text.push(q);
                    i += 2;
                } else {
                    return Ok((text, i + 1));
                }
            }
            Some(&c) => {
                text.push(c);
                i += 1;
            }
        }
    }
}

/// A quoted string as MLflow's tokenizer (sqlparse) delimits it: `''` and (for `'` and `"`)
/// a backslash before the quote continue the string, and the contents are kept verbatim
/// (`'it''s'` is the text `it''s`). When the greedy reading runs off the end, the string ends
/// at the last quote seen, as the backtracking regular expression would.
fn read_quoted_verbatim(chars: &[char], start: usize) -> Result<(String, usize), QueryError> {
    let q = chars[start];
    let mut i = start + 1;
    let mut last_quote = None;
    while i < chars.len() {
        let c = chars[i];
        if c == q && chars.get(i + 1) == Some(&q) {
            last_quote = Some(i);
            i += 2;
        } else if c == '\\' && q != '`' && chars.get(i + 1) == Some(&q) {
            last_quote = Some(i + 1);
            i += 2;
        } else if c == q {
            return Ok((chars[start + 1..i].iter().collect(), i + 1));
        } else {
            i += 1;
        }
    }
    match last_quote {
        Some(end) => Ok((chars[start + 1..end].iter().collect(), end + 1)),
        None => Err(QueryError::new(
            start + 1,
            if q == '`' {
                "unterminated quoted name"
            } else {
                "unterminated string"
            },
        )),
    }
}

/// Length of `+inf`, `-inf`, `-infinity`, ... at the start of `chars` (a sign is required;
/// unsigned `inf` is an ordinary word).
fn signed_infinity(chars: &[char]) -> Option<usize> {
    if !matches!(chars.first(), Some('+' | '-')) {
        return None;
    }
    let mut end = 1;
    while end < chars.len() && is_word_char(chars[end]) {
        end += 1;
    }
    let word: String = chars[1..end].iter().collect();
    if is_infinity_word(&word) {
        Some(end)
    } else {
        None
    }
}

/// `inf` or `infinity`, ignoring ASCII case.
pub(crate) fn is_infinity_word(word: &str) -> bool {
    word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("infinity")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<Tok> {
        lex(input, Dialect::Kiroku)
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    fn word(s: &str) -> Tok {
        Tok::Word(s.to_string())
    }

    fn num(s: &str) -> Tok {
        Tok::Number(s.to_string())
    }

    #[test]
    fn words_operators_and_numbers() {
        assert_eq!(
            kinds("metrics.val/acc>=-1.5e-3"),
            vec![
                word("metrics.val/acc"),
                Tok::Op(CmpOp::Ge),
                num("-1.5e-3"),
                Tok::Eof
            ]
        );
        assert_eq!(
            kinds("a<>b != c == d <= e < f > g"),
            vec![
                word("a"),
                Tok::Op(CmpOp::Ne),
                word("b"),
                Tok::Op(CmpOp::Ne),
                word("c"),
                Tok::Op(CmpOp::Eq),
                word("d"),
                Tok::Op(CmpOp::Le),
                word("e"),
                Tok::Op(CmpOp::Lt),
                word("f"),
                Tok::Op(CmpOp::Gt),
                word("g"),
                Tok::Eof
            ]
        );
        assert_eq!(
            kinds("(1, +2, .5, 3., 4E5)"),
            vec![
                Tok::LParen,
                num("1"),
                Tok::Comma,
                num("+2"),
                Tok::Comma,
                num(".5"),
                Tok::Comma,
                num("3."),
                Tok::Comma,
                num("4E5"),
                Tok::RParen,
                Tok::Eof
            ]
        );
        assert_eq!(
            kinds("-inf +Infinity inf NaN"),
            vec![
                num("-inf"),
                num("+Infinity"),
                word("inf"),
                word("NaN"),
                Tok::Eof
            ]
        );
        assert_eq!(
            kinds("2024-01-run 1e"),
            vec![word("2024-01-run"), word("1e"), Tok::Eof]
        );
        assert_eq!(
            kinds("tags.mlflow.runName:x-y"),
            vec![word("tags.mlflow.runName:x-y"), Tok::Eof]
        );
        assert_eq!(kinds("精度"), vec![word("精度"), Tok::Eof]);
    }

    #[test]
    fn quotes() {
        assert_eq!(
            kinds(r#"'it''s' "say ""hi""" `a``b`"#),
            vec![
                Tok::Str("it's".into()),
                Tok::Str("say \"hi\"".into()),
                Tok::Quoted("a`b".into()),
                Tok::Eof
            ]
        );
        assert_eq!(kinds("''"), vec![Tok::Str(String::new()), Tok::Eof]);
    }

    #[test]
    fn columns_count_characters() {
        let toks = lex("é = 'ü' x", Dialect::Kiroku).unwrap();
        let cols: Vec<usize> = toks.iter().map(|t| t.column()).collect();
        assert_eq!(cols, vec![1, 3, 5, 9, 10]);
        assert_eq!(toks[2].text, "'ü'");
    }

    #[test]
    fn errors() {
        let e = lex("name = 'abc", Dialect::Kiroku).unwrap_err();
        assert_eq!((e.column, e.message.as_str()), (8, "unterminated string"));
        let e = lex("tags.`abc = 1", Dialect::Kiroku).unwrap_err();
        assert_eq!(
            (e.column, e.message.as_str()),
            (6, "unterminated quoted name")
        );
        let e = lex("a ! b", Dialect::Kiroku).unwrap_err();
        assert_eq!(e.column, 3);
        let e = lex("a = @", Dialect::Kiroku).unwrap_err();
        assert_eq!((e.column, e.message.as_str()), (5, "unexpected '@'"));
        let e = lex("a = -x", Dialect::Kiroku).unwrap_err();
        assert_eq!((e.column, e.message.as_str()), (5, "unexpected '-'"));
        let e = lex("a . b", Dialect::Kiroku).unwrap_err();
        assert_eq!((e.column, e.message.as_str()), (3, "unexpected '.'"));
    }
}
