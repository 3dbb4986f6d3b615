//! The energy's Gaussian base measure (files that carry `base.*` tensors,
//! format version 2; docs/model-format.md).
//!
//! For such files
//!
//! ```text
//! f(x, t) = r / (1 + |r| / B) + base_t(x),   r = the energy network's output
//! base_t(x) = −½ Σ_k (v_k · x)² · inv_var[t][k]
//! ```
//!
//! with x the normalised reading, v_k the rows of `base.basis` `[D, D]`,
//! `base.inv_var` `[T, D]` (all ≥ 0) and B = `base.bound` (> 0). The
//! network's part stays within (−B, B), so exp f is integrable and f falls
//! quadratically along every ray far from the data: no reading far outside
//! the training range scores as normal.
//!
//! Arithmetic order (part of the bit-identity contract host ↔ MCU): for
//! each k in order, `p = Σ_i v_k[i] · x[i]` summed over i in order from
//! 0.0, then `q += (p · p) · inv_var[t][k]` from 0.0; `base = −0.5 · q`;
//! then `f = r / (1 + |r| / B) + base`, each an f32 operation (no fused
//! multiply-add).
//!
//! # Gaussian-mixture base (K ≥ 2 components)
//!
//! A file that also carries `base.mean` `[T, K, D]` and `base.log_weight`
//! `[T, K]` (2 ≤ K ≤ [`MAX_BASE_COMPONENTS`]) has a mixture base: then
//! `base.basis` is `[K·D, D]` (rows k·D … k·D + D − 1 are component k's
//! eigenvectors v_{k,j}) and `base.inv_var` is `[T, K·D]` (entry
//! `[t][k·D + j]` is component k's precision along v_{k,j} at step t), and
//!
//! ```text
//! l_k(x, t)   = log_weight[t][k] − ½ Σ_j (v_{k,j} · (x − mean[t][k]))² · inv_var[t][k·D + j]
//! base_t(x)   = log Σ_k exp l_k(x, t)                       (computed as m + log Σ_k exp(l_k − m))
//! ```
//!
//! Arithmetic order (bit-identity contract): for each k in order,
//! `d_i = x[i] − mean[t][k][i]` (one f32 subtraction per i, the same value
//! wherever it is used below); `q = 0.0`; for each j in order
//! `p = 0.0`, `p += v_{k,j}[i] · d_i` for i in order, `q += (p · p) ·
//! inv_var[t][k·D + j]`; `l_k = log_weight[t][k] − 0.5 · q`. Then
//! `m = l_0`, and for k = 1 … K − 1 in order `if l_k > m { m = l_k }`;
//! `s = 0.0`, `s += libm::expf(l_k − m)` for k in order; `base = m +
//! libm::logf(s)`. Each is a separate f32 operation (no fused multiply-add);
//! `libm` is the pure-Rust crate, the same on every target. `combine` is
//! the same as for K = 1, and a file without the two tensors (K = 1) runs
//! the single-Gaussian code above unchanged.

use crate::kernels::f32_le;

/// Largest number of components of a Gaussian-mixture base
/// (`base.log_weight`'s second dimension).
pub const MAX_BASE_COMPONENTS: usize = 16;

/// The means and log-weights of a mixture base (K ≥ 2), borrowed from the file.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "mixture"), allow(dead_code))]
pub(crate) struct Mixture<'a> {
    /// F32 `[T, K, D]`, finite.
    pub(crate) mean: &'a [u8],
    /// F32 `[T, K]`, finite.
    pub(crate) log_weight: &'a [u8],
    /// K, 2..=[`MAX_BASE_COMPONENTS`].
    pub(crate) components: usize,
}

/// A validated base measure borrowed from the file.
#[derive(Clone, Copy)]
pub(crate) struct Base<'a> {
    /// F32 `[D, D]`, row k = v_k; `[K·D, D]` for a mixture.
    pub(crate) basis: &'a [u8],
    /// F32 `[T, D]`, finite and ≥ 0; `[T, K·D]` for a mixture.
    pub(crate) inv_var: &'a [u8],
    /// B, finite and > 0.
    pub(crate) bound: f32,
    /// D.
    pub(crate) dim: usize,
    /// The mixture's means and weights; `None` for a single Gaussian (K = 1).
    pub(crate) mixture: Option<Mixture<'a>>,
}

impl Base<'_> {
    /// The number of Gaussian components K: 1, or 2..=16 for a mixture.
    pub(crate) fn components(&self) -> usize {
        self.mixture.map_or(1, |m| m.components)
    }

    /// base_t(x) for the normalised `x` (its first D values). A `t` out of
    /// range gives 0 (callers check `t` first). `tmp` is working space of
    /// at least D values for a mixture (its contents are overwritten; a
    /// shorter one gives NaN, which callers never pass); a single Gaussian
    /// does not touch it.
    pub(crate) fn log_density(&self, x: &[f32], t: usize, tmp: &mut [f32]) -> f32 {
        if let Some(mixture) = &self.mixture {
            #[cfg(feature = "mixture")]
            return self.mixture_log_density(mixture, x, t, tmp);
            // The loader refuses mixture files without the feature.
            #[cfg(not(feature = "mixture"))]
            {
                let _ = (mixture, tmp);
                return f32::NAN;
            }
        }
        let row_bytes = self.dim.saturating_mul(4).max(1);
        let Some(inv_var) = self.inv_var.chunks_exact(row_bytes).nth(t) else { return 0.0 };
        let mut q = 0.0f32;
        for (v, w) in self.basis.chunks_exact(row_bytes).zip(inv_var.chunks_exact(4)) {
            let mut p = 0.0f32;
            for (vi, &xi) in v.chunks_exact(4).zip(x) {
                p += f32_le(vi) * xi;
            }
            q += (p * p) * f32_le(w);
        }
        -0.5 * q
    }

    /// log Σ_k exp l_k(x, t) of a mixture, in the order the module
    /// documentation fixes.
    #[cfg(feature = "mixture")]
    #[inline(never)]
    fn mixture_log_density(&self, mixture: &Mixture<'_>, x: &[f32], t: usize, tmp: &mut [f32]) -> f32 {
        let k = mixture.components;
        let row_bytes = self.dim.saturating_mul(4).max(1);
        let step_bytes = row_bytes.saturating_mul(k);
        let (Some(inv_var), Some(means), Some(log_weight)) = (
            self.inv_var.chunks_exact(step_bytes).nth(t),
            mixture.mean.chunks_exact(step_bytes).nth(t),
            mixture.log_weight.chunks_exact(k.saturating_mul(4).max(1)).nth(t),
        ) else {
            return 0.0;
        };
        let Some(d) = tmp.get_mut(..self.dim) else { return f32::NAN };
        let mut l = [0.0f32; MAX_BASE_COMPONENTS];
        let components = self
            .basis
            .chunks_exact(row_bytes.saturating_mul(self.dim).max(1))
            .zip(means.chunks_exact(row_bytes))
            .zip(inv_var.chunks_exact(row_bytes))
            .zip(log_weight.chunks_exact(4));
        for (lk, (((basis, mean), inv_var), log_weight)) in l.iter_mut().zip(components) {
            for ((di, &xi), mi) in d.iter_mut().zip(x).zip(mean.chunks_exact(4)) {
                *di = xi - f32_le(mi);
            }
            let mut q = 0.0f32;
            for (v, w) in basis.chunks_exact(row_bytes).zip(inv_var.chunks_exact(4)) {
                let mut p = 0.0f32;
                for (vi, &di) in v.chunks_exact(4).zip(d.iter()) {
                    p += f32_le(vi) * di;
                }
                q += (p * p) * f32_le(w);
            }
            *lk = f32_le(log_weight) - 0.5 * q;
        }
        let l = l.get(..k).unwrap_or(&[]);
        let Some((&first, rest)) = l.split_first() else { return 0.0 };
        let mut m = first;
        for &lk in rest {
            if lk > m {
                m = lk;
            }
        }
        let mut s = 0.0f32;
        for &lk in l {
            s += libm::expf(lk - m);
        }
        m + libm::logf(s)
    }

    /// f = r / (1 + |r| / B) + base.
    pub(crate) fn combine(&self, r: f32, base: f32) -> f32 {
        r / (1.0 + r.abs() / self.bound) + base
    }
}
