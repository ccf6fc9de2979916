//! `kiroku completions` and `kiroku man` as a user installs them: the bash registration
//! sourced in a real bash, asked to complete a run argument against a real store.
mod common;

use common::Project;
use std::process::Command;

#[test]
fn bash_completes_subcommands_and_run_names_from_the_store() {
    let p = Project::new();
    p.ok(&["run", "--name", "bert-base", "--", "true"]);
    p.ok(&["run", "--name", "resnet", "--", "true"]);
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_kiroku"))
        .parent()
        .unwrap()
        .to_path_buf();
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let script = format!(
            "source <(kiroku completions bash) || exit 9\n\
             COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}\n\
             _clap_complete_kiroku kiroku '{last}' '{prev}'\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words = words.join(" "),
            cword = words.len() - 1,
            last = words[words.len() - 1],
            prev = words[words.len() - 2],
        );
        let out = Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(p.path())
            .env(
                "PATH",
                format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
            )
            .env_remove("KIROKU_STORE")
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(complete("kiroku show ber").trim(), "bert-base");
    let subcommands = complete("kiroku sub");
    assert!(subcommands.lines().any(|l| l == "submit"), "{subcommands}");
    let runs = complete("kiroku diff bert-base ");
    assert!(runs.lines().any(|l| l == "resnet"), "{runs}");
}

#[test]
fn the_manual_page_names_kiroku_and_every_command_gets_a_page() {
    let p = Project::new();
    let page = p.ok(&["man"]);
    assert!(page.contains(".TH kiroku 1"), "{page}");
    let dir = p.path().join("man");
    p.ok(&["man", "--dir", dir.to_str().unwrap()]);
    for page in [
        "kiroku.1",
        "kiroku-runs.1",
        "kiroku-submit.1",
        "kiroku-jobs-ls.1",
    ] {
        assert!(dir.join(page).exists(), "{page}");
    }
    assert!(
        !dir.join("kiroku-job-exec.1").exists(),
        "hidden commands get no page"
    );
    let err = p.kiroku(&["completions", "tcsh"]);
    assert_eq!(err.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&err.stderr).contains("known: bash"));
}
