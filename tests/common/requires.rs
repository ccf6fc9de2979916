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

/// The Python interpreter the `dvc` command runs on: DVC lives in a virtualenv of its own
/// (`.ci/run` puts it in `/opt/kiroku-dvc`; its pins clash with soda-core's), so the scripts
/// that import `dvc` must run there. Read from the `dvc` script's `#!` line; `python3` when
/// `dvc` is not a Python script on PATH.
pub fn dvc_python() -> String {
    let script = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("dvc"))
            .find(|p| p.is_file())
    });
    script
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| {
            let first = text.lines().next()?.strip_prefix("#!")?.trim().to_string();
            first.contains("python").then_some(first)
        })
        .unwrap_or_else(|| "python3".to_string())
}

/// Whether DVC's Python package imports on `dvc_python()`; when not, as `require_tool`.
pub fn require_dvc() -> bool {
    let ok = Command::new(dvc_python())
        .args(["-c", "import dvc.repo"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok || missing(
        "DVC 3.67 (the `dvc` command and its Python package)",
        "python3 -m venv /opt/kiroku-dvc && /opt/kiroku-dvc/bin/pip install 'dvc==3.67.*' && ln -s /opt/kiroku-dvc/bin/dvc /usr/local/bin/dvc",
    )
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
