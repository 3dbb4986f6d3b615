//! Evaluation of a trained model (`trainer eval`, and periodically during
//! `trainer fit`): the metrics of docs/quality.md, and the run folder's
//! pictures.

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::data::{Source, Toy};
use crate::metrics;
use crate::model::Ddaebm;
use crate::plots;
use crate::sampling::{mix_seed, sample};

/// True differential entropy of 25gaussians (nats), the floor of any model's NLL.
/// Each point is a uniform pick of 25 well-separated N(c, σ² I) with
/// σ = 0.1 / 2.828: H = ln 25 + ln(2π e σ²).
pub fn entropy_25gaussians() -> f64 {
    let sigma: f64 = 0.1 / 2.828;
    25f64.ln() + (2.0 * std::f64::consts::PI * std::f64::consts::E * sigma * sigma).ln()
}

/// Sample sizes of an evaluation.
#[derive(Debug, Clone, Copy)]
pub struct EvalSizes {
    /// Samples and data points for MMD² (5,000 in the benchmark).
    pub mmd: usize,
    /// Samples for mode coverage (10,000).
    pub modes: usize,
    /// Data points for the NLL (10,000).
    pub nll: usize,
    /// NLL grid size per axis (400).
    pub grid: usize,
    /// Also sample with BatchNorm batch statistics. This updates the
    /// running statistics, so only evaluations of a discarded model use it.
    pub bn_compare: bool,
}

impl EvalSizes {
    /// The benchmark's sizes (docs/quality.md).
    pub const FULL: EvalSizes = EvalSizes { mmd: 5000, modes: 10_000, nll: 10_000, grid: 400, bn_compare: true };
    /// Smaller sizes for periodic evaluation during training.
    pub const QUICK: EvalSizes = EvalSizes { mmd: 1000, modes: 10_000, nll: 5000, grid: 200, bn_compare: false };
}

/// The metrics of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Training iteration of the model.
    pub iteration: u64,
    /// MMD² between model samples and fresh (or held-out) data.
    pub mmd2: f64,
    /// MMD² between two data draws: the noise floor.
    pub mmd2_floor: f64,
    /// Mixture sets: modes with ≥ 20 of 10,000 samples within 3σ.
    pub modes_covered: Option<usize>,
    /// Mixture sets: number of modes.
    pub modes_total: Option<usize>,
    /// Mixture sets: percentage of samples within 3σ of some centre.
    pub high_quality_pct: Option<f64>,
    /// 2-D sets: average NLL (nats) of fresh data under exp f(x, 0), normalised on a grid over the data's box.
    pub nll: Option<f64>,
    /// 25gaussians: the true entropy, the NLL floor.
    pub true_entropy: Option<f64>,
    /// With BatchNorm: MMD² of samples drawn with batch statistics (the
    /// reference's behaviour) instead of the running statistics a device uses.
    #[serde(default)]
    pub mmd2_bn_batch_stats: Option<f64>,
}

/// f(x, 0) for a row-major batch of points (model units), through libtorch.
pub fn energy_at(model: &Ddaebm, points: &[f32], t: usize) -> Vec<f64> {
    let d = model.arch.data_dim;
    let mut out = Vec::with_capacity(points.len() / d);
    tch::no_grad(|| {
        for chunk in points.chunks(20_000 * d) {
            let n = (chunk.len() / d) as i64;
            let x = Tensor::from_slice(chunk).view([n, d as i64]).to_device(model.device);
            let tt = Tensor::full([n], t as i64, (Kind::Int64, model.device));
            let f = model.energy.forward(&x, &tt).to_device(Device::Cpu);
            out.extend(Vec::<f32>::try_from(&f).expect("f32 output").into_iter().map(f64::from));
        }
    });
    out
}

/// Bounding box of 2-D points.
pub fn bounds(points: &[f32]) -> ([f64; 2], [f64; 2]) {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for p in points.chunks_exact(2) {
        for j in 0..2 {
            lo[j] = lo[j].min(p[j] as f64);
            hi[j] = hi[j].max(p[j] as f64);
        }
    }
    (lo, hi)
}

/// Reference data for a source: (a, b), two independent draws of `n` points
/// (built-in sets), or held-out rows and training rows (user data).
fn reference(source: &Source, n: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(seed, u64::MAX));
    match source {
        Source::Toy(t) => (t.sample(n, &mut rng), t.sample(n, &mut rng)),
        Source::Table(t) => {
            let d = t.dim;
            let take = |v: &[f32]| v[..v.len().min(n * d)].to_vec();
            let held = if t.holdout.is_empty() { take(&t.train) } else { take(&t.holdout) };
            (held, take(&t.train))
        }
    }
}

/// Computes the metrics of `model` on `source` (samples drawn with `seed`).
pub fn evaluate(model: &Ddaebm, source: &Source, iteration: u64, sizes: EvalSizes, seed: u64) -> EvalReport {
    let d = model.arch.data_dim;
    let n_samples = sizes.mmd.max(if matches!(source, Source::Toy(_)) { sizes.modes } else { 0 });
    let samples = sample(model, n_samples, seed, false);
    let (a, b) = reference(source, sizes.mmd, seed);
    let s = &samples[..sizes.mmd.min(n_samples) * d];
    let mut report = EvalReport {
        iteration,
        mmd2: metrics::mmd2(s, &a, d),
        mmd2_floor: metrics::mmd2(&b, &a, d),
        modes_covered: None,
        modes_total: None,
        high_quality_pct: None,
        nll: None,
        true_entropy: None,
        mmd2_bn_batch_stats: None,
    };
    if let Source::Toy(toy) = source {
        if let Some((centres, sigma)) = toy.mixture() {
            let m = metrics::mode_coverage(&samples[..sizes.modes * 2], &centres, sigma, 20 * sizes.modes / 10_000);
            report.modes_covered = Some(m.modes_covered);
            report.modes_total = Some(m.modes_total);
            report.high_quality_pct = Some(m.high_quality_pct);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(seed, u64::MAX - 1));
        let box_pts = toy.sample(10_000, &mut rng);
        let (lo, hi) = bounds(&box_pts);
        let pts = toy.sample(sizes.nll, &mut rng);
        report.nll = Some(metrics::grid_nll(|x| energy_at(model, x, 0), &pts, lo, hi, sizes.grid));
        if *toy == Toy::Gaussians25 {
            report.true_entropy = Some(entropy_25gaussians());
        }
    }
    // Last: sampling in training mode updates BatchNorm's running statistics.
    if sizes.bn_compare && model.arch.batchnorm {
        let batch_stats = sample(model, sizes.mmd, seed, true);
        report.mmd2_bn_batch_stats = Some(metrics::mmd2(&batch_stats, &a, d));
    }
    report
}

/// Writes the run folder's pictures: for 2-D data `samples.png` (data vs
/// samples) and `density.png` (exp f(x, t) per step index); for any data
/// `curves.png` (losses and metrics over training, from `log.csv` and
/// `metrics.csv`).
pub fn write_plots(model: &Ddaebm, source: &Source, out: &Path, seed: u64) -> Result<(), plots::PlotError> {
    if model.arch.data_dim == 2 {
        let samples = sample(model, 2000, seed, false);
        let (data, _) = reference(source, 2000, seed);
        let (lo, hi) = bounds(&data);
        let pad = |l: f64, h: f64| ((h - l) * 0.1).max(1e-3);
        let (px, py) = (pad(lo[0], hi[0]), pad(lo[1], hi[1]));
        let b = ([lo[0] - px, lo[1] - py], [hi[0] + px, hi[1] + py]);
        plots::scatter_pair(&out.join("samples.png"), ("data", &data), ("samples (T-step sampler)", &samples), b)?;
        let n = 120;
        let grid = metrics::grid_centres(b.0, b.1, n);
        let panels: Vec<(String, Vec<f64>)> = (0..model.schedule.steps)
            .map(|t| {
                let f = energy_at(model, &grid, t);
                let max = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                (format!("exp f(x, {t})"), f.iter().map(|v| (v - max).exp()).collect())
            })
            .collect();
        plots::heatmaps(
            &out.join("density.png"),
            "learned density exp f(x, t), one panel per step index",
            &panels,
            n,
            b,
        )?;
    }
    let mut series = read_csv_columns(&out.join("log.csv"), &["loss_energy", "loss_generator", "e_f", "l_rec", "r1"]);
    let metric_series = read_csv_columns(&out.join("metrics.csv"), &["mmd2", "high_quality_pct", "nll"]);
    if let Some((x, _)) = series.first().cloned() {
        let mut named: Vec<(String, Vec<f64>)> = series.drain(..).map(|(_, s)| s).collect();
        // Metrics are logged less often: place them on the loss iterations (NaN elsewhere).
        for (mx, (name, vals)) in metric_series {
            let mut aligned = vec![f64::NAN; x.len()];
            for (it, v) in mx.iter().zip(vals) {
                if let Some(i) = x.iter().position(|xi| xi >= it) {
                    aligned[i] = v;
                }
            }
            named.push((name, aligned));
        }
        plots::curves(&out.join("curves.png"), "training curves", &x, &named)?;
    }
    Ok(())
}

/// Reads the named columns of a CSV with a header, as (x = first column, (name, values)).
fn read_csv_columns(path: &Path, names: &[&str]) -> Vec<(Vec<f64>, (String, Vec<f64>))> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let mut lines = text.lines();
    let Some(header) = lines.next() else { return Vec::new() };
    let cols: Vec<&str> = header.split(',').collect();
    let rows: Vec<Vec<f64>> =
        lines.map(|l| l.split(',').map(|c| c.parse::<f64>().unwrap_or(f64::NAN)).collect()).collect();
    let x: Vec<f64> = rows.iter().map(|r| r[0]).collect();
    names
        .iter()
        .filter_map(|name| {
            let j = cols.iter().position(|c| c == name)?;
            let vals: Vec<f64> = rows.iter().map(|r| r.get(j).copied().unwrap_or(f64::NAN)).collect();
            Some((x.clone(), (name.to_string(), vals)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_25gaussians_is_about_minus_0_63() {
        assert!((entropy_25gaussians() - (-0.63)).abs() < 0.01, "{}", entropy_25gaussians());
    }
}
