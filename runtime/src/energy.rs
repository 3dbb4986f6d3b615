//! Energy scoring: f(x, t) and the anomaly score −f(x, 0).

use crate::error::Error;
#[cfg(feature = "reconstruction")]
use crate::format::TensorName;
use crate::model::{Model, ScoreKind};
#[cfg(feature = "reconstruction")]
use crate::rng::Rng;

/// Seed of the reconstruction score's noise draws.
pub const RECONSTRUCTION_SEED: u64 = 0x5C0E;

/// Draws of the reconstruction score when a file does not say.
pub const DEFAULT_DRAWS: usize = 8;

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
        let (a, b, _) = self.split_scratch(scratch)?;
        self.normalise_into(x, a);
        self.energy_from_buffers(t, a, b)
    }

    /// f(x, t) for `x` already in normalised (model) units; otherwise as
    /// [`energy`](Model::energy).
    pub fn energy_normalised(&self, x: &[f32], t: usize, scratch: &mut [f32]) -> Result<f32, Error> {
        self.check_len("x", x.len(), self.data_dim)?;
        self.check_step(t)?;
        let (a, b, _) = self.split_scratch(scratch)?;
        for (dst, src) in a.iter_mut().zip(x) {
            *dst = *src;
        }
        self.energy_from_buffers(t, a, b)
    }

    /// The anomaly score the file declares ([`Model::score_kind`]) for `x`
    /// in raw units, higher meaning more anomalous: −f(x, 0) by default, or
    /// [`reconstruction_score`](Model::reconstruction_score) for files
    /// exported with `--score reconstruction`. Errors as
    /// [`energy`](Model::energy).
    pub fn anomaly_score(&self, x: &[f32], scratch: &mut [f32]) -> Result<f32, Error> {
        match self.score_kind {
            ScoreKind::Energy => self.energy(x, 0, scratch).map(|f| -f),
            #[cfg(feature = "reconstruction")]
            ScoreKind::Reconstruction => self.reconstruction_score(x, scratch),
            // The loader refuses such files without the feature.
            #[cfg(not(feature = "reconstruction"))]
            ScoreKind::Reconstruction => Err(Error::ReconstructionNotBuilt),
        }
    }

    /// The anomaly score this file's [`anomaly_score`](Model::anomaly_score) computes.
    pub fn score_kind(&self) -> ScoreKind {
        self.score_kind
    }

    /// The generator's denoising reconstruction error at step 0, for `x` in
    /// raw units (higher = more anomalous): with x̃ the normalised reading,
    /// for each of the file's `reconstruction_draws` draws k,
    /// `x₁ = a_bar[0] · x̃ + sigma_bar[0] · ε_k` (ε_k from
    /// [`Rng::new(RECONSTRUCTION_SEED)`](crate::Rng), the same for every
    /// reading, so the score is deterministic) and `x̂₀ = G(x₁, z = 0, 0)`;
    /// the score is the mean over k of ‖x̃ − x̂₀‖². Costs `draws` generator
    /// passes. Needs the file's `schedule.a_bar` / `schedule.sigma_bar`
    /// (written by every export since they were added) and
    /// `reconstruction_draws` (default 8 when the file declares energy
    /// scoring).
    ///
    /// Errors: [`Error::MissingTensor`] for a file without `schedule.a_bar`,
    /// otherwise as [`energy`](Model::energy).
    ///
    /// Only with the `reconstruction` cargo feature (on by default).
    #[cfg(feature = "reconstruction")]
    pub fn reconstruction_score(&self, x: &[f32], scratch: &mut [f32]) -> Result<f32, Error> {
        self.check_len("x", x.len(), self.data_dim)?;
        let (Some(a), Some(s)) = (self.a_bar.first_chunk::<4>(), self.sigma_bar.first_chunk::<4>()) else {
            return Err(Error::MissingTensor(TensorName::ABar));
        };
        let (a0, s0) = (f32::from_le_bytes(*a), f32::from_le_bytes(*s));
        let (a, b, rest) = self.split_scratch(scratch)?;
        // `split_scratch` checked the whole length, so this never fails.
        let too_small = Error::ScratchTooSmall { needed: self.scratch_len(), found: 0 };
        let xn = rest.get_mut(..self.data_dim).ok_or(too_small)?;
        self.normalise_into(x, xn);
        let draws = if self.draws == 0 { DEFAULT_DRAWS } else { self.draws };
        let mut rng = Rng::new(RECONSTRUCTION_SEED);
        let mut total = 0.0f32;
        for _ in 0..draws {
            // Generator input concat(x₁, z = 0) in `a` (W ≥ D + nz).
            for (k, v) in a.iter_mut().enumerate().take(self.data_dim + self.nz) {
                *v = match xn.get(k) {
                    Some(&xi) => a0 * xi + s0 * rng.normal(),
                    None => 0.0,
                };
            }
            let out = self.generator_net.forward(0, a, b)?;
            let mut err = 0.0f32;
            for (&o, &xi) in out.iter().zip(xn.iter()) {
                let d = xi - o;
                err += d * d;
            }
            total += err;
        }
        let score = total / draws as f32;
        if score.is_finite() {
            Ok(score)
        } else {
            Err(Error::NonFiniteOutput)
        }
    }

    /// Runs the energy network on the normalised input in `a[..D]`, plus
    /// the base measure when the file has one ([`crate::base`]; a mixture
    /// base uses `b` as working space before the network overwrites it).
    fn energy_from_buffers(&self, t: usize, a: &mut [f32], b: &mut [f32]) -> Result<f32, Error> {
        let log_density = match &self.base {
            Some(base) => base.log_density(a, t, b),
            None => 0.0,
        };
        let out = self.energy_net.forward(t, a, b)?;
        let r = out.first().copied().unwrap_or(f32::NAN);
        let f = match &self.base {
            Some(base) => base.combine(r, log_density),
            None => r,
        };
        if f.is_finite() {
            Ok(f)
        } else {
            Err(Error::NonFiniteOutput)
        }
    }
}
