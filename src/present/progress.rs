//! Progress for long work (`kiroku demo`, `kiroku import mlflow`, the first open of a big store):
//! an `indicatif` bar or spinner on stderr when stderr is a terminal, and nothing at all when it
//! is piped or redirected, so scripts and logs stay plain.
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Whether progress is drawn: only on a terminal (and never under `KIROKU_NO_PROGRESS`).
pub fn progress_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("KIROKU_NO_PROGRESS").is_none()
}

/// A bar over `len` items (`what` names them: `runs`, `trainings`), hidden off a terminal.
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    if !progress_wanted() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} {msg} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A spinner for work of unknown length (`what`: what is being done), hidden off a terminal.
pub fn progress_spinner(what: &str) -> ProgressBar {
    if !progress_wanted() {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix} {msg} {elapsed}") {
        spinner.set_style(style);
    }
    spinner.set_prefix(what.to_string());
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

/// Prints a line on stderr above the bar when it is drawn, else plainly.
pub fn progress_line(bar: &ProgressBar, line: &str) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// A spinner that appears only when the work outlasts `SLOW_AFTER` (opening a store usually
/// takes milliseconds; a first open that migrates a big store takes seconds). Dropping it ends
/// the work and clears the spinner.
pub struct SlowWork {
    done: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How long work runs before its spinner appears.
const SLOW_AFTER: Duration = Duration::from_millis(400);

/// Starts watching work named `what` (`opening the store`).
pub fn slow_work(what: &str) -> SlowWork {
    if !progress_wanted() {
        return SlowWork {
            done: None,
            thread: None,
        };
    }
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let what = what.to_string();
    let thread = std::thread::spawn(move || {
        if rx.recv_timeout(SLOW_AFTER).is_ok() {
            return;
        }
        let spinner = progress_spinner(&what);
        // Ends when the work is done (a message, or the sender dropped).
        let _ = rx.recv();
        spinner.finish_and_clear();
    });
    SlowWork {
        done: Some(tx),
        thread: Some(thread),
    }
}

impl Drop for SlowWork {
    fn drop(&mut self) {
        if let Some(tx) = self.done.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
