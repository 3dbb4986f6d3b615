//! The per-step diffusion coefficients (docs/algorithm.md §2), read from the
//! file's `schedule.*` tensors. Step `t` runs from 0 (clean end) to T−1.

use crate::error::Error;
use crate::kernels::f32_at;
use crate::model::Model;

impl Model<'_> {
    /// Reads element `t` of a validated `[T]` F32 tensor.
    fn step_value(&self, bytes: &[u8], t: usize) -> Result<f32, Error> {
        self.check_step(t)?;
        f32_at(bytes, t).ok_or(Error::StepOutOfRange { t, steps: self.steps })
    }

    /// `coef1_t`, the posterior coefficient of x̂0 at step `t`
    /// ([`Error::StepOutOfRange`] unless `t < T`).
    pub fn coef1(&self, t: usize) -> Result<f32, Error> {
        self.step_value(self.coef1, t)
    }

    /// `coef2_t`, the posterior coefficient of x_{t+1} at step `t`
    /// ([`Error::StepOutOfRange`] unless `t < T`).
    pub fn coef2(&self, t: usize) -> Result<f32, Error> {
        self.step_value(self.coef2, t)
    }

    /// `√var_t`, the posterior standard deviation at step `t` (used only for
    /// `t > 0`; [`Error::StepOutOfRange`] unless `t < T`).
    pub fn posterior_std(&self, t: usize) -> Result<f32, Error> {
        self.step_value(self.posterior_std, t)
    }
}
