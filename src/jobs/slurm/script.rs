//! The batch script kiroku hands to `sbatch --parsable`: `#SBATCH` lines (name, working
//! directory, one output file without `%` patterns for stdout and stderr, GPUs, time limit,
//! partition, account, qos, `--no-requeue`), `export NAME='value'` lines for the environment
//! (`--export` cannot carry commas), then the command quoted exactly once, and a line that keeps
//! its exit status in a file for when Slurm has forgotten the job (and removes the job's token
//! file, when it has one).
use crate::error::{KirokuError, Result};
use crate::jobs::job_token::TOKEN_FILE_VARIABLE;
use crate::jobs::remote_shell::{join, quote};

/// Where the job's files are on the machine that runs it (absolute paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFiles {
    pub dir: String,
    pub script: String,
    /// stdout and stderr together.
    pub output: String,
    /// `KIROKU_METRICS_FILE`.
    pub metrics: String,
    /// The command's exit status, written by the script when the command returns.
    pub exit_status: String,
    /// The job's token, when it has one (`KIROKU_JOB_TOKEN_FILE`), mode 0600; the script
    /// removes it when the command returns.
    pub token: String,
}

impl JobFiles {
    pub fn in_dir(dir: &str) -> JobFiles {
        let file = |name: &str| format!("{}/{name}", dir.trim_end_matches('/'));
        JobFiles {
            dir: dir.to_string(),
            script: file("slurm-job.sh"),
            output: file("slurm-output.log"),
            metrics: file("metrics.jsonl"),
            exit_status: file("slurm-exit-status"),
            token: file("token"),
        }
    }
}

/// What the `#SBATCH` lines ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOptions {
    pub job_name: String,
    pub workdir: String,
    pub gpus: u32,
    /// `--time` as Slurm takes it (`D-HH:MM:SS`, minutes, …).
    pub time: Option<String>,
    pub partition: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
}

/// The script's text. `env` is exported as given (names must be shell names); the command's
/// words reach it byte for byte.
pub fn batch_script(
    options: &BatchOptions,
    files: &JobFiles,
    env: &[(String, String)],
    command: &[String],
) -> Result<String> {
    if command.is_empty() {
        return Err(KirokuError::Invalid("the job has no command".into()));
    }
    let mut lines = vec!["#!/bin/sh".to_string()];
    let mut directive = |flag: &str, value: &str| -> Result<()> {
        lines.push(format!(
            "#SBATCH --{flag}={}",
            directive_value(flag, value)?
        ));
        Ok(())
    };
    directive("job-name", &slurm_job_name(&options.job_name))?;
    directive("chdir", &options.workdir)?;
    directive("output", &files.output)?;
    directive("error", &files.output)?;
    if options.gpus > 0 {
        directive("gres", &format!("gpu:{}", options.gpus))?;
    }
    for (flag, value) in [
        ("time", &options.time),
        ("partition", &options.partition),
        ("account", &options.account),
        ("qos", &options.qos),
    ] {
        if let Some(value) = value {
            directive(flag, value)?;
        }
    }
    lines.push("#SBATCH --no-requeue".into());
    for (name, value) in env {
        if !is_shell_name(name) {
            return Err(KirokuError::Invalid(format!(
                "environment variable name '{}' is not a shell name (letters, digits, _)",
                name.escape_debug()
            )));
        }
        let value = quote(value)
            .map_err(|e| KirokuError::Invalid(format!("environment variable {name}: {e}")))?;
        lines.push(format!("export {name}={value}"));
    }
    lines.push(join(command)?);
    lines.push("status=$?".into());
    if env.iter().any(|(name, _)| name == TOKEN_FILE_VARIABLE) {
        lines.push(format!("rm -f -- \"${TOKEN_FILE_VARIABLE}\""));
    }
    lines.push(format!(
        "printf '%s\\n' \"$status\" > {}",
        quote(&files.exit_status)?
    ));
    lines.push("exit \"$status\"".into());
    Ok(lines.join("\n") + "\n")
}

/// `seconds` as Slurm's `D-HH:MM:SS`.
pub fn slurm_duration(seconds: u64) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    format!(
        "{days}-{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn is_shell_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Slurm shows job names in `squeue`; keep them to characters no tool mangles.
fn slurm_job_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "kiroku-job".into()
    } else {
        cleaned
    }
}

/// A value of an `#SBATCH` line: sbatch splits these lines on spaces, honours `'…'` and `"…"`
/// and drops backslashes, so a value is quoted with a quote it does not hold; one holding a
/// backslash, a line break or both quotes cannot be written and is refused.
fn directive_value(flag: &str, value: &str) -> Result<String> {
    let refuse = |why: &str| {
        Err(KirokuError::Invalid(format!(
            "Slurm's --{flag} cannot be '{}': {why}",
            value.escape_debug()
        )))
    };
    if value.is_empty() {
        return refuse("it is empty");
    }
    if value.contains(['\\', '\n', '\r', '\0']) {
        return refuse("an #SBATCH line cannot hold a backslash or a line break");
    }
    if !value.contains('"') {
        Ok(format!("\"{value}\""))
    } else if !value.contains('\'') {
        Ok(format!("'{value}'"))
    } else {
        refuse("an #SBATCH line cannot hold both kinds of quote")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> BatchOptions {
        BatchOptions {
            job_name: "train gpt".into(),
            workdir: "/home/ana/my proj".into(),
            gpus: 2,
            time: Some("0-01:00:00".into()),
            partition: Some("gpu".into()),
            account: Some("ml".into()),
            qos: None,
        }
    }

    #[test]
    fn the_script_carries_directives_env_and_the_command_quoted_once() {
        let files = JobFiles::in_dir("/runs/r1/");
        let script = batch_script(
            &options(),
            &files,
            &[
                ("KIROKU_RUN_ID".into(), "r1".into()),
                ("X".into(), "a,b 'q' $y".into()),
            ],
            &[
                "python".into(),
                "train.py".into(),
                "--note".into(),
                "it's $HOME; `x`\n2".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            script,
            "#!/bin/sh\n\
             #SBATCH --job-name=\"train_gpt\"\n\
             #SBATCH --chdir=\"/home/ana/my proj\"\n\
             #SBATCH --output=\"/runs/r1/slurm-output.log\"\n\
             #SBATCH --error=\"/runs/r1/slurm-output.log\"\n\
             #SBATCH --gres=\"gpu:2\"\n\
             #SBATCH --time=\"0-01:00:00\"\n\
             #SBATCH --partition=\"gpu\"\n\
             #SBATCH --account=\"ml\"\n\
             #SBATCH --no-requeue\n\
             export KIROKU_RUN_ID=r1\n\
             export X='a,b '\\''q'\\'' $y'\n\
             python train.py --note 'it'\\''s $HOME; `x`\n2'\n\
             status=$?\n\
             printf '%s\\n' \"$status\" > /runs/r1/slurm-exit-status\n\
             exit \"$status\"\n"
        );
    }

    #[test]
    fn the_script_reads_back_the_same_words_in_sh() {
        let tricky = [
            "a b",
            "it's",
            "$HOME",
            ";",
            "`id`",
            "line\nbreak",
            "\"q\"",
            "",
            "\\",
        ];
        let command: Vec<String> = ["printf", "<%s>\\n"]
            .iter()
            .chain(tricky.iter())
            .map(|s| s.to_string())
            .collect();
        let files = JobFiles::in_dir("/nonexistent");
        let script = batch_script(&options(), &files, &[], &command).unwrap();
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .unwrap();
        let expected: String = tricky.iter().map(|w| format!("<{w}>\n")).collect();
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }

    #[test]
    fn no_gpus_no_gres_and_quotes_chosen_to_fit() {
        let mut opts = options();
        opts.gpus = 0;
        opts.workdir = "/a \"b".into();
        let script = batch_script(&opts, &JobFiles::in_dir("/r"), &[], &["true".into()]).unwrap();
        assert!(!script.contains("--gres"));
        assert!(script.contains("#SBATCH --chdir='/a \"b'\n"));
    }

    #[test]
    fn unwritable_values_and_names_are_refused() {
        let mut opts = options();
        opts.workdir = "/a'b\"c".into();
        let err = batch_script(&opts, &JobFiles::in_dir("/r"), &[], &["true".into()]);
        assert!(err.unwrap_err().to_string().contains("--chdir"));
        opts.workdir = "/a\\b".into();
        assert!(batch_script(&opts, &JobFiles::in_dir("/r"), &[], &["true".into()]).is_err());
        let err = batch_script(
            &options(),
            &JobFiles::in_dir("/r"),
            &[("A-B".into(), "x".into())],
            &["true".into()],
        );
        assert!(err.unwrap_err().to_string().contains("'A-B'"));
        assert!(batch_script(&options(), &JobFiles::in_dir("/r"), &[], &[]).is_err());
    }

    #[test]
    fn durations_are_days_hours_minutes_seconds() {
        assert_eq!(slurm_duration(60), "0-00:01:00");
        assert_eq!(slurm_duration(90_061), "1-01:01:01");
    }
}
