//! Anomaly-score calibration: quantiles of the scores of held-out normal
//! data and the default threshold, stored in the model file by
//! `export --calibrate` and read by the runtime's `Model::is_anomaly` /
//! `Model::tail_probability` (docs/model-format.md, "Calibration").

use thiserror::Error;

/// Number of stored quantiles: levels 0, 1/128, …, 1 (516 bytes of flash).
pub const DEFAULT_QUANTILES: usize = 129;

/// The default threshold level: about 1 % of normal readings are flagged.
pub const DEFAULT_LEVEL: f64 = 0.99;

/// The fewest calibration rows accepted.
pub const MIN_ROWS: usize = 20;

/// A calibration, ready to be written into a model file.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The score quantile at level `i / (K − 1)`, `i = 0..K`; non-decreasing.
    pub quantiles: Vec<f32>,
    /// Scores strictly above it are anomalies: the `level` quantile.
    pub threshold: f32,
    /// The quantile level of the threshold.
    pub level: f64,
    /// Number of calibration scores.
    pub rows: usize,
}

/// Why a calibration cannot be computed.
#[derive(Debug, Error, PartialEq)]
pub enum CalibrationError {
    /// Too few rows for meaningful quantiles.
    #[error("calibration needs at least {MIN_ROWS} held-out normal rows, got {0}; pass a larger file")]
    TooFewRows(usize),
    /// A score is NaN or infinite.
    #[error("the model gave a non-finite anomaly score for calibration row {0} (1-based); check that row")]
    NonFiniteScore(usize),
    /// The threshold level is not in (0, 1).
    #[error("threshold level {0} is outside (0, 1); pass e.g. --threshold-level 0.99")]
    BadLevel(f64),
    /// The quantile count is out of range.
    #[error("the quantile count {0} is outside 2..=4097")]
    BadCount(usize),
}

/// The `p`-quantile of sorted values by linear interpolation between
/// order statistics (NumPy's default "linear" method): with `h = (n − 1) p`,
/// `x[⌊h⌋] + (h − ⌊h⌋)(x[⌈h⌉] − x[⌊h⌋])`.
///
/// # Panics
/// If `sorted` is empty.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Calibrates from the anomaly scores of held-out normal rows: `count`
/// quantiles at evenly spaced levels and the threshold at `level`.
pub fn calibrate(scores: &[f64], count: usize, level: f64) -> Result<Calibration, CalibrationError> {
    if scores.len() < MIN_ROWS {
        return Err(CalibrationError::TooFewRows(scores.len()));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(CalibrationError::NonFiniteScore(i + 1));
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(CalibrationError::BadLevel(level));
    }
    if !(2..=ddaebm_runtime::MAX_QUANTILES).contains(&count) {
        return Err(CalibrationError::BadCount(count));
    }
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    // f64 → f32 rounding is monotone, so the stored quantiles stay sorted.
    let quantiles = (0..count).map(|i| quantile(&sorted, i as f64 / (count - 1) as f64) as f32).collect();
    Ok(Calibration { quantiles, threshold: quantile(&sorted, level) as f32, level, rows: scores.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_known_set() {
        // 0, 1, …, 100: the p-quantile is 100 p.
        let s: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(quantile(&s, 0.0), 0.0);
        assert_eq!(quantile(&s, 0.25), 25.0);
        assert_eq!(quantile(&s, 1.0), 100.0);
        assert!((quantile(&[1.0, 3.0], 0.75) - 2.5).abs() < 1e-12);
        let mut shuffled = s.clone();
        shuffled.reverse();
        let c = calibrate(&shuffled, 5, 0.99).unwrap();
        assert_eq!(c.quantiles, vec![0.0, 25.0, 50.0, 75.0, 100.0]);
        assert_eq!(c.threshold, 99.0);
        assert_eq!(c.rows, 101);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let s: Vec<f64> = (0..30).map(f64::from).collect();
        assert_eq!(calibrate(&s[..5], 5, 0.99), Err(CalibrationError::TooFewRows(5)));
        let mut nan = s.clone();
        nan[3] = f64::NAN;
        assert_eq!(calibrate(&nan, 5, 0.99), Err(CalibrationError::NonFiniteScore(4)));
        assert_eq!(calibrate(&s, 5, 1.0), Err(CalibrationError::BadLevel(1.0)));
        assert_eq!(calibrate(&s, 1, 0.5), Err(CalibrationError::BadCount(1)));
    }
}
