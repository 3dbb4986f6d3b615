//! Energy scoring: f(x, t) and the anomaly score −f(x, 0).

use crate::error::Error;
use crate::model::Model;

impl Model<'_> {
    /// f(x, t) for `x` in RAW data units (D values): `x` is normalised
    /// internally as `(x − mean) · inv_std`, then the energy network runs at
    /// step `t`. Higher means more likely (the energy is −f).
    ///
    /// Errors: [`Error::DimensionMismatch`] if `x.len() != D`,
    /// [`Error::StepOutOfRange`] if `t >= T`, [`Error::ScratchTooSmall`] if
    /// `scratch.len() < scratch_len()`, [`Error::NonFiniteOutput`] if the
    /// result is NaN or infinite.
    pub fn energy(&self, x: &[f32], t: usize, scratch: &mut [f32]) -> Result<f32, Error> {
        self.check_len("x", x.len(), self.data_dim)?;
        self.check_step(t)?;
        let (a, b) = self.split_scratch(scratch)?;
        self.normalise_into(x, a);
        self.energy_from_buffers(t, a, b)
    }

    /// f(x, t) for `x` already in normalised (model) units; otherwise as
    /// [`energy`](Model::energy).
    pub fn energy_normalised(&self, x: &[f32], t: usize, scratch: &mut [f32]) -> Result<f32, Error> {
        self.check_len("x", x.len(), self.data_dim)?;
        self.check_step(t)?;
        let (a, b) = self.split_scratch(scratch)?;
        for (dst, src) in a.iter_mut().zip(x) {
            *dst = *src;
        }
        self.energy_from_buffers(t, a, b)
    }

    /// The anomaly score −f(x, 0) for `x` in raw units: higher means more
    /// anomalous. Errors as [`energy`](Model::energy).
    pub fn anomaly_score(&self, x: &[f32], scratch: &mut [f32]) -> Result<f32, Error> {
        self.energy(x, 0, scratch).map(|f| -f)
    }

    /// Runs the energy network on the normalised input in `a[..D]`.
    fn energy_from_buffers(&self, t: usize, a: &mut [f32], b: &mut [f32]) -> Result<f32, Error> {
        let out = self.energy_net.forward(t, a, b)?;
        match out.first() {
            Some(&f) if f.is_finite() => Ok(f),
            _ => Err(Error::NonFiniteOutput),
        }
    }
}
