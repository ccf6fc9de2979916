//! `kiroku repro`'s progress on stderr. Each stage's start and end is a line of its own (what
//! runs where, under which run; how it ended and how long it took). On a terminal a status
//! line under them is redrawn in place (stages done of total, what runs now, elapsed);
//! piped, there is no status line, only the plain lines.
use super::executor::{Event, Outcome, Task};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

/// What the status line shows.
struct State {
    total: usize,
    done: usize,
    /// Stage → where it runs, since when.
    running: BTreeMap<String, (String, Instant)>,
    started: Instant,
    /// Whether a status line is on screen (to be cleared before the next plain line).
    drawn: bool,
}

pub struct Progress {
    live: bool,
    quiet: bool,
    state: Mutex<State>,
}

impl Progress {
    /// `live`: redraw a status line (stderr is a terminal); `quiet`: print nothing (`--format
    /// json`, tests).
    pub fn new(live: bool, quiet: bool) -> Progress {
        Progress {
            live: live && !quiet,
            quiet,
            state: Mutex::new(State {
                total: 0,
                done: 0,
                running: BTreeMap::new(),
                started: Instant::now(),
                drawn: false,
            }),
        }
    }

    /// For stderr as it is: live on a terminal.
    pub fn for_stderr(quiet: bool) -> Progress {
        use std::io::IsTerminal;
        Progress::new(std::io::stderr().is_terminal(), quiet)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn begin(&self, total: usize) {
        let mut state = self.lock();
        state.total = total;
        state.started = Instant::now();
    }

    /// Prints one line above the status line.
    fn line(&self, state: &mut State, text: &str) {
        if self.quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        if state.drawn {
            let _ = crossterm::queue!(
                err,
                crossterm::cursor::MoveToColumn(0),
                crossterm::terminal::Clear(crossterm::terminal::ClearType::CurrentLine)
            );
            state.drawn = false;
        }
        let _ = writeln!(err, "{text}");
        drop(err);
        self.draw(state);
    }

    fn draw(&self, state: &mut State) {
        if !self.live || state.total == 0 {
            return;
        }
        let now = Instant::now();
        let running: Vec<String> = state
            .running
            .iter()
            .map(|(stage, (target, since))| {
                format!("{stage} ({target}, {:.0}s)", (now - *since).as_secs_f64())
            })
            .collect();
        let width = crossterm::terminal::size().map_or(100, |(w, _)| w as usize);
        let mut text = format!(
            "[{}/{}] {:.1}s  {}",
            state.done,
            state.total,
            (now - state.started).as_secs_f64(),
            if running.is_empty() {
                String::new()
            } else {
                format!("running: {}", running.join(", "))
            }
        );
        if text.chars().count() >= width {
            text = text
                .chars()
                .take(width.saturating_sub(2))
                .collect::<String>()
                + "…";
        }
        let mut err = std::io::stderr().lock();
        let _ = crossterm::queue!(
            err,
            crossterm::cursor::MoveToColumn(0),
            crossterm::terminal::Clear(crossterm::terminal::ClearType::CurrentLine)
        );
        let _ = write!(err, "{text}");
        let _ = err.flush();
        state.drawn = true;
    }

    /// A stage's records exist: it runs on `target` as run `run_id`.
    pub fn started(&self, stage: &str, target: &str, run_id: Option<&str>) {
        let mut state = self.lock();
        state
            .running
            .insert(stage.to_string(), (target.to_string(), Instant::now()));
        let run = run_id.map_or(String::new(), |r| format!(", run {}", crate::ids::short(r)));
        self.line(&mut state, &format!("▶ {stage} ({target}{run})"));
    }

    pub fn restored(&self, stage: &str, by: &str) {
        let mut state = self.lock();
        self.line(
            &mut state,
            &format!("↺ {stage}: restored from the run-cache ({by})"),
        );
    }

    pub fn note(&self, text: &str) {
        let mut state = self.lock();
        self.line(&mut state, text);
    }

    pub fn event(&self, tasks: &[Task], event: &Event) {
        let Event::Ended {
            task,
            outcome,
            elapsed,
        } = event
        else {
            return;
        };
        let name = &tasks[*task].name;
        let mut state = self.lock();
        state.running.remove(name);
        state.done += 1;
        let secs = elapsed.as_secs_f64();
        let text = match outcome {
            Outcome::Ran => format!("✓ {name} ({secs:.2}s)"),
            // The restore was said when it happened.
            Outcome::Restored => return self.draw(&mut state),
            Outcome::UpToDate => {
                format!("= {name}: up to date (its dependencies came out unchanged)")
            }
            Outcome::Failed(why) => format!("✗ {name} failed ({secs:.2}s): {why}"),
            Outcome::Killed => format!("✗ {name} killed"),
            Outcome::Skipped(by) => format!("- {name} skipped: {by} did not succeed"),
        };
        self.line(&mut state, &text);
    }

    /// Redraws the status line (the elapsed times move).
    pub fn tick(&self) {
        let mut state = self.lock();
        self.draw(&mut state);
    }

    /// Clears the status line for good.
    pub fn finish(&self) {
        let mut state = self.lock();
        if state.drawn {
            let mut err = std::io::stderr().lock();
            let _ = crossterm::queue!(
                err,
                crossterm::cursor::MoveToColumn(0),
                crossterm::terminal::Clear(crossterm::terminal::ClearType::CurrentLine)
            );
            let _ = err.flush();
            state.drawn = false;
        }
    }
}
