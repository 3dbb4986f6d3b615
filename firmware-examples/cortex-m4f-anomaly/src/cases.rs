//! What the firmware runs, shared with the host parity check
//! (`../host-check` includes this file with `#[path]`), so both sides score
//! the same points and draw the same seeds. Plain `core`: no_std and std.

/// Points scored on the device, in raw data units (D = 2).
///
/// The first 25 are the centres of the 25gaussians mixture the default model
/// is trained on, `(2i/2.828, 2j/2.828)` for i, j in −2..=2 (normal); the
/// last three are off the data (anomalous): between four modes, outside the
/// grid, and far left.
pub const POINTS: [[f32; 2]; 28] = {
    let mut p = [[0.0f32; 2]; 28];
    let mut k = 0;
    let mut i = -2i32;
    while i <= 2 {
        let mut j = -2i32;
        while j <= 2 {
            // Computed in f64 and rounded once, the same on every target.
            p[k] = [
                (2.0 * i as f64 / 2.828) as f32,
                (2.0 * j as f64 / 2.828) as f32,
            ];
            k += 1;
            j += 1;
        }
        i += 1;
    }
    p[25] = [0.35, 0.35];
    p[26] = [3.0, 3.0];
    p[27] = [-2.5, 0.1];
    p
};

/// How many of [`POINTS`], from the start, are normal (the rest are anomalous).
pub const NORMAL_POINTS: usize = 25;

/// Fallback anomaly-score threshold for model files without calibration:
/// `anomaly_score(x) = −f(x, 0) > THRESHOLD` is reported as anomalous.
///
/// Chosen by hand for the committed default models (between their scores
/// of the mixture centres and of the off-data points, see `../README.md`).
/// A file exported with `export --calibrate` carries its own threshold,
/// which [`threshold`] prefers.
pub const THRESHOLD: f32 = 0.0;

/// The threshold in use: the model file's calibrated one
/// (`Model::threshold()`), else [`THRESHOLD`].
pub fn threshold(calibrated: Option<f32>) -> f32 {
    calibrated.unwrap_or(THRESHOLD)
}

/// Samples drawn on the device: sample k uses `Rng::new(SEED_BASE + k)`.
pub const SAMPLES: u64 = 8;

/// Seed of the first sample.
pub const SEED_BASE: u64 = 0;

/// The verdict for a score against a threshold.
pub fn verdict(score: f32, threshold: f32) -> &'static str {
    if score > threshold {
        "ANOMALY"
    } else {
        "normal"
    }
}
