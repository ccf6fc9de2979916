//! The demo's real training: logistic regression by mini-batch SGD with weight decay on the
//! bundled Breast Cancer Wisconsin dataset (`assets/breast_cancer.csv`, embedded), 70% to train
//! and 30% to validate (split by the seed). It reports like a user's script would: JSON lines in
//! `$KIROKU_METRICS_FILE` and a readable progress line per epoch on stdout (which prints no
//! `key=value` copies of the file's metrics), and with `--out` it saves the model and the
//! validation confusion matrix.
//!
//! It diverges as real training does: the loss is the plain cross-entropy (no clamping), so with
//! a learning rate far too large (400, where weight decay makes every step triple the weights)
//! the loss climbs, reaches inf, and the trainer stops with an error.
use std::io::Write;
use std::path::PathBuf;

const DATA: &str = include_str!("../assets/breast_cancer.csv");

#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub lr: f64,
    pub seed: u64,
    pub epochs: usize,
    pub batch_size: usize,
    pub l2: f64,
    /// Pause per epoch (the demo's runs last a few seconds, like small real ones).
    pub epoch_pause_ms: u64,
    /// Where to save `model.json` and `confusion_matrix.txt`.
    pub out: Option<PathBuf>,
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

/// The cross-entropy of one prediction, as written (inf when a wrong answer is certain).
fn cross_entropy(p: f64, y: f64) -> f64 {
    if y >= 0.5 {
        -p.ln()
    } else {
        -(1.0 - p).ln()
    }
}

/// Validation loss, accuracy and confusion matrix `[[tn, fp], [fn, tp]]`.
fn evaluate(w: &[f64], b: f64, xs: &[&Vec<f64>], ys: &[f64]) -> (f64, f64, [[u32; 2]; 2]) {
    let mut loss = 0.0;
    let mut confusion = [[0u32; 2]; 2];
    for (x, y) in xs.iter().zip(ys) {
        let p = sigmoid(x.iter().zip(w).map(|(a, c)| a * c).sum::<f64>() + b);
        loss += cross_entropy(p, *y);
        confusion[usize::from(*y >= 0.5)][usize::from(p >= 0.5)] += 1;
    }
    let correct = confusion[0][0] + confusion[1][1];
    (
        loss / xs.len() as f64,
        f64::from(correct) / xs.len() as f64,
        confusion,
    )
}

/// Saves the model and the confusion matrix under `dir`.
fn save(dir: &std::path::Path, w: &[f64], b: f64, confusion: [[u32; 2]; 2]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let model = serde_json::json!({
        "model": "logistic-regression",
        "features": 30,
        "standardised": true,
        "weights": w,
        "bias": b,
    });
    std::fs::write(dir.join("model.json"), format!("{model:#}\n"))?;
    let [[tn, fp], [fneg, tp]] = confusion;
    std::fs::write(
        dir.join("confusion_matrix.txt"),
        format!(
            "validation confusion matrix (rows: true class, columns: predicted)\n\n\
             {:>12} {:>10} {:>10}\n{:>12} {tn:>10} {fp:>10}\n{:>12} {fneg:>10} {tp:>10}\n",
            "", "malignant", "benign", "malignant", "benign"
        ),
    )
}

/// Trains and reports; returns the process exit code (1 when training diverged).
pub fn train(cfg: &TrainConfig) -> i32 {
    let (xs, ys) = load();
    let mut order: Vec<usize> = (0..xs.len()).collect();
    Rng(cfg.seed).shuffle(&mut order);
    let mut rng = Rng(cfg.seed ^ 0x5eed);
    let split = xs.len() * 7 / 10;
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
        r#"{{"params": {{"batch_size": {}, "l2": {}, "model": "logistic-regression", "dataset": "breast_cancer", "val_fraction": 0.3}}}}"#,
        cfg.batch_size, cfg.l2
    ));
    println!(
        "training logistic regression on {} samples ({} for validation), learning rate {}, \
         weight decay {}, seed {}",
        split,
        val_x.len(),
        cfg.lr,
        cfg.l2,
        cfg.seed
    );

    let mut w: Vec<f64> = (0..30)
        .map(|_| (rng.next() % 1000) as f64 / 1e5 - 0.005)
        .collect();
    let mut b = 0.0;
    let mut step = 0i64;
    let mut train = train_idx.to_vec();
    let started = std::time::Instant::now();
    for epoch in 1..=cfg.epochs {
        rng.shuffle(&mut train);
        let mut epoch_loss = 0.0;
        for batch in train.chunks(cfg.batch_size) {
            let mut gw = vec![0.0; 30];
            let mut gb = 0.0;
            let mut loss = 0.0;
            for &i in batch {
                let z = xs[i].iter().zip(&w).map(|(a, c)| a * c).sum::<f64>() + b;
                let p = sigmoid(z);
                loss += cross_entropy(p, ys[i]);
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
            let loss = loss / n;
            epoch_loss += loss * n;
            emit(format!(
                r#"{{"step": {step}, "train/loss": {}}}"#,
                json_number(loss)
            ));
            if !loss.is_finite() {
                eprintln!(
                    "error: loss is {} at step {step} (epoch {epoch}), stopping: training \
                     diverged (learning rate {} is too large)",
                    if loss.is_nan() { "NaN" } else { "inf" },
                    cfg.lr
                );
                return 1;
            }
        }
        let (val_loss, val_acc, confusion) = evaluate(&w, b, &val_x, &val_y);
        let weight_norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        emit(format!(
            r#"{{"step": {step}, "val/loss": {}, "val/acc": {val_acc}, "weight_norm": {}}}"#,
            json_number(val_loss),
            json_number(weight_norm)
        ));
        println!(
            "epoch {epoch}/{}  train loss {:.4}  val loss {val_loss:.4}  val acc {val_acc:.4}  {:.1}s",
            cfg.epochs,
            epoch_loss / train.len() as f64,
            started.elapsed().as_secs_f64()
        );
        if epoch == cfg.epochs {
            if let Some(dir) = &cfg.out {
                if let Err(e) = save(dir, &w, b, confusion) {
                    eprintln!("error: saving the model to {}: {e}", dir.display());
                    return 1;
                }
                println!(
                    "saved {}/model.json and confusion_matrix.txt",
                    dir.display()
                );
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(cfg.epoch_pause_ms));
    }
    0
}

fn json_number(v: f64) -> String {
    crate::model::json_float::to_value(v).to_string()
}
