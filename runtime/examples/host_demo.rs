//! Runs a model file on the host with the no_std runtime: prints samples from
//! the few-step sampler and the anomaly scores the file declares
//! (`Model::score_kind`: the reconstruction error or −f(x, 0)).
//!
//! ```text
//! cargo run --release -p ddaebm-runtime --example host_demo -- runs/quickstart/model-f16.safetensors
//! ```

use std::io::Write;
use std::process::ExitCode;

use ddaebm_runtime::{Model, Rng, ScoreKind};

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: host_demo MODEL.safetensors");
        return ExitCode::from(2);
    };
    let mut stdout = std::io::stdout().lock();
    match demo(&path, &mut stdout) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`host_demo M | head`) is the reader's choice, not an error.
        Err(Failure::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Io(e)) => {
            eprintln!("error: cannot write the output: {e}");
            ExitCode::FAILURE
        }
        Err(Failure::Message(m)) => {
            eprintln!("error: {m}");
            ExitCode::FAILURE
        }
    }
}

/// Why [`demo`] stopped.
#[derive(Debug)]
pub enum Failure {
    /// Writing the output failed.
    Io(std::io::Error),
    /// The model file could not be read or run.
    Message(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

/// What the file's anomaly score is, for the printout.
fn score_label(kind: ScoreKind) -> &'static str {
    match kind {
        ScoreKind::Energy => "-f(x, 0), the energy at step 0",
        ScoreKind::Reconstruction => "the generator's reconstruction error at step 0",
    }
}

/// Loads the model file at `path`, samples it and scores samples against
/// uniform points with the file's declared anomaly score, writing the
/// report to `out`.
pub fn demo(path: &str, out: &mut dyn Write) -> Result<(), Failure> {
    let bytes = std::fs::read(path).map_err(|e| Failure::Message(format!("cannot read {path}: {e}")))?;
    let model =
        Model::from_bytes(&bytes).map_err(|e| Failure::Message(format!("{path} is not a usable model file: {e}")))?;
    let d = model.data_dim();
    writeln!(
        out,
        "model {path}: {} bytes, D = {d}, nz = {}, T = {}, weights {:?}, scratch {} bytes",
        bytes.len(),
        model.nz(),
        model.steps(),
        model.weight_dtype(),
        4 * model.scratch_len()
    )?;
    let mut scratch = vec![0f32; model.scratch_len()];

    // Samples from the T-step chain, one seed each.
    let n = 2000;
    let mut samples = vec![0f32; n * d];
    for (seed, x) in samples.chunks_exact_mut(d).enumerate() {
        model
            .sample(&mut Rng::new(seed as u64), x, &mut scratch)
            .map_err(|e| Failure::Message(format!("sampling failed: {e}")))?;
    }
    writeln!(out, "samples (seeds 0..8), computed by the runtime:")?;
    for s in samples.chunks_exact(d).take(8) {
        writeln!(out, "  {}", fmt(s))?;
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
    writeln!(
        out,
        "anomaly score (declared by the file) = {}, higher = more anomalous:",
        score_label(model.score_kind())
    )?;
    for (x, s) in samples.chunks_exact(d).zip(&s_model).take(4) {
        writeln!(out, "  sample  {}  score {s:+.3}", fmt(x))?;
    }
    for (x, s) in uniform.chunks_exact(d).zip(&s_unif).take(4) {
        writeln!(out, "  uniform {}  score {s:+.3}", fmt(x))?;
    }
    writeln!(
        out,
        "mean score: samples {:+.3}, uniform points {:+.3}; {:.1} % of uniform points score above the samples' 99th percentile ({p99:+.3})",
        mean(&s_model),
        mean(&s_unif),
        100.0 * flagged as f64 / n as f64
    )?;
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
            writeln!(
                out,
                "calibrated threshold {th:+.3} (from the model file): flags {:.1} % of samples and {:.1} % of uniform \
                 points; mean tail probability {:.3} vs {:.3}",
                100.0 * flagged[0] as f64 / n as f64,
                100.0 * flagged[1] as f64 / n as f64,
                tail_sum[0] / n as f64,
                tail_sum[1] / n as f64
            )?;
        }
        None => writeln!(out, "no calibration in the model file (export --calibrate HELDOUT.csv adds a threshold)")?,
    }
    Ok(())
}

fn fmt(x: &[f32]) -> String {
    let cells: Vec<String> = x.iter().map(|v| format!("{v:+.4}")).collect();
    format!("[{}]", cells.join(", "))
}
