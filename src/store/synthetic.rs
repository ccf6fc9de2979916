//! Synthetic stores for benchmarks and tests: many runs with varied params (lr, optimizer,
//! seed, batch size), two metrics each (acc rising to a per-run ceiling, loss falling), and
//! optionally one run with a single long series. Deterministic for a given spec.
use crate::error::Result;
use crate::model::{now_ms, KeyedPoint, NewRun, RunStatus};
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct SyntheticSpec {
    pub runs: u64,
    /// Total points over all runs (split over the keys `acc` and `loss`).
    pub points: u64,
    /// Points of one extra run's series `big` (0 for none).
    pub big_series: u64,
    pub experiment: String,
}

#[derive(Debug, Clone)]
pub struct SyntheticReport {
    pub points: u64,
    pub big_run: Option<String>,
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(seed: u64) -> f64 {
    (mix(seed) % 1_000_000) as f64 / 1_000_000.0
}

pub fn generate(store: &dyn Store, spec: &SyntheticSpec) -> Result<SyntheticReport> {
    let per_run = (spec.points / spec.runs.max(1) / 2).max(1);
    let lrs = ["0.1", "0.03", "0.01", "0.003", "0.001", "0.0003"];
    let optimizers = ["adam", "sgd", "adamw"];
    let base_time = now_ms() - (spec.runs as i64) * 60_000;
    let mut written = 0u64;
    for i in 0..spec.runs {
        let run = store.create_run(&NewRun {
            experiment: spec.experiment.clone(),
            name: Some(format!("gen-{i}")),
            user: ["alice", "bob", "carol"][(i % 3) as usize].into(),
            status: Some(RunStatus::Finished),
            start_time: Some(base_time + i as i64 * 60_000),
            end_time: Some(base_time + i as i64 * 60_000 + 30_000),
            params: vec![
                (
                    "lr".into(),
                    lrs[(mix(i) % lrs.len() as u64) as usize].into(),
                ),
                (
                    "optimizer".into(),
                    optimizers[(mix(i + 7) % 3) as usize].into(),
                ),
                ("seed".into(), (i % 5).to_string()),
                (
                    "batch_size".into(),
                    ["32", "64", "128"][(i % 3) as usize].into(),
                ),
            ],
            tags: vec![("team".into(), ["vision", "nlp"][(i % 2) as usize].into())],
            ..Default::default()
        })?;
        let ceiling = 0.5 + 0.5 * unit(i);
        let batch: Vec<KeyedPoint> = (0..per_run)
            .flat_map(|s| {
                let progress = (s + 1) as f64 / per_run as f64;
                let t = base_time + s as i64;
                [
                    KeyedPoint {
                        key: "acc".into(),
                        step: s as i64,
                        timestamp: t,
                        value: ceiling * progress,
                    },
                    KeyedPoint {
                        key: "loss".into(),
                        step: s as i64,
                        timestamp: t,
                        value: 1.0 / (1.0 + s as f64) + 0.01 * unit(i * 31 + s),
                    },
                ]
            })
            .collect();
        written += batch.len() as u64;
        store.log_metrics(&run.id, &batch)?;
    }
    let mut big_run = None;
    if spec.big_series > 0 {
        let run = store.create_run(&NewRun {
            experiment: spec.experiment.clone(),
            name: Some("big-series".into()),
            user: "alice".into(),
            status: Some(RunStatus::Finished),
            ..Default::default()
        })?;
        let mut s = 0u64;
        while s < spec.big_series {
            let n = (spec.big_series - s).min(100_000);
            let batch: Vec<KeyedPoint> = (s..s + n)
                .map(|k| KeyedPoint {
                    key: "big".into(),
                    step: k as i64,
                    timestamp: base_time + k as i64,
                    value: (k as f64).sin(),
                })
                .collect();
            store.log_metrics(&run.id, &batch)?;
            s += n;
        }
        written += spec.big_series;
        big_run = Some(run.id);
    }
    Ok(SyntheticReport {
        points: written,
        big_run,
    })
}
