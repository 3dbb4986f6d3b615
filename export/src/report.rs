//! The accuracy report every export prints: each precision's model file,
//! run through the device runtime, against the f32 file on a probe set.
//!
//! Measured per precision (all through `ddaebm-runtime`, the code that runs
//! on the device):
//! - **energy**: |Δ anomaly score −f(x, 0)| over the probe points, max and
//!   mean, and the max relative to the spread (standard deviation) of the
//!   f32 scores over the probe — the energy has an arbitrary offset, so its
//!   spread is the scale that matters for ranking readings;
//! - **one generator step**: |Δ G(x, z, t)| with the probe points as
//!   `x_{t+1}`, the same z, every t, in units of the data's standard
//!   deviation (normalised units);
//! - **full samples**: |Δ x_0| of T-step samples with the same seeds, in
//!   data standard deviations;
//! - **AUROC** of the anomaly score on the labelled probe, and its change
//!   against f32;
//! - the file size.
//!
//! The probe is the user's labelled file (`export --probe`) or, by default,
//! the f32 model's own samples (normal) against uniform points in their
//! bounding box widened by a quarter of its size on each side (anomalies).

use ddaebm_runtime::{Model, Rng};

use crate::model_file::Precision;
use ddaebm_host::detection::auroc;

/// A probe set in raw units, optionally labelled (true = anomaly).
#[derive(Debug, Clone)]
pub struct Probe {
    /// Row-major points, `rows × D`.
    pub points: Vec<f32>,
    /// One label per point (true = anomaly), when known.
    pub labels: Option<Vec<bool>>,
    /// Where the probe came from, for the printed report.
    pub source: String,
}

/// The default probe: `n` samples of the f32 model (normal) and `n` points
/// uniform in the samples' bounding box, widened by 25 % of its extent on
/// each side (anomalies). Seeded; no data file needed.
pub fn default_probe(reference: &Model<'_>, n: usize, seed: u64) -> Result<Probe, ddaebm_runtime::Error> {
    let d = reference.data_dim();
    let mut scratch = vec![0f32; reference.scratch_len()];
    let mut points = vec![0f32; 2 * n * d];
    let (samples, uniform) = points.split_at_mut(n * d);
    for (i, x) in samples.chunks_exact_mut(d).enumerate() {
        reference.sample(&mut Rng::new(seed.wrapping_add(i as u64)), x, &mut scratch)?;
    }
    let mut lo = vec![f32::INFINITY; d];
    let mut hi = vec![f32::NEG_INFINITY; d];
    for x in samples.chunks_exact(d) {
        for j in 0..d {
            lo[j] = lo[j].min(x[j]);
            hi[j] = hi[j].max(x[j]);
        }
    }
    let mut rng = Rng::new(seed ^ 0x5EED_0FF5_E7);
    for x in uniform.chunks_exact_mut(d) {
        for j in 0..d {
            let pad = 0.25 * (hi[j] - lo[j]);
            x[j] = lo[j] - pad + rng.uniform() * (hi[j] - lo[j] + 2.0 * pad);
        }
    }
    let labels = (0..2 * n).map(|i| i >= n).collect();
    Ok(Probe {
        points,
        labels: Some(labels),
        source: format!("{n} samples of the f32 model (normal) vs {n} uniform points around them (anomalies)"),
    })
}

/// Errors of one precision against f32.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The precision measured.
    pub precision: Precision,
    /// Size of its model file in bytes.
    pub file_bytes: usize,
    /// Max |Δ anomaly score| over the probe.
    pub energy_max: f64,
    /// Mean |Δ anomaly score| over the probe.
    pub energy_mean: f64,
    /// `energy_max` divided by the standard deviation of the f32 scores.
    pub energy_relative: f64,
    /// Max |Δ G(x, z, t)| over probe points, coordinates and t (data σ).
    pub step_max: f64,
    /// Mean |Δ G(x, z, t)| (data σ).
    pub step_mean: f64,
    /// Max |Δ x_0| of full samples with the same seeds (data σ).
    pub sample_max: f64,
    /// Mean |Δ x_0| of full samples (data σ).
    pub sample_mean: f64,
    /// AUROC of the anomaly score on the labelled probe.
    pub auroc: Option<f64>,
}

impl Row {
    /// The figure the accuracy bound applies to: the largest of the
    /// relative energy error, the one-step error and the sample error.
    pub fn worst(&self) -> f64 {
        self.energy_relative.max(self.step_max).max(self.sample_max)
    }
}

/// Settings of a measurement.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Number of full samples compared.
    pub samples: usize,
    /// Seed of the samples and of the latents of the generator steps.
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { samples: 256, seed: 0 }
    }
}

/// Max and mean of |a − b| over two equally long sequences.
fn max_mean(pairs: impl Iterator<Item = (f64, f64)>) -> (f64, f64) {
    let (mut max, mut sum, mut n) = (0.0f64, 0.0, 0usize);
    for (a, b) in pairs {
        let e = (a - b).abs();
        max = if e.is_nan() { f64::NAN } else { max.max(e) };
        sum += e;
        n += 1;
    }
    (max, if n == 0 { 0.0 } else { sum / n as f64 })
}

/// Population standard deviation (0 for fewer than two values).
fn std_dev(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
}

/// What one model computes on the probe: scores, generator steps, samples.
struct Outputs {
    scores: Vec<f64>,
    steps: Vec<f64>,
    samples: Vec<f64>,
}

fn outputs(model: &Model<'_>, probe: &Probe, settings: Settings) -> Result<Outputs, ddaebm_runtime::Error> {
    let d = model.data_dim();
    let mut scratch = vec![0f32; model.scratch_len()];
    let mut scores = Vec::with_capacity(probe.points.len() / d);
    for x in probe.points.chunks_exact(d) {
        scores.push(f64::from(model.anomaly_score(x, &mut scratch)?));
    }
    let mut steps = Vec::new();
    let (mut x, mut out) = (vec![0f32; d], vec![0f32; d]);
    let mut z = vec![0f32; model.nz()];
    let mut rng = Rng::new(settings.seed);
    for raw in probe.points.chunks_exact(d) {
        model.normalise(raw, &mut x)?;
        for t in 0..model.steps() {
            z.iter_mut().for_each(|v| *v = rng.normal());
            model.generate(&x, &z, t, &mut out, &mut scratch)?;
            steps.extend(out.iter().map(|&v| f64::from(v)));
        }
    }
    let mut samples = Vec::with_capacity(settings.samples * d);
    for i in 0..settings.samples {
        model.sample(&mut Rng::new(settings.seed.wrapping_add(1 + i as u64)), &mut out, &mut scratch)?;
        model.normalise(&out, &mut x)?;
        samples.extend(x.iter().map(|&v| f64::from(v)));
    }
    Ok(Outputs { scores, steps, samples })
}

/// Measures each `(precision, file bytes)` against the f32 file `reference`
/// on `probe`. The f32 row itself is measured too (all errors 0 unless the
/// runtime is nondeterministic).
pub fn measure(
    reference: &[u8],
    files: &[(Precision, Vec<u8>)],
    probe: &Probe,
    settings: Settings,
) -> Result<Vec<Row>, ddaebm_runtime::Error> {
    let reference = Model::from_bytes(reference)?;
    let base = outputs(&reference, probe, settings)?;
    let spread = std_dev(&base.scores);
    let mut rows = Vec::new();
    for (precision, bytes) in files {
        let model = Model::from_bytes(bytes)?;
        let o = outputs(&model, probe, settings)?;
        let (energy_max, energy_mean) = max_mean(o.scores.iter().copied().zip(base.scores.iter().copied()));
        let (step_max, step_mean) = max_mean(o.steps.iter().copied().zip(base.steps.iter().copied()));
        let (sample_max, sample_mean) = max_mean(o.samples.iter().copied().zip(base.samples.iter().copied()));
        rows.push(Row {
            precision: *precision,
            file_bytes: bytes.len(),
            energy_max,
            energy_mean,
            energy_relative: if spread > 0.0 { energy_max / spread } else { energy_max },
            step_max,
            step_mean,
            sample_max,
            sample_mean,
            auroc: probe.labels.as_ref().map(|l| auroc(&o.scores, l)),
        });
    }
    Ok(rows)
}

/// The report as a Markdown table; `chosen` is marked, and the AUROC
/// change is taken against the F32 row when there is one.
pub fn table(rows: &[Row], chosen: Precision) -> String {
    let f32_auroc = rows.iter().find(|r| r.precision == Precision::F32).and_then(|r| r.auroc);
    let mut s = String::from(
        "| precision | file bytes | score max abs err | score mean abs err | score max / spread \
         | step max err (σ) | sample max err (σ) | sample mean err (σ) | AUROC | AUROC change |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let mark = if r.precision == chosen { " (requested)" } else { "" };
        let (au, change) = match (r.auroc, f32_auroc) {
            (Some(a), Some(b)) => (format!("{a:.4}"), format!("{:+.4}", a - b)),
            (Some(a), None) => (format!("{a:.4}"), "–".into()),
            _ => ("–".into(), "–".into()),
        };
        s += &format!(
            "| {}{mark} | {} | {:.2e} | {:.2e} | {:.2e} | {:.2e} | {:.2e} | {:.2e} | {au} | {change} |\n",
            r.precision.name(),
            r.file_bytes,
            r.energy_max,
            r.energy_mean,
            r.energy_relative,
            r.step_max,
            r.sample_max,
            r.sample_mean,
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_mean_and_std() {
        let (max, mean) = max_mean([(1.0, 1.5), (2.0, 1.0), (0.0, 0.0)].into_iter());
        assert_eq!(max, 1.0);
        assert!((mean - 0.5).abs() < 1e-12);
        assert!(max_mean([(f64::NAN, 0.0)].into_iter()).0.is_nan());
        assert!((std_dev(&[1.0, 3.0]) - 1.0).abs() < 1e-12);
        assert_eq!(std_dev(&[4.0]), 0.0);
    }
}
