//! Outside tools some tests need (tmux, openssl, python's mlflow): one check for all of them.
//!
//! A test that needs a missing tool must not pass without testing anything. Under CI (`CI` set,
//! as `.ci/run` does) it fails with a message saying what to install; on a developer's machine
//! it is skipped with a banner written straight to stderr, which the test harness does not
//! capture, so the skip is seen.
use std::process::Command;

/// Whether `tool PROBE...` runs and exits 0 (e.g. `require_tool("tmux", &["-V"])`). When it
/// does not: panics under CI, else prints a SKIPPED banner and returns `false`, and the test
/// returns at once.
pub fn require_tool(tool: &str, probe: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    ok || missing(&format!("the `{tool}` command"), &format!("install {tool}"))
}

/// Whether `python3 -c "import MODULE"` works; when not, as `require_tool`.
pub fn require_python_module(module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    let hint = if module == "mlflow" {
        "pip install mlflow==3.17.2".to_string()
    } else {
        format!("pip install {module}")
    };
    ok || missing(&format!("python3 with the `{module}` package"), &hint)
}

/// `ok`, or (when not) as `require_tool` for a missing `what` (with a `hint` to get it).
pub fn require(ok: bool, what: &str, hint: &str) -> bool {
    ok || missing(what, hint)
}

/// Fails under CI, else skips loudly; returns `false` for `require_*`'s callers.
fn missing(what: &str, hint: &str) -> bool {
    // libtest runs each test on a thread named after it.
    let current = std::thread::current();
    let test = current.name().unwrap_or("this test");
    if std::env::var_os("CI").is_some() {
        panic!("{test} needs {what}, which is missing, and CI must run it ({hint}; .ci/run does)");
    }
    let banner = format!(
        "\n!!! SKIPPED {test}: it needs {what}, which is missing ({hint} to run it) !!!\n\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), banner.as_bytes());
    false
}
