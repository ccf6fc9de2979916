//! The demo's real training: logistic regression by mini-batch SGD on the bundled Breast
//! Cancer Wisconsin dataset (`assets/breast_cancer.csv`, embedded). It reports like a user's
//! script would: `epoch 3 loss=0.31 acc: 0.9` lines on stdout and JSON lines in
//! `$KIROKU_METRICS_FILE`, so the demo exercises the same ingest paths as real runs.
use std::io::Write;

const DATA: &str = include_str!("../assets/breast_cancer.csv");

#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub lr: f64,
    pub seed: u64,
    pub epochs: usize,
    pub batch_size: usize,
    pub l2: f64,
}

/// Features (standardised) and labels.
fn load() -> (Vec<Vec<f64>>, Vec<f64>) {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for line in DATA.lines().skip(1) {
        let cells: Vec<f64> = line
            .split(',')
            .filter_map(|c| c.trim().parse().ok())
            .collect();
        if cells.len() == 31 {
            ys.push(cells[30]);
            xs.push(cells[..30].to_vec());
        }
    }
    let n = xs.len() as f64;
    for j in 0..30 {
        let mean = xs.iter().map(|x| x[j]).sum::<f64>() / n;
        let sd = (xs.iter().map(|x| (x[j] - mean).powi(2)).sum::<f64>() / n)
            .sqrt()
            .max(1e-12);
        xs.iter_mut().for_each(|x| x[j] = (x[j] - mean) / sd);
    }
    (xs, ys)
}

/// A small deterministic generator (splitmix64) so runs with the same seed repeat exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn evaluate(w: &[f64], b: f64, xs: &[&Vec<f64>], ys: &[f64]) -> (f64, f64) {
    let mut loss = 0.0;
    let mut correct = 0usize;
    for (x, y) in xs.iter().zip(ys) {
        let p = sigmoid(x.iter().zip(w).map(|(a, c)| a * c).sum::<f64>() + b);
        let p = p.clamp(1e-12, 1.0 - 1e-12);
        loss -= y * p.ln() + (1.0 - y) * (1.0 - p).ln();
        if (p >= 0.5) == (*y >= 0.5) {
            correct += 1;
        }
    }
    (loss / xs.len() as f64, correct as f64 / xs.len() as f64)
}

/// Trains and reports; returns the process exit code (1 when training diverged).
pub fn train(cfg: &TrainConfig) -> i32 {
    let (xs, ys) = load();
    let mut order: Vec<usize> = (0..xs.len()).collect();
    let mut rng = Rng(cfg.seed);
    rng.shuffle(&mut order);
    let split = xs.len() * 4 / 5;
    let (train_idx, val_idx) = order.split_at(split);
    let val_x: Vec<&Vec<f64>> = val_idx.iter().map(|&i| &xs[i]).collect();
    let val_y: Vec<f64> = val_idx.iter().map(|&i| ys[i]).collect();
    let mut metrics = std::env::var_os("KIROKU_METRICS_FILE").and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    let mut emit = |line: String| {
        if let Some(f) = metrics.as_mut() {
            let _ = writeln!(f, "{line}");
        }
    };
    emit(format!(
        r#"{{"params": {{"batch_size": {}, "l2": {}, "model": "logistic-regression", "dataset": "breast_cancer"}}}}"#,
        cfg.batch_size, cfg.l2
    ));
    println!(
        "training logistic regression on {} samples ({} for validation), learning rate {}, seed {}",
        split,
        val_x.len(),
        cfg.lr,
        cfg.seed
    );

    let mut w: Vec<f64> = (0..30)
        .map(|_| (rng.next() % 1000) as f64 / 1e5 - 0.005)
        .collect();
    let mut b = 0.0;
    let mut step = 0i64;
    let mut train = train_idx.to_vec();
    for epoch in 1..=cfg.epochs {
        rng.shuffle(&mut train);
        for batch in train.chunks(cfg.batch_size) {
            let mut gw = vec![0.0; 30];
            let mut gb = 0.0;
            let mut loss = 0.0;
            for &i in batch {
                let z = xs[i].iter().zip(&w).map(|(a, c)| a * c).sum::<f64>() + b;
                let p = sigmoid(z);
                let pc = p.clamp(1e-12, 1.0 - 1e-12);
                loss -= ys[i] * pc.ln() + (1.0 - ys[i]) * (1.0 - pc).ln();
                let err = p - ys[i];
                gw.iter_mut().zip(&xs[i]).for_each(|(g, x)| *g += err * x);
                gb += err;
            }
            let n = batch.len() as f64;
            for (wj, g) in w.iter_mut().zip(&gw) {
                *wj -= cfg.lr * (g / n + cfg.l2 * *wj);
            }
            b -= cfg.lr * gb / n;
            step += 1;
            emit(format!(
                r#"{{"step": {step}, "train/loss": {}}}"#,
                json_number(loss / n)
            ));
        }
        let (val_loss, val_acc) = evaluate(&w, b, &val_x, &val_y);
        let weight_norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        emit(format!(
            r#"{{"step": {step}, "val/loss": {}, "val/acc": {val_acc}, "weight_norm": {}}}"#,
            json_number(val_loss),
            json_number(weight_norm)
        ));
        println!("epoch {epoch} loss={val_loss:.4} acc: {val_acc:.4}");
        if !val_loss.is_finite()
            || !weight_norm.is_finite()
            || weight_norm > 100.0
            || (epoch >= 3 && val_loss > 2.0)
        {
            eprintln!(
                "error: training diverged at epoch {epoch} (lr={} is too large)",
                cfg.lr
            );
            return 1;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    0
}

fn json_number(v: f64) -> String {
    crate::model::json_float::to_value(v).to_string()
}
