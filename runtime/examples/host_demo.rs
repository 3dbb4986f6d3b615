//! Runs a model file on the host with the no_std runtime: prints samples from
//! the few-step sampler and anomaly scores (−f(x, 0)).
//!
//! ```text
//! cargo run --release -p ddaebm-runtime --example host_demo -- runs/quickstart/model-f16.safetensors
//! ```

use std::process::ExitCode;

use ddaebm_runtime::{Model, Rng};

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: host_demo MODEL.safetensors");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let model = match Model::from_bytes(&bytes) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {path} is not a usable model file: {e}");
            return ExitCode::FAILURE;
        }
    };
    let d = model.data_dim();
    println!(
        "model {path}: {} bytes, D = {d}, nz = {}, T = {}, weights {:?}, scratch {} bytes",
        bytes.len(),
        model.nz(),
        model.steps(),
        model.weight_dtype(),
        4 * model.scratch_len()
    );
    let mut scratch = vec![0f32; model.scratch_len()];

    // Samples from the T-step chain, one seed each.
    let n = 2000;
    let mut samples = vec![0f32; n * d];
    for (seed, out) in samples.chunks_exact_mut(d).enumerate() {
        if let Err(e) = model.sample(&mut Rng::new(seed as u64), out, &mut scratch) {
            eprintln!("error: sampling failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!("samples (seeds 0..8), computed by the runtime:");
    for s in samples.chunks_exact(d).take(8) {
        println!("  {}", fmt(s));
    }

    // Anomaly scores of the model's own samples vs uniform points over
    // their bounding box (enlarged by 20 %).
    let (mut lo, mut hi) = (vec![f32::INFINITY; d], vec![f32::NEG_INFINITY; d]);
    for s in samples.chunks_exact(d) {
        for j in 0..d {
            lo[j] = lo[j].min(s[j]);
            hi[j] = hi[j].max(s[j]);
        }
    }
    let mut rng = Rng::new(12345);
    let uniform: Vec<f32> = (0..n * d)
        .map(|i| {
            let j = i % d;
            let (c, h) = ((lo[j] + hi[j]) / 2.0, 0.6 * (hi[j] - lo[j]));
            c + h * (2.0 * rng.uniform() - 1.0)
        })
        .collect();
    let score = |pts: &[f32], scratch: &mut [f32]| -> Vec<f32> {
        pts.chunks_exact(d).map(|x| model.anomaly_score(x, scratch).unwrap_or(f32::NAN)).collect()
    };
    let s_model = score(&samples, &mut scratch);
    let s_unif = score(&uniform, &mut scratch);
    let mut sorted = s_model.clone();
    sorted.sort_by(f32::total_cmp);
    let p99 = sorted[(0.99 * (n - 1) as f64) as usize];
    let flagged = s_unif.iter().filter(|&&s| s > p99).count();
    let mean = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    println!("anomaly score = -f(x, 0), higher = more anomalous:");
    for (x, s) in samples.chunks_exact(d).zip(&s_model).take(4) {
        println!("  sample  {}  score {s:+.3}", fmt(x));
    }
    for (x, s) in uniform.chunks_exact(d).zip(&s_unif).take(4) {
        println!("  uniform {}  score {s:+.3}", fmt(x));
    }
    println!(
        "mean score: samples {:+.3}, uniform points {:+.3}; {:.1} % of uniform points score above the samples' 99th percentile ({p99:+.3})",
        mean(&s_model),
        mean(&s_unif),
        100.0 * flagged as f64 / n as f64
    );
    match model.threshold() {
        Some(th) => {
            let mut flagged = [0usize; 2];
            let mut tail_sum = [0f64; 2];
            for (k, pts) in [&samples, &uniform].into_iter().enumerate() {
                for x in pts.chunks_exact(d) {
                    if let Ok(v) = model.verdict(x, &mut scratch) {
                        flagged[k] += usize::from(v.is_anomaly);
                        tail_sum[k] += f64::from(v.tail_probability);
                    }
                }
            }
            println!(
                "calibrated threshold {th:+.3} (from the model file): flags {:.1} % of samples and {:.1} % of uniform \
                 points; mean tail probability {:.3} vs {:.3}",
                100.0 * flagged[0] as f64 / n as f64,
                100.0 * flagged[1] as f64 / n as f64,
                tail_sum[0] / n as f64,
                tail_sum[1] / n as f64
            );
        }
        None => println!("no calibration in the model file (export --calibrate HELDOUT.csv adds a threshold)"),
    }
    ExitCode::SUCCESS
}

fn fmt(x: &[f32]) -> String {
    let cells: Vec<String> = x.iter().map(|v| format!("{v:+.4}")).collect();
    format!("[{}]", cells.join(", "))
}
