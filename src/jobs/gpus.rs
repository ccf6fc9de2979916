//! GPU discovery: NVML (loaded at run time), else `nvidia-smi`; a box without either has no GPUs.
//! And the local target's GPU inventory for the scheduler: which GPUs it may book, and which of
//! them run someone else's work.
//!
//! - **NVML** through `nvml-wrapper`, which `dlopen`s `libnvidia-ml.so.1` at `Nvml::init()`, so
//!   the binary is not linked to it and runs on boxes without a driver. It is initialised once
//!   per process (the first discovery) and kept.
//! - **`nvidia-smi`** when NVML is not there: `--query-gpu=index,uuid,name,memory.used,
//!   memory.total,utilization.gpu` and `--query-compute-apps=pid,gpu_uuid,used_memory`, both
//!   `--format=csv,noheader,nounits` (`parse_gpu_query`, `parse_compute_apps`: pure, tested on
//!   fixtures under `tests/fixtures/nvidia-smi/`). It gets 10 s to answer.
//! - **Neither** (no driver, no GPUs, a broken driver): no GPUs, with the reason kept in
//!   `GpuDiscovery::note` for the UI.
//!
//! Environment: `KIROKU_NVML=off` skips NVML (straight to `nvidia-smi`); `KIROKU_NVIDIA_SMI`
//! names the `nvidia-smi` program to run (default: `nvidia-smi` on `PATH`).
use crate::config::{GpuSpec, JobsConfig};
use crate::error::Result;
use crate::model::{excerpt, Job, EXCERPT_CHARS};
use crate::process::{boot_id, host_name, pid_namespace, start_ticks, ProcessIdentity};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// One GPU as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuInfo {
    /// The PCI-bus-order index (`CUDA_DEVICE_ORDER=PCI_BUS_ID`), as `nvidia-smi` numbers it.
    pub index: u32,
    pub uuid: String,
    pub name: String,
    pub memory_used_mb: Option<u64>,
    pub memory_total_mb: Option<u64>,
    /// None where the driver does not say (MIG, `[N/A]`).
    pub utilization_pct: Option<u32>,
    /// Compute processes on it (host pids, as the driver reports them).
    pub processes: Vec<GpuProcess>,
}

impl GpuInfo {
    /// Free memory in MiB, when the driver reports both used and total.
    pub fn memory_free_mb(&self) -> Option<u64> {
        Some(self.memory_total_mb?.saturating_sub(self.memory_used_mb?))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuProcess {
    pub pid: u32,
    pub used_memory_mb: Option<u64>,
}

/// Where a discovery's GPUs came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GpuSource {
    Nvml,
    NvidiaSmi,
    /// Neither answered: no GPUs.
    None,
}

/// What one discovery found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuDiscovery {
    /// In index order; empty without a driver or GPUs.
    pub gpus: Vec<GpuInfo>,
    pub source: GpuSource,
    /// Why there are no GPUs (`no NVIDIA driver: …`, `nvidia-smi: NVIDIA-SMI has failed because
    /// it couldn't communicate with the NVIDIA driver. …`), or what was partly missing (a GPU
    /// NVML could not read, lines `nvidia-smi` printed that are not GPUs); None when all is well.
    pub note: Option<String>,
}

/// The GPUs of this box, in index order; empty without a driver or GPUs (never an error:
/// `discover_detailed` says why there are none).
pub fn discover() -> Result<Vec<GpuInfo>> {
    Ok(discover_detailed().gpus)
}

/// The GPUs of this box with where they came from and, when there are none, why.
///
/// A box found to have no driver at all (NVML not loadable, no `nvidia-smi` program) is
/// remembered for the life of the process: a scheduler pass or a UI refresh then costs no
/// failed program start. A driver that fails (or GPUs that come and go) is asked every time.
pub fn discover_detailed() -> GpuDiscovery {
    static NO_DRIVER: OnceLock<GpuDiscovery> = OnceLock::new();
    if let Some(known) = NO_DRIVER.get() {
        return known.clone();
    }
    let found = discover_with(&DiscoverySources::from_env());
    if found.source == GpuSource::None
        && found
            .note
            .as_deref()
            .is_some_and(|n| n.starts_with("no NVIDIA driver"))
    {
        let _ = NO_DRIVER.set(found.clone());
    }
    found
}

/// Which discovery methods to try, in order: NVML (when `nvml`), then the `nvidia_smi` program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoverySources {
    pub nvml: bool,
    pub nvidia_smi: OsString,
    /// How long `nvidia-smi` may take per call before it is killed.
    pub nvidia_smi_timeout: Duration,
}

impl DiscoverySources {
    /// From `KIROKU_NVML` (`off`: skip NVML) and `KIROKU_NVIDIA_SMI` (the program to run).
    pub fn from_env() -> DiscoverySources {
        DiscoverySources {
            nvml: std::env::var("KIROKU_NVML").map_or(true, |v| v != "off"),
            nvidia_smi: std::env::var_os("KIROKU_NVIDIA_SMI")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "nvidia-smi".into()),
            nvidia_smi_timeout: Duration::from_secs(10),
        }
    }
}

/// Discovery through `sources`: NVML if allowed and loadable, else `nvidia-smi`, else none.
pub fn discover_with(sources: &DiscoverySources) -> GpuDiscovery {
    let nvml_failure = if sources.nvml {
        match nvml() {
            Ok(nvml) => return from_nvml(nvml),
            Err(why) => Some(why),
        }
    } else {
        None
    };
    match from_nvidia_smi(&sources.nvidia_smi, sources.nvidia_smi_timeout) {
        SmiOutcome::Found(found) => found,
        SmiOutcome::Missing => GpuDiscovery {
            gpus: Vec::new(),
            source: GpuSource::None,
            note: Some(match nvml_failure {
                Some(why) => format!("no NVIDIA driver (NVML: {why}; nvidia-smi: not found)"),
                None => "no NVIDIA driver (NVML: off; nvidia-smi: not found)".into(),
            }),
        },
        SmiOutcome::Failed(why) => GpuDiscovery {
            gpus: Vec::new(),
            source: GpuSource::None,
            note: Some(format!("nvidia-smi: {why}")),
        },
    }
}

/// NVML, initialised by the first call in this process and kept; its failure is kept too.
fn nvml() -> std::result::Result<&'static nvml_wrapper::Nvml, &'static str> {
    static NVML: OnceLock<std::result::Result<nvml_wrapper::Nvml, String>> = OnceLock::new();
    NVML.get_or_init(|| {
        nvml_wrapper::Nvml::init().map_err(|e| {
            let why = match e {
                // `libnvidia-ml.so.1: cannot open shared object file: …`
                nvml_wrapper::error::NvmlError::LibloadingError(e) => e.to_string(),
                e => e.to_string(),
            };
            excerpt(&why, 2 * EXCERPT_CHARS)
        })
    })
    .as_ref()
    .map_err(String::as_str)
}

const MIB: u64 = 1024 * 1024;

/// Every GPU NVML can read; one it cannot is left out and named in the note.
fn from_nvml(nvml: &nvml_wrapper::Nvml) -> GpuDiscovery {
    let mut problems = Vec::new();
    let mut gpus = Vec::new();
    match nvml.device_count() {
        Err(e) => problems.push(format!("NVML could not count the GPUs: {e}")),
        Ok(count) => {
            for i in 0..count {
                match nvml_gpu(nvml, i) {
                    Ok(gpu) => gpus.push(gpu),
                    Err(e) => problems.push(format!("GPU {i}: NVML: {e}")),
                }
            }
        }
    }
    gpus.sort_by_key(|gpu| gpu.index);
    if gpus.is_empty() && problems.is_empty() {
        problems.push("NVML sees no GPUs".into());
    }
    GpuDiscovery {
        gpus,
        source: GpuSource::Nvml,
        note: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

fn nvml_gpu(
    nvml: &nvml_wrapper::Nvml,
    i: u32,
) -> std::result::Result<GpuInfo, nvml_wrapper::error::NvmlError> {
    let device = nvml.device_by_index(i)?;
    let memory = device.memory_info().ok();
    let processes = device
        .running_compute_processes()
        .unwrap_or_default()
        .into_iter()
        .map(|p| GpuProcess {
            pid: p.pid,
            used_memory_mb: match p.used_gpu_memory {
                nvml_wrapper::enums::device::UsedGpuMemory::Used(bytes) => Some(bytes / MIB),
                nvml_wrapper::enums::device::UsedGpuMemory::Unavailable => None,
            },
        })
        .collect();
    Ok(GpuInfo {
        index: device.index().unwrap_or(i),
        uuid: device.uuid()?,
        name: device.name().unwrap_or_default(),
        memory_used_mb: memory.as_ref().map(|m| m.used / MIB),
        memory_total_mb: memory.as_ref().map(|m| m.total / MIB),
        utilization_pct: device.utilization_rates().ok().map(|u| u.gpu),
        processes,
    })
}

/// The `nvidia-smi` arguments for the GPU list and for the compute processes.
pub const GPU_QUERY_ARGS: [&str; 2] = [
    "--query-gpu=index,uuid,name,memory.used,memory.total,utilization.gpu",
    "--format=csv,noheader,nounits",
];
pub const COMPUTE_APPS_ARGS: [&str; 2] = [
    "--query-compute-apps=pid,gpu_uuid,used_memory",
    "--format=csv,noheader,nounits",
];

enum SmiOutcome {
    Found(GpuDiscovery),
    /// No such program.
    Missing,
    /// It ran and failed (a broken driver, no devices, a timeout): why, in its words.
    Failed(String),
}

fn from_nvidia_smi(program: &OsString, timeout: Duration) -> SmiOutcome {
    let listing = match run_nvidia_smi(program, &GPU_QUERY_ARGS, timeout) {
        Ok(text) => text,
        Err(SmiError::Missing) => return SmiOutcome::Missing,
        Err(SmiError::Failed(why)) => return SmiOutcome::Failed(why),
    };
    let (mut gpus, mut problems) = parse_gpu_query(&listing);
    if !gpus.is_empty() {
        match run_nvidia_smi(program, &COMPUTE_APPS_ARGS, timeout) {
            Ok(text) => {
                let (apps, app_problems) = parse_compute_apps(&text);
                problems.extend(app_problems);
                attach_processes(&mut gpus, apps);
            }
            Err(SmiError::Missing) => {}
            Err(SmiError::Failed(why)) => {
                problems.push(format!("its compute processes are unknown: {why}"))
            }
        }
    } else if problems.is_empty() {
        problems.push("nvidia-smi lists no GPUs".into());
    }
    gpus.sort_by_key(|gpu| gpu.index);
    SmiOutcome::Found(GpuDiscovery {
        gpus,
        source: GpuSource::NvidiaSmi,
        note: (!problems.is_empty()).then(|| format!("nvidia-smi: {}", problems.join("; "))),
    })
}

enum SmiError {
    Missing,
    Failed(String),
}

/// Runs `program ARGS`, giving it `timeout` to finish; its standard output when it exits 0.
fn run_nvidia_smi(
    program: &OsString,
    args: &[&str],
    timeout: Duration,
) -> std::result::Result<String, SmiError> {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SmiError::Missing),
        Err(e) => return Err(SmiError::Failed(format!("could not start: {e}"))),
    };
    let identity = ProcessIdentity::current().and_then(|me| {
        Some(ProcessIdentity {
            pid: child.id(),
            start_ticks: start_ticks(child.id())?,
            ..me
        })
    });
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let output = match receiver.recv_timeout(timeout) {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(SmiError::Failed(format!("could not read its output: {e}"))),
        Err(_) => {
            if let Some(identity) = &identity {
                crate::process::signal_exactly(identity, libc::SIGKILL);
            }
            return Err(SmiError::Failed(format!(
                "it did not answer within {} s",
                timeout.as_secs_f64()
            )));
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said = [stdout.trim(), stderr.trim()]
        .into_iter()
        .find(|text| !text.is_empty())
        .and_then(|text| text.lines().next())
        .map(|line| excerpt(line.trim(), 2 * EXCERPT_CHARS))
        .unwrap_or_else(|| format!("it ended with {}", output.status));
    Err(SmiError::Failed(said))
}

/// A number `nvidia-smi` printed, or None for `[N/A]`, `[Not Supported]`, `N/A` and the like.
fn reported<T: std::str::FromStr>(field: &str) -> Option<T> {
    let field = field.trim();
    field.parse().ok().or_else(|| {
        // A fractional value (some drivers print `7.00`): its whole part.
        let whole = field.split_once('.')?.0;
        whole.parse().ok()
    })
}

/// Parses `nvidia-smi --query-gpu=index,uuid,name,memory.used,memory.total,utilization.gpu
/// --format=csv,noheader,nounits`: one GPU per line, fields separated by commas (a name with a
/// comma in it stays whole: the first two fields and the last three are taken from the ends).
/// Lines that are not GPUs come back as problems, quoted.
pub fn parse_gpu_query(text: &str) -> (Vec<GpuInfo>, Vec<String>) {
    let mut gpus = Vec::new();
    let mut problems = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match parse_gpu_line(line) {
            Some(gpu) => gpus.push(gpu),
            None => problems.push(format!("not a GPU: `{}`", excerpt(line, EXCERPT_CHARS))),
        }
    }
    (gpus, problems)
}

fn parse_gpu_line(line: &str) -> Option<GpuInfo> {
    let (index, rest) = line.split_once(',')?;
    let (uuid, rest) = rest.split_once(',')?;
    let mut from_right = rest.rsplitn(4, ',');
    let utilization = from_right.next()?;
    let total = from_right.next()?;
    let used = from_right.next()?;
    let name = from_right.next()?;
    let uuid = uuid.trim();
    if uuid.is_empty() {
        return None;
    }
    Some(GpuInfo {
        index: index.trim().parse().ok()?,
        uuid: uuid.to_string(),
        name: name.trim().to_string(),
        memory_used_mb: reported(used),
        memory_total_mb: reported(total),
        utilization_pct: reported(utilization),
        processes: Vec::new(),
    })
}

/// Parses `nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory
/// --format=csv,noheader,nounits`: (GPU uuid, process) per line; empty without processes.
pub fn parse_compute_apps(text: &str) -> (Vec<(String, GpuProcess)>, Vec<String>) {
    let mut apps = Vec::new();
    let mut problems = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("No running") {
            continue;
        }
        let parsed = (|| {
            let mut fields = line.splitn(3, ',');
            let pid = fields.next()?.trim().parse().ok()?;
            let uuid = fields.next()?.trim();
            let used = fields.next()?;
            (!uuid.is_empty()).then(|| {
                (
                    uuid.to_string(),
                    GpuProcess {
                        pid,
                        used_memory_mb: reported(used),
                    },
                )
            })
        })();
        match parsed {
            Some(app) => apps.push(app),
            None => problems.push(format!(
                "not a compute process: `{}`",
                excerpt(line, EXCERPT_CHARS)
            )),
        }
    }
    (apps, problems)
}

/// Puts each process on the GPU of its uuid (a process on a GPU not listed is left out).
pub fn attach_processes(gpus: &mut [GpuInfo], apps: Vec<(String, GpuProcess)>) {
    for (uuid, process) in apps {
        if let Some(gpu) = gpus.iter_mut().find(|gpu| gpu.uuid == uuid) {
            gpu.processes.push(process);
        }
    }
}

/// One GPU a local target may book, as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalGpu {
    /// The index jobs get in `CUDA_VISIBLE_DEVICES` (PCI bus order).
    pub index: u32,
    /// What discovery found for this index; None for a listed index (`gpus = [0, 1]`) that
    /// discovery did not find (a fake inventory: the slot is taken as free).
    pub gpu: Option<GpuInfo>,
    pub memory_total_mb: Option<u64>,
    pub memory_free_mb: Option<u64>,
    /// It runs a compute process kiroku did not start and has less free memory than
    /// `[jobs] gpu_free_memory_mb` (without that setting: any such process makes it busy).
    pub busy_elsewhere: bool,
    /// The processes on it that kiroku did not start (pids as the driver reports them).
    pub foreign_pids: Vec<u32>,
}

/// The GPUs the local target `spec` may book, discovered now: `"auto"`, every GPU discovery
/// finds (none on a box without GPUs); a list, exactly those indexes, in its order, found or not
/// (a GPU discovery does find has its busy state). A GPU is `busy_elsewhere` when it runs a
/// compute process that kiroku did not start and has less than `jobs.gpu_free_memory_mb` free.
/// A process is kiroku's when its process group or session (`/proc/PID/stat` fields 5 and 6) is
/// one of `job_sessions` (`job_sessions(&jobs)` gives them: the sessions of this box's job
/// supervisors and the process groups of their commands). A pid this box's `/proc` does not
/// show (a process in another container) is not kiroku's.
///
/// Discovery runs on every call (NVML: fast; `nvidia-smi`: tens of milliseconds or more): a
/// caller that needs the GPUs of several targets discovers once and calls
/// `local_inventory_of` for each.
pub fn local_inventory(
    spec: &GpuSpec,
    jobs: &JobsConfig,
    job_sessions: &[u32],
) -> Result<Vec<LocalGpu>> {
    if matches!(spec, GpuSpec::List(indexes) if indexes.is_empty()) {
        // `gpus = []`: a CPU-only target, nothing to discover.
        return Ok(Vec::new());
    }
    Ok(local_inventory_of(
        &discover_detailed().gpus,
        spec,
        jobs,
        job_sessions,
    ))
}

/// `local_inventory` over GPUs already discovered.
pub fn local_inventory_of(
    discovered: &[GpuInfo],
    spec: &GpuSpec,
    jobs: &JobsConfig,
    job_sessions: &[u32],
) -> Vec<LocalGpu> {
    let ours: HashSet<u32> = job_sessions.iter().copied().collect();
    inventory(spec, discovered, jobs.gpu_free_memory_mb, |pid| {
        is_kiroku_process(pid, &ours)
    })
}

/// The `job_sessions` for `local_inventory` from the jobs of the store: for each active
/// (`starting`, `running`) job supervised in this host, boot and pid namespace, its supervisor's
/// pid (the supervisor leads its own session, which its command stays in) and its command's pid
/// (the leader of the command's own process group).
pub fn job_sessions(jobs: &[Job]) -> Vec<u32> {
    let here = (host_name(), boot_id(), pid_namespace().unwrap_or_default());
    jobs.iter()
        .filter(|job| job.status.is_active())
        .filter_map(|job| job.supervisor.as_ref())
        .filter(|s| {
            (Some(&s.host), Some(&s.boot_id), &s.pid_namespace)
                == (here.0.as_ref(), here.1.as_ref(), &here.2)
        })
        .flat_map(|s| std::iter::once(s.pid).chain(s.child.map(|child| child.pid)))
        .collect()
}

/// Whether `pid` belongs to one of the process groups or sessions `ours` (see `local_inventory`).
fn is_kiroku_process(pid: u32, ours: &HashSet<u32>) -> bool {
    process_group_and_session(pid)
        .is_some_and(|(group, session)| ours.contains(&group) || ours.contains(&session))
}

/// `local_inventory` over GPUs already discovered, with `is_kiroku_process(pid)` judging whose
/// each compute process is (pure: the busy rule, tested on fixtures).
fn inventory(
    spec: &GpuSpec,
    discovered: &[GpuInfo],
    free_memory_mb: Option<u64>,
    is_kiroku_process: impl Fn(u32) -> bool,
) -> Vec<LocalGpu> {
    let slot = |index: u32, gpu: Option<&GpuInfo>| {
        let foreign_pids: Vec<u32> = gpu
            .map(|gpu| {
                gpu.processes
                    .iter()
                    .map(|p| p.pid)
                    .filter(|pid| !is_kiroku_process(*pid))
                    .collect()
            })
            .unwrap_or_default();
        let memory_free_mb = gpu.and_then(GpuInfo::memory_free_mb);
        let enough_free = match (free_memory_mb, memory_free_mb) {
            (Some(threshold), Some(free)) => free >= threshold,
            _ => false,
        };
        LocalGpu {
            index,
            memory_total_mb: gpu.and_then(|gpu| gpu.memory_total_mb),
            memory_free_mb,
            busy_elsewhere: !foreign_pids.is_empty() && !enough_free,
            foreign_pids,
            gpu: gpu.cloned(),
        }
    };
    match spec {
        GpuSpec::Auto(_) => discovered
            .iter()
            .map(|gpu| slot(gpu.index, Some(gpu)))
            .collect(),
        GpuSpec::List(indexes) => indexes
            .iter()
            .map(|index| slot(*index, discovered.iter().find(|gpu| gpu.index == *index)))
            .collect(),
    }
}

/// The process group and session of `pid` (`/proc/PID/stat` fields 5 and 6), if it is visible.
fn process_group_and_session(pid: u32) -> Option<(u32, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    group_and_session_of_stat(&stat)
}

/// Fields 5 and 6 of a `/proc/PID/stat` line, counted after the command name's last `)`.
fn group_and_session_of_stat(stat: &str) -> Option<(u32, u32)> {
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    // Fields 3 (state) and 4 (parent) come first.
    let group = fields.nth(2)?.parse().ok()?;
    let session = fields.next()?.parse().ok()?;
    Some((group, session))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A100_GPUS: &str = include_str!("../../tests/fixtures/nvidia-smi/query-gpu-4x-a100.csv");
    const A100_APPS: &str =
        include_str!("../../tests/fixtures/nvidia-smi/compute-apps-4x-a100.csv");

    /// The four A100s of the fixture with their processes (pid 48213 on GPU 0, 50122 on GPU 2).
    fn a100s() -> Vec<GpuInfo> {
        let (mut gpus, problems) = parse_gpu_query(A100_GPUS);
        assert!(problems.is_empty(), "{problems:?}");
        let (apps, problems) = parse_compute_apps(A100_APPS);
        assert!(problems.is_empty(), "{problems:?}");
        attach_processes(&mut gpus, apps);
        gpus
    }

    #[test]
    fn several_gpus_and_their_processes_parse() {
        let gpus = a100s();
        assert_eq!(gpus.len(), 4);
        assert_eq!(
            gpus[0],
            GpuInfo {
                index: 0,
                uuid: "GPU-5ba0a1c8-3c4c-8e2f-9f1a-2d3f7e8c1a01".into(),
                name: "NVIDIA A100-SXM4-80GB".into(),
                memory_used_mb: Some(71234),
                memory_total_mb: Some(81920),
                utilization_pct: Some(98),
                processes: vec![GpuProcess {
                    pid: 48213,
                    used_memory_mb: Some(71200)
                }],
            }
        );
        assert_eq!(gpus[0].memory_free_mb(), Some(81920 - 71234));
        assert!(gpus[1].processes.is_empty());
        assert_eq!(gpus[2].processes[0].pid, 50122);
        assert_eq!(
            gpus.iter().map(|g| g.index).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn not_available_and_not_supported_fields_are_unknown() {
        let (gpus, problems) = parse_gpu_query(include_str!(
            "../../tests/fixtures/nvidia-smi/query-gpu-mig-h100.csv"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        // MIG: no utilization.
        assert_eq!(gpus[0].utilization_pct, None);
        assert_eq!(gpus[0].memory_used_mb, Some(10752));
        assert_eq!(gpus[1].utilization_pct, Some(0));
        let (apps, problems) = parse_compute_apps(include_str!(
            "../../tests/fixtures/nvidia-smi/compute-apps-mig-h100.csv"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0].1.used_memory_mb, None);

        let (gpus, problems) = parse_gpu_query(include_str!(
            "../../tests/fixtures/nvidia-smi/query-gpu-old-driver.csv"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(gpus[0].name, "Tesla K80");
        assert_eq!(gpus[0].utilization_pct, None);
        assert_eq!(gpus[1].memory_used_mb, None);
        assert_eq!(gpus[1].memory_free_mb(), None);
        assert_eq!(gpus[1].memory_total_mb, Some(11178));
    }

    #[test]
    fn no_gpus_names_with_commas_and_stray_lines() {
        assert_eq!(parse_gpu_query(""), (vec![], vec![]));
        assert_eq!(parse_gpu_query("\n  \n"), (vec![], vec![]));
        assert_eq!(parse_compute_apps(""), (vec![], vec![]));
        assert_eq!(
            parse_compute_apps("No running processes found\n"),
            (vec![], vec![])
        );
        let (gpus, problems) = parse_gpu_query(
            "0, GPU-aaaa, NVIDIA Odd, Rev 2, 10, 100, 5\r\n\
             1,GPU-bbbb,Plain,1,2,3\n\
             WARNING: infoROM is corrupted at gpu 0000:01:00.0\n\
             x, GPU-cccc, Bad index, 1, 2, 3\n",
        );
        assert_eq!(gpus.len(), 2);
        assert_eq!(gpus[0].name, "NVIDIA Odd, Rev 2");
        assert_eq!(
            (
                gpus[0].memory_used_mb,
                gpus[0].memory_total_mb,
                gpus[0].utilization_pct
            ),
            (Some(10), Some(100), Some(5))
        );
        assert_eq!(
            (gpus[1].uuid.as_str(), gpus[1].name.as_str()),
            ("GPU-bbbb", "Plain")
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("infoROM"), "{problems:?}");
        let (apps, problems) = parse_compute_apps("12, GPU-x, 7.00\nnot a pid, GPU-y, 1\n");
        assert_eq!(apps[0].1.used_memory_mb, Some(7));
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn a_process_on_an_unlisted_gpu_is_left_out() {
        let mut gpus = a100s();
        attach_processes(
            &mut gpus,
            vec![(
                "MIG-0a1b2c3d".into(),
                GpuProcess {
                    pid: 9,
                    used_memory_mb: None,
                },
            )],
        );
        assert_eq!(gpus.iter().map(|g| g.processes.len()).sum::<usize>(), 2);
    }

    #[test]
    fn a_gpu_running_someone_elses_process_is_busy_unless_enough_memory_is_free() {
        let gpus = a100s();
        let auto = GpuSpec::Auto("auto".into());
        let busy = |slots: &[LocalGpu]| -> Vec<u32> {
            slots
                .iter()
                .filter(|s| s.busy_elsewhere)
                .map(|s| s.index)
                .collect()
        };
        // Nobody's processes are kiroku's, no threshold: GPUs 0 and 2 are busy.
        let slots = inventory(&auto, &gpus, None, |_| false);
        assert_eq!(slots.len(), 4);
        assert_eq!(busy(&slots), [0, 2]);
        assert_eq!(slots[0].foreign_pids, [48213]);
        assert_eq!(slots[2].memory_free_mb, Some(81920 - 2650));
        assert_eq!(slots[1].gpu.as_ref().unwrap().uuid, gpus[1].uuid);
        // With 60 GB free counting as free, GPU 2 (79 GB free) is; GPU 0 (10 GB) is not.
        assert_eq!(busy(&inventory(&auto, &gpus, Some(60_000), |_| false)), [0]);
        // Exactly the threshold free counts as free.
        assert_eq!(
            busy(&inventory(&auto, &gpus, Some(81920 - 2650), |_| false)),
            [0]
        );
        assert_eq!(
            busy(&inventory(&auto, &gpus, Some(81920 - 2650 + 1), |_| false)),
            [0, 2]
        );
        // kiroku's own job on GPU 0 does not make it busy elsewhere.
        let slots = inventory(&auto, &gpus, None, |pid| pid == 48213);
        assert_eq!(busy(&slots), [2]);
        assert!(slots[0].foreign_pids.is_empty());
        // Unknown free memory with a threshold: still busy.
        let mut unknown = gpus.clone();
        unknown[0].memory_used_mb = None;
        assert_eq!(busy(&inventory(&auto, &unknown, Some(1), |_| false)), [0]);
    }

    #[test]
    fn a_listed_inventory_is_those_indexes_with_the_busy_state_of_those_found() {
        let gpus = a100s();
        let slots = inventory(&GpuSpec::List(vec![2, 7, 1]), &gpus, None, |_| false);
        assert_eq!(slots.iter().map(|s| s.index).collect::<Vec<_>>(), [2, 7, 1]);
        assert!(slots[0].busy_elsewhere);
        assert_eq!(slots[1].gpu, None);
        assert!(!slots[1].busy_elsewhere);
        assert_eq!(slots[1].memory_total_mb, None);
        assert!(!slots[2].busy_elsewhere);
        // A fake inventory on a box without GPUs.
        let fake = inventory(&GpuSpec::List(vec![0, 1]), &[], None, |_| false);
        assert_eq!(fake.len(), 2);
        assert!(fake.iter().all(|s| !s.busy_elsewhere && s.gpu.is_none()));
        assert!(inventory(&GpuSpec::Auto("auto".into()), &[], None, |_| true).is_empty());
    }

    #[test]
    fn stat_lines_give_process_group_and_session() {
        let line = "42 (a) b (c) S 1 4242 4343 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654";
        assert_eq!(group_and_session_of_stat(line), Some((4242, 4343)));
        assert_eq!(group_and_session_of_stat("garbage"), None);
        assert_eq!(group_and_session_of_stat("1 (x) S 1"), None);
    }

    #[test]
    fn a_process_in_a_jobs_group_or_session_is_kirokus() {
        use std::os::unix::process::CommandExt;
        // A command started as the leader of its own process group, as the supervisor does.
        let mut child = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id();
        let (group, session) = process_group_and_session(pid).unwrap();
        assert_eq!(group, pid);
        // SAFETY: getsid takes a pid and returns its session id or -1.
        assert_eq!(session as i32, unsafe { libc::getsid(0) });
        assert!(is_kiroku_process(pid, &HashSet::from([pid])));
        assert!(is_kiroku_process(pid, &HashSet::from([session])));
        assert!(!is_kiroku_process(pid, &HashSet::from([pid + 100_000])));
        // This test process is in neither the child's group nor a listed session.
        assert!(!is_kiroku_process(
            std::process::id(),
            &HashSet::from([pid])
        ));
        // On a GPU (the fixture's GPU 0 with the child as its process): busy unless its group
        // is a job's.
        let mut gpus = a100s();
        gpus[0].processes[0].pid = pid;
        let auto = GpuSpec::Auto("auto".into());
        let jobs = JobsConfig::default();
        assert!(local_inventory_of(&gpus, &auto, &jobs, &[])[0].busy_elsewhere);
        assert!(!local_inventory_of(&gpus, &auto, &jobs, &[pid])[0].busy_elsewhere);
        assert!(local_inventory_of(&gpus, &auto, &jobs, &[pid])[2].busy_elsewhere);
        child.kill().unwrap();
        child.wait().unwrap();
        // A pid /proc does not show (gone, another container) is not kiroku's.
        assert!(!is_kiroku_process(
            u32::MAX - 1,
            &HashSet::from([u32::MAX - 1])
        ));
    }

    #[test]
    fn job_sessions_are_the_supervisors_and_commands_of_active_jobs_here() {
        let me = ProcessIdentity::current().unwrap();
        let job = |id: i64, status: &str, host: &str, child: Option<u32>| -> Job {
            serde_json::from_value(serde_json::json!({
                "id": id, "name": "j", "experiment": "e", "target": "local",
                "command": ["true"], "workdir": "/", "gpus": 1, "user": "u", "host": host,
                "status": status, "reason": "", "queued_at": 0,
                "supervisor": {
                    "host": host, "boot_id": me.boot_id, "pid_namespace": me.pid_namespace,
                    "pid": 1000 + id, "start_ticks": 1, "metrics_file": "m",
                    "child": child.map(|pid| serde_json::json!({"pid": pid, "start_ticks": 2})),
                },
            }))
            .unwrap()
        };
        let elsewhere = format!("{}-elsewhere", me.host);
        let jobs = [
            job(1, "running", &me.host, Some(2001)),
            job(2, "starting", &me.host, None),
            job(3, "finished", &me.host, Some(2003)),
            job(4, "running", &elsewhere, Some(2004)),
        ];
        assert_eq!(job_sessions(&jobs), [1001, 2001, 1002]);
    }

    #[test]
    fn the_builtin_local_target_without_gpus_has_an_empty_inventory_here() {
        // On a box without NVIDIA's library and nvidia-smi (like the one CI runs on), there are
        // no GPUs and the note says why; where there are GPUs, each is a slot.
        let discovery = discover_detailed();
        let slots =
            local_inventory(&GpuSpec::Auto("auto".into()), &JobsConfig::default(), &[]).unwrap();
        assert_eq!(slots.len(), discovery.gpus.len());
        if discovery.gpus.is_empty() {
            assert!(discovery.note.is_some(), "{discovery:?}");
        }
        let listed =
            local_inventory(&GpuSpec::List(vec![0, 1]), &JobsConfig::default(), &[]).unwrap();
        assert_eq!(listed.iter().map(|s| s.index).collect::<Vec<_>>(), [0, 1]);
    }
}
