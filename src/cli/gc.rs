//! `kiroku gc [--keep N] [--dry]`: frees the store's pipeline content cache of what neither the
//! current `dvc.lock` nor the last N pipeline runs of each project refer to (the work is
//! `crate::pipelines::gc`'s). `--dry` lists what would go and the bytes, removing nothing.
use super::Context;
use crate::error::Result;
use crate::present::datasets::format_bytes;
use crate::present::Format;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Pipeline runs of each project whose outputs are kept (the newest).
    #[arg(long, default_value_t = 5)]
    pub keep: usize,
    /// List what would be removed and the bytes; remove nothing.
    #[arg(long)]
    pub dry: bool,
    /// The folder holding dvc.yaml, whose dvc.lock is kept (default: the nearest one, if any).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub fn gc_command(ctx: &mut Context, args: &GcArgs, explicit: Option<Format>) -> Result<i32> {
    let root = match &args.dir {
        Some(dir) => Some(dir.clone()),
        None => std::env::current_dir()
            .ok()
            .and_then(|cwd| crate::pipelines::find_root(&cwd).ok()),
    };
    let store = ctx.store()?;
    let report = crate::pipelines::gc::gc(store.as_ref(), root.as_deref(), args.keep, args.dry)?;
    if explicit == Some(Format::Json) {
        super::output::print_json(&report).map_err(super::output::output_error)?;
        return Ok(0);
    }
    let mut text = String::new();
    if report.dry {
        for (id, size) in &report.removed {
            text.push_str(&format!("would remove {id} ({})\n", format_bytes(*size)));
        }
    }
    let verb = if report.dry { "would free" } else { "freed" };
    text.push_str(&format!(
        "{} {verb} ({} objects); kept {} objects ({})\n",
        format_bytes(report.removed_bytes),
        report.removed.len(),
        report.kept,
        format_bytes(report.kept_bytes)
    ));
    super::output::print_text(&text).map_err(super::output::output_error)?;
    Ok(0)
}
