//! Calibrated anomaly decisions: a threshold on the anomaly score and the
//! tail probability of a score, from quantiles of held-out normal data.
//!
//! `export --calibrate NORMAL.csv` scores held-out normal readings with the
//! exported model itself (same precision, same kernels) and stores
//!
//! * `calibration.quantiles`, F32 `[K]`: the score quantile at level
//!   `i / (K − 1)` for `i = 0..K` (so the first is the smallest and the
//!   last the largest calibration score), and
//! * `calibration.threshold`, F32 `[1]`: scores strictly above it are
//!   anomalies (by default the 0.99 quantile: about 1 % of normal readings
//!   are flagged).
//!
//! The tail probability of a score `s` is the fraction of normal readings
//! expected to score at least `s`: `1 − F(s)`, with `F` the piecewise
//! linear interpolation of the quantiles. It is 1 below the smallest
//! calibration score and 0 above the largest (with n calibration readings,
//! the true value there is likely below 1/n).

use crate::error::Error;
use crate::kernels::f32_le;
use crate::model::Model;

/// A calibrated decision on one reading: see [`Model::verdict`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Verdict {
    /// The anomaly score −f(x, 0): higher is more anomalous.
    pub score: f32,
    /// The fraction of normal readings expected to score at least this high.
    pub tail_probability: f32,
    /// `score > threshold`.
    pub is_anomaly: bool,
}

impl Model<'_> {
    /// Whether the file holds a calibration (`export --calibrate`).
    pub fn is_calibrated(&self) -> bool {
        self.calibration.is_some()
    }

    /// The calibrated anomaly threshold: scores strictly above it are
    /// anomalies. `None` when the file holds no calibration.
    pub fn threshold(&self) -> Option<f32> {
        self.calibration.map(|c| c.threshold)
    }

    /// The number of stored calibration quantiles K (0 when uncalibrated).
    pub fn quantile_count(&self) -> usize {
        self.calibration.map_or(0, |c| c.quantiles.len() / 4)
    }

    /// Whether the reading `x` (raw units) is an anomaly: its anomaly score
    /// is above the calibrated threshold.
    ///
    /// Errors: [`Error::NotCalibrated`] if the file holds no calibration,
    /// otherwise as [`anomaly_score`](Model::anomaly_score).
    pub fn is_anomaly(&self, x: &[f32], scratch: &mut [f32]) -> Result<bool, Error> {
        self.verdict(x, scratch).map(|v| v.is_anomaly)
    }

    /// The score, its tail probability and the decision for the reading `x`
    /// (raw units), from one energy evaluation.
    ///
    /// Errors: [`Error::NotCalibrated`] if the file holds no calibration,
    /// otherwise as [`anomaly_score`](Model::anomaly_score).
    pub fn verdict(&self, x: &[f32], scratch: &mut [f32]) -> Result<Verdict, Error> {
        let calibration = self.calibration.ok_or(Error::NotCalibrated)?;
        let score = self.anomaly_score(x, scratch)?;
        Ok(Verdict {
            score,
            tail_probability: self.tail_probability(score)?,
            is_anomaly: score > calibration.threshold,
        })
    }

    /// The fraction of normal readings expected to score at least `score`
    /// (see the module documentation), in `[0, 1]` and non-increasing in
    /// `score`.
    ///
    /// Errors: [`Error::NotCalibrated`] if the file holds no calibration,
    /// [`Error::NonFiniteOutput`] if `score` is NaN.
    pub fn tail_probability(&self, score: f32) -> Result<f32, Error> {
        let calibration = self.calibration.ok_or(Error::NotCalibrated)?;
        if score.is_nan() {
            return Err(Error::NonFiniteOutput);
        }
        let q = calibration.quantiles;
        let k = q.len() / 4;
        let at = |i: usize| q.get(4 * i..4 * i + 4).map_or(f32::INFINITY, f32_le);
        if k < 2 || score < at(0) {
            return Ok(1.0);
        }
        if score >= at(k - 1) {
            return Ok(0.0);
        }
        // The last i with q[i] <= score (< q[k-1]); then q[i] <= score < q[i+1].
        let mut i = 0;
        while i + 2 < k && at(i + 1) <= score {
            i += 1;
        }
        let (lo, hi) = (at(i), at(i + 1));
        let within = if hi > lo { (score - lo) / (hi - lo) } else { 0.0 };
        let cdf = (i as f32 + within) / (k - 1) as f32;
        Ok((1.0 - cdf).clamp(0.0, 1.0))
    }
}
