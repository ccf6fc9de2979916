//! GPU discovery end to end through its `nvidia-smi` fallback: a stand-in `nvidia-smi`
//! (`tests/fixtures/nvidia-smi/fake-nvidia-smi`, answering from fixture files) found first in
//! `PATH` or named by `KIROKU_NVIDIA_SMI`, with NVML switched off (`KIROKU_NVML=off`) so that a
//! box with a real driver tests the fallback too. Several GPUs with their processes, a driver
//! that cannot be reached, no devices, no `nvidia-smi` at all, one that hangs, one whose process
//! list fails. And the binary must not be linked to NVML (it is loaded at run time).
//!
//! One test only: it changes this process's environment (`PATH`), which no other test of this
//! binary may read at the same time.
mod common;

use kiroku::jobs::gpus::{discover_detailed, discover_with, DiscoverySources, GpuSource};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/nvidia-smi")
        .join(name)
}

/// A folder holding `nvidia-smi` (a link to the stand-in) and what it is to answer.
struct FakeSmi {
    dir: tempfile::TempDir,
}

impl FakeSmi {
    fn new() -> FakeSmi {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(fixture("fake-nvidia-smi"), dir.path().join("nvidia-smi"))
            .unwrap();
        FakeSmi { dir }
    }

    fn program(&self) -> PathBuf {
        self.dir.path().join("nvidia-smi")
    }

    /// `query` (`query-gpu` or `compute-apps`) prints the fixture `output` and exits `rc`.
    fn answers(&self, query: &str, output: &str, rc: i32) -> &FakeSmi {
        std::fs::copy(
            fixture(output),
            self.dir.path().join(format!("{query}.out")),
        )
        .unwrap();
        std::fs::write(self.dir.path().join(format!("{query}.rc")), rc.to_string()).unwrap();
        self
    }

    fn hangs(&self) -> &FakeSmi {
        std::fs::write(self.dir.path().join("hang"), "").unwrap();
        self
    }

    fn sources(&self) -> DiscoverySources {
        DiscoverySources {
            nvml: false,
            nvidia_smi: self.program().into(),
            nvidia_smi_timeout: Duration::from_secs(10),
        }
    }
}

#[test]
fn discovery_falls_back_to_nvidia_smi_and_says_why_it_found_none() {
    binary_is_not_linked_to_nvml();

    // Four A100s, two running processes, found through PATH.
    let four = FakeSmi::new();
    four.answers("query-gpu", "query-gpu-4x-a100.csv", 0)
        .answers("compute-apps", "compute-apps-4x-a100.csv", 0);
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut search = vec![four.dir.path().to_path_buf()];
    search.extend(std::env::split_paths(&path));
    std::env::set_var("PATH", std::env::join_paths(search).unwrap());
    std::env::set_var("KIROKU_NVML", "off");
    std::env::remove_var("KIROKU_NVIDIA_SMI");
    let found = discover_detailed();
    assert_eq!(found.source, GpuSource::NvidiaSmi, "{found:?}");
    assert_eq!(found.note, None);
    assert_eq!(
        found.gpus.iter().map(|g| g.index).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert_eq!(found.gpus[0].name, "NVIDIA A100-SXM4-80GB");
    assert_eq!(found.gpus[0].memory_total_mb, Some(81920));
    assert_eq!(
        found
            .gpus
            .iter()
            .map(|g| g.processes.iter().map(|p| p.pid).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        [vec![48213], vec![], vec![50122], vec![]]
    );
    std::env::set_var("PATH", &path);

    // KIROKU_NVIDIA_SMI names the program instead.
    let mig = FakeSmi::new();
    mig.answers("query-gpu", "query-gpu-mig-h100.csv", 0)
        .answers("compute-apps", "compute-apps-mig-h100.csv", 0);
    std::env::set_var("KIROKU_NVIDIA_SMI", mig.program());
    let found = discover_detailed();
    std::env::remove_var("KIROKU_NVIDIA_SMI");
    assert_eq!(found.gpus.len(), 2, "{found:?}");
    assert_eq!(found.gpus[0].utilization_pct, None);
    assert_eq!(found.gpus[0].processes.len(), 2);

    // A driver nvidia-smi cannot reach: no GPUs, and its words kept for the UI.
    let broken = FakeSmi::new();
    broken.answers("query-gpu", "driver-failed.txt", 9);
    let found = discover_with(&broken.sources());
    assert!(found.gpus.is_empty());
    assert_eq!(found.source, GpuSource::None);
    assert_eq!(
        found.note.as_deref(),
        Some("nvidia-smi: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.")
    );

    // A driver without devices.
    let empty = FakeSmi::new();
    empty.answers("query-gpu", "no-devices.txt", 6);
    let found = discover_with(&empty.sources());
    assert!(found.gpus.is_empty());
    assert_eq!(
        found.note.as_deref(),
        Some("nvidia-smi: No devices were found")
    );

    // No nvidia-smi at all.
    let missing = DiscoverySources {
        nvidia_smi: empty.dir.path().join("no-such-nvidia-smi").into(),
        ..empty.sources()
    };
    let found = discover_with(&missing);
    assert!(found.gpus.is_empty());
    assert_eq!(found.source, GpuSource::None);
    assert!(
        found
            .note
            .as_deref()
            .unwrap()
            .starts_with("no NVIDIA driver"),
        "{found:?}"
    );

    // The GPUs answer but their processes do not: GPUs without processes, and a note.
    let half = FakeSmi::new();
    half.answers("query-gpu", "query-gpu-4x-a100.csv", 0)
        .answers("compute-apps", "driver-failed.txt", 15);
    let found = discover_with(&half.sources());
    assert_eq!(found.gpus.len(), 4);
    assert!(found.gpus.iter().all(|g| g.processes.is_empty()));
    assert!(
        found
            .note
            .as_deref()
            .unwrap()
            .contains("compute processes are unknown"),
        "{found:?}"
    );

    // One that never answers is cut off.
    let stuck = FakeSmi::new();
    stuck.hangs();
    let found = discover_with(&DiscoverySources {
        nvidia_smi_timeout: Duration::from_millis(300),
        ..stuck.sources()
    });
    assert!(found.gpus.is_empty());
    assert!(
        found.note.as_deref().unwrap().contains("did not answer"),
        "{found:?}"
    );
}

fn binary_is_not_linked_to_nvml() {
    if !common::requires::require_tool("ldd", &["--version"]) {
        return;
    }
    let out = std::process::Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_kiroku"))
        .output()
        .unwrap();
    let libraries = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{libraries}");
    assert!(libraries.contains("libc.so"), "{libraries}");
    assert!(!libraries.contains("nvidia"), "{libraries}");
}
