//! Command lines as people read and type them: an argument vector shown the way a POSIX shell
//! would need it typed (`shell_words`), and a typed line split back into arguments
//! (`split_shell_words`), so the UI's launch form can show a run's command for editing and
//! queue exactly what was typed.

/// A command line as a shell would need it typed: plain words as they are, others in single
/// quotes (a `'` inside written `'\''`).
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits a typed command line into arguments as a POSIX shell does for quoting (single
/// quotes keep everything, double quotes let `\` escape `"`, `\`, `$` and `` ` ``, a `\`
/// outside quotes escapes the next character), without expanding anything. An unclosed quote
/// is an error that says which.
pub fn split_shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    // Whether a word is under way (`''` is an empty argument, not none).
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a single quote (') is not closed".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a double quote (\") is not closed".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a double quote (\") is not closed".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(c) => word.push(c),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_shown_splits_back_to_the_same_arguments() {
        let argvs: [&[&str]; 4] = [
            &["python", "train.py", "--lr", "0.01"],
            &["sh", "-c", "echo 'hi there'; ls $HOME `pwd`"],
            &["a b", "", "it's", "tab\there", "new\nline", "\\back"],
            &["ünïcode", "--name=x y"],
        ];
        for argv in argvs {
            let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
            assert_eq!(split_shell_words(&shell_words(&argv)).unwrap(), argv);
        }
    }

    #[test]
    fn typed_lines_split_like_a_shell_and_unclosed_quotes_are_named() {
        assert_eq!(
            split_shell_words(r#"  echo "a \"b\" \x" c\ d 'e'f "" "#).unwrap(),
            ["echo", r#"a "b" \x"#, "c d", "ef", ""]
        );
        assert_eq!(split_shell_words("").unwrap(), Vec::<String>::new());
        assert!(split_shell_words("echo 'x").unwrap_err().contains("single"));
        assert!(split_shell_words("echo \"x")
            .unwrap_err()
            .contains("double"));
    }
}
