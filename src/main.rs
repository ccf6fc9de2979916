//! The `kiroku` binary: parse the command line, run it, and map errors to exit codes
//! (2 for usage and input errors, 1 for failures). A closed pipe (`| head`) exits quietly.
use kiroku::cli::{dispatch, quick_parse, Command};

fn main() {
    // A shell asking for completions (`kiroku completions SHELL` registered this) is answered
    // here, before anything else runs or prints.
    kiroku::cli::completions::complete_if_asked();
    let cli = match quick_parse::parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if !matches!(
        cli.command,
        Some(Command::Run(_)) | Some(Command::Demo(_)) | Some(Command::JobExec { .. })
    ) {
        // Listings stop quietly when the reader goes away; `kiroku run` must outlive its
        // terminal (and a job supervisor its starter), so they keep ignoring SIGPIPE.
        // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    match dispatch(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("kiroku: error: {e}");
            std::process::exit(e.exit_code());
        }
    }
}
