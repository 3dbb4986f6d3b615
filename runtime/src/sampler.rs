//! The few-step diffusion sampler (docs/algorithm.md §3, docs/model-format.md
//! "Sampler").
//!
//! Everything here works in normalised (model) units except
//! [`Model::sample`]'s output, which is converted to raw units at the end.
//! The posterior update is computed in f32 as
//! `x[i] = (coef1[t] · x̂0[i] + coef2[t] · x[i]) + posterior_std[t] · eps[i]`
//! (the last term only for `t > 0`), in that evaluation order.

use crate::error::Error;
use crate::kernels::f32_le;
use crate::model::Model;
use crate::rng::Rng;

impl Model<'_> {
    /// The generator in normalised units: `x0_hat = G(x_next, z, t)`.
    ///
    /// `x_next` and `x0_hat` hold D values, `z` holds `nz`. Errors:
    /// [`Error::DimensionMismatch`], [`Error::StepOutOfRange`],
    /// [`Error::ScratchTooSmall`], and [`Error::NonFiniteOutput`] (then
    /// `x0_hat` holds the non-finite result).
    pub fn generate(
        &self,
        x_next: &[f32],
        z: &[f32],
        t: usize,
        x0_hat: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        self.check_len("x_next", x_next.len(), self.data_dim)?;
        self.check_len("z", z.len(), self.nz)?;
        self.check_len("x0_hat", x0_hat.len(), self.data_dim)?;
        self.check_step(t)?;
        let out = self.run_generator(t, scratch, |xa, za| {
            copy(x_next, xa);
            copy(z, za);
        })?;
        copy(out, x0_hat);
        if x0_hat.iter().all(|v| v.is_finite()) {
            Ok(())
        } else {
            Err(Error::NonFiniteOutput)
        }
    }

    /// One posterior step in normalised units, in place:
    /// `x ← coef1[t] · G(x, z, t) + coef2[t] · x + (t > 0 ? posterior_std[t] · eps : 0)`.
    ///
    /// `x` and `eps` hold D values (`eps` is read only when `t > 0`, but its
    /// length is always checked), `z` holds `nz`. Errors as
    /// [`generate`](Model::generate); on [`Error::NonFiniteOutput`] `x` holds
    /// the non-finite result.
    pub fn denoise_step(
        &self,
        x: &mut [f32],
        z: &[f32],
        eps: &[f32],
        t: usize,
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        self.check_len("x", x.len(), self.data_dim)?;
        self.check_len("z", z.len(), self.nz)?;
        self.check_len("eps", eps.len(), self.data_dim)?;
        self.check_step(t)?;
        let x0_hat = self.run_generator(t, scratch, |xa, za| {
            copy(x, xa);
            copy(z, za);
        })?;
        let mut eps = eps.iter();
        self.posterior_update(x, x0_hat, t, || eps.next().copied().unwrap_or(0.0))
    }

    /// Draws one sample, in RAW units, into `out` (D values).
    ///
    /// Normal draws come from `rng` ([`Rng::normal`]) in exactly this order:
    ///
    /// 1. x_T: D draws, for `x[0], x[1], …, x[D−1]`;
    /// 2. for t = T−1 down to 0:
    ///    * z: `nz` draws, for `z[0], …, z[nz−1]`;
    ///    * only if t > 0, eps: D draws, for `eps[0], …, eps[D−1]`.
    ///
    /// Each step is computed exactly as [`denoise_step`](Model::denoise_step)
    /// with those z and eps, and the result is converted with
    /// [`denormalise`](Model::denormalise) (`x · std + mean`). So
    /// `T·nz + (T−1)·D + D` draws in all.
    ///
    /// Errors: [`Error::DimensionMismatch`] if `out.len() != D`,
    /// [`Error::ScratchTooSmall`], [`Error::NonFiniteOutput`] if any step
    /// or the result is non-finite (`out` then holds an unspecified value).
    pub fn sample(&self, rng: &mut Rng, out: &mut [f32], scratch: &mut [f32]) -> Result<(), Error> {
        self.check_len("out", out.len(), self.data_dim)?;
        if scratch.len() < self.scratch_len() {
            return Err(Error::ScratchTooSmall { needed: self.scratch_len(), found: scratch.len() });
        }
        for x in out.iter_mut() {
            *x = rng.normal();
        }
        for t in (0..self.steps).rev() {
            let x0_hat = self.run_generator(t, scratch, |xa, za| {
                copy(out, xa);
                for z in za {
                    *z = rng.normal();
                }
            })?;
            self.posterior_update(out, x0_hat, t, || rng.normal())?;
        }
        let params = self.std.chunks_exact(4).zip(self.mean.chunks_exact(4));
        for (x, (s, m)) in out.iter_mut().zip(params) {
            *x = *x * f32_le(s) + f32_le(m);
        }
        if out.iter().all(|v| v.is_finite()) {
            Ok(())
        } else {
            Err(Error::NonFiniteOutput)
        }
    }

    /// Writes the generator input with `fill(x_part, z_part)` (D and `nz`
    /// values at the start of the first scratch buffer), runs the generator
    /// at step `t`, and returns its D outputs (inside `scratch`).
    fn run_generator<'s>(
        &self,
        t: usize,
        scratch: &'s mut [f32],
        fill: impl FnOnce(&mut [f32], &mut [f32]),
    ) -> Result<&'s [f32], Error> {
        let needed = self.scratch_len();
        let found = scratch.len();
        let (a, b, _) = self.split_scratch(scratch)?;
        let input = a
            .get_mut(..self.data_dim + self.nz)
            .and_then(|input| input.split_at_mut_checked(self.data_dim))
            .ok_or(Error::ScratchTooSmall { needed, found })?;
        fill(input.0, input.1);
        self.generator_net.forward(t, a, b)
    }

    /// `x[i] ← coef1·x0_hat[i] + coef2·x[i] (+ std·eps() for t > 0)`, with
    /// `eps()` called once per element in index order, then a finiteness check.
    fn posterior_update(
        &self,
        x: &mut [f32],
        x0_hat: &[f32],
        t: usize,
        mut eps: impl FnMut() -> f32,
    ) -> Result<(), Error> {
        let c1 = self.coef1(t)?;
        let c2 = self.coef2(t)?;
        if t > 0 {
            let s = self.posterior_std(t)?;
            for (xi, &x0) in x.iter_mut().zip(x0_hat) {
                let e = eps();
                *xi = c1 * x0 + c2 * *xi + s * e;
            }
        } else {
            for (xi, &x0) in x.iter_mut().zip(x0_hat) {
                *xi = c1 * x0 + c2 * *xi;
            }
        }
        if x.iter().all(|v| v.is_finite()) {
            Ok(())
        } else {
            Err(Error::NonFiniteOutput)
        }
    }
}

/// Copies `src` into `dst` over their common length.
fn copy(src: &[f32], dst: &mut [f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}
