//! A Gaussian-mixture base measure for the energy (docs/training.md,
//! departure 11): K full-covariance Gaussians fitted by EM, K chosen by the
//! mean log-likelihood of normal rows set aside from the fit.
//!
//! Each component diffuses exactly: at a step whose marginal is
//! `ā x_0 + σ̄ ε`, component k is N(ā μ_k, ā² Σ_k + σ̄² I), whose precision
//! along Σ_k's eigenvector v_kj is 1 / (ā² λ_kj + σ̄²). So the base at step t
//! is a mixture of the same K components, shifted and widened.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::base::{log_sum_exp, symmetric_eigen, GaussianBase, LN_2PI};

/// Added to every component's covariance (model units: standardised
/// columns), so that no component can collapse onto a few rows.
pub const REG_COVAR: f64 = 1e-2;

/// The largest K tried.
pub const MAX_COMPONENTS: usize = 8;

/// EM iterations at most (it stops earlier when the mean log-likelihood
/// improves by less than 1e-6).
const EM_ITERS: usize = 200;

/// A full-covariance Gaussian mixture in f64.
#[derive(Debug, Clone)]
pub struct Mixture {
    /// D.
    pub dim: usize,
    /// `[K]` weights (sum 1).
    pub weights: Vec<f64>,
    /// `[K, D]` means.
    pub means: Vec<f64>,
    /// `[K, D, D]` covariances (regularised).
    pub covs: Vec<f64>,
}

/// Lower Cholesky factor of a symmetric positive definite `[D, D]` matrix;
/// `None` when it is not positive definite.
fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// log N(x; μ, L Lᵀ) with `l` the Cholesky factor.
fn log_normal(x: &[f64], mu: &[f64], l: &[f64], d: usize) -> f64 {
    // Solve L y = x − μ; ‖y‖² is the Mahalanobis distance.
    let mut y = vec![0.0; d];
    let mut quad = 0.0;
    let mut log_det = 0.0;
    for i in 0..d {
        let mut s = x[i] - mu[i];
        for k in 0..i {
            s -= l[i * d + k] * y[k];
        }
        y[i] = s / l[i * d + i];
        quad += y[i] * y[i];
        log_det += 2.0 * l[i * d + i].ln();
    }
    -0.5 * (d as f64 * LN_2PI + log_det + quad)
}

impl Mixture {
    /// K.
    pub fn components(&self) -> usize {
        self.weights.len()
    }

    /// Fits K components to `rows` (row-major, `dim` columns) by EM from a
    /// k-means++ start drawn from `seed`; `None` when a covariance stops
    /// being positive definite.
    pub fn fit(rows: &[f32], dim: usize, k: usize, seed: u64) -> Option<Mixture> {
        let x: Vec<f64> = rows.iter().map(|&v| v as f64).collect();
        let n = x.len() / dim;
        if k == 0 || n < k {
            return None;
        }
        let row = |i: usize| &x[i * dim..(i + 1) * dim];
        let dist2 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>();
        // k-means++ start, then a few Lloyd steps.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut centres: Vec<f64> = row(rng.gen_range(0..n)).to_vec();
        while centres.len() < k * dim {
            let d2: Vec<f64> = (0..n)
                .map(|i| centres.chunks_exact(dim).map(|c| dist2(row(i), c)).fold(f64::INFINITY, f64::min))
                .collect();
            let total: f64 = d2.iter().sum();
            let pick = if total > 0.0 {
                let mut u = rng.gen::<f64>() * total;
                d2.iter()
                    .position(|&w| {
                        u -= w;
                        u <= 0.0
                    })
                    .unwrap_or(n - 1)
            } else {
                rng.gen_range(0..n)
            };
            centres.extend_from_slice(row(pick));
        }
        let mut assign = vec![0usize; n];
        for _ in 0..10 {
            for (i, a) in assign.iter_mut().enumerate() {
                *a = (0..k)
                    .min_by(|&p, &q| {
                        dist2(row(i), &centres[p * dim..(p + 1) * dim])
                            .total_cmp(&dist2(row(i), &centres[q * dim..(q + 1) * dim]))
                    })
                    .unwrap_or(0);
            }
            let mut sums = vec![0.0; k * dim];
            let mut counts = vec![0usize; k];
            for (i, &a) in assign.iter().enumerate() {
                counts[a] += 1;
                sums[a * dim..(a + 1) * dim].iter_mut().zip(row(i)).for_each(|(s, v)| *s += v);
            }
            for c in 0..k {
                if counts[c] > 0 {
                    for j in 0..dim {
                        centres[c * dim + j] = sums[c * dim + j] / counts[c] as f64;
                    }
                }
            }
        }
        // Responsibilities from the hard assignment, then EM.
        let mut resp = vec![0.0; n * k];
        assign.iter().enumerate().for_each(|(i, &a)| resp[i * k + a] = 1.0);
        let mut mix = Mixture { dim, weights: vec![0.0; k], means: vec![0.0; k * dim], covs: vec![0.0; k * dim * dim] };
        let mut last = f64::NEG_INFINITY;
        for _ in 0..EM_ITERS {
            mix.m_step(&x, &resp);
            let chol = mix.choleskys()?;
            let mut total = 0.0;
            let mut lp = vec![0.0; k];
            for i in 0..n {
                mix.log_joint(&chol, row(i), &mut lp);
                let z = log_sum_exp(&lp);
                total += z;
                for c in 0..k {
                    resp[i * k + c] = (lp[c] - z).exp();
                }
            }
            let mean_ll = total / n as f64;
            if !mean_ll.is_finite() {
                return None;
            }
            if mean_ll - last < 1e-6 {
                break;
            }
            last = mean_ll;
        }
        mix.m_step(&x, &resp);
        Some(mix)
    }

    /// Weights, means and regularised covariances from responsibilities.
    fn m_step(&mut self, x: &[f64], resp: &[f64]) {
        let (d, k) = (self.dim, self.weights.len());
        let n = x.len() / d;
        for c in 0..k {
            let nk: f64 = (0..n).map(|i| resp[i * k + c]).sum::<f64>() + 1e-10;
            self.weights[c] = nk / (n as f64 + 1e-10 * k as f64);
            let mu = &mut self.means[c * d..(c + 1) * d];
            mu.iter_mut().for_each(|m| *m = 0.0);
            for i in 0..n {
                let r = resp[i * k + c];
                mu.iter_mut().zip(&x[i * d..(i + 1) * d]).for_each(|(m, v)| *m += r * v);
            }
            mu.iter_mut().for_each(|m| *m /= nk);
            let mu = self.means[c * d..(c + 1) * d].to_vec();
            let cov = &mut self.covs[c * d * d..(c + 1) * d * d];
            cov.iter_mut().for_each(|v| *v = 0.0);
            for i in 0..n {
                let r = resp[i * k + c];
                if r < 1e-12 {
                    continue;
                }
                let xi = &x[i * d..(i + 1) * d];
                for a in 0..d {
                    let da = r * (xi[a] - mu[a]);
                    for b in a..d {
                        cov[a * d + b] += da * (xi[b] - mu[b]);
                    }
                }
            }
            for a in 0..d {
                for b in a..d {
                    let v = cov[a * d + b] / nk + if a == b { REG_COVAR } else { 0.0 };
                    cov[a * d + b] = v;
                    cov[b * d + a] = v;
                }
            }
        }
    }

    /// Mean log-likelihood of `rows` (normalised densities).
    pub fn mean_log_likelihood(&self, rows: &[f32]) -> f64 {
        let (d, k) = (self.dim, self.components());
        let Some(chol) = self.choleskys() else { return f64::NEG_INFINITY };
        let n = rows.len() / d;
        let mut total = 0.0;
        let mut lp = vec![0.0; k];
        for r in rows.chunks_exact(d) {
            let x: Vec<f64> = r.iter().map(|&v| v as f64).collect();
            self.log_joint(&chol, &x, &mut lp);
            total += log_sum_exp(&lp);
        }
        total / n.max(1) as f64
    }

    /// The Cholesky factor of every covariance (`None` when one is not
    /// positive definite).
    fn choleskys(&self) -> Option<Vec<Vec<f64>>> {
        let d = self.dim;
        (0..self.components()).map(|c| cholesky(&self.covs[c * d * d..(c + 1) * d * d], d)).collect()
    }

    /// `lp[c] = ln w_c + log N(x; μ_c, Σ_c)` for every component c.
    fn log_joint(&self, chol: &[Vec<f64>], x: &[f64], lp: &mut [f64]) {
        let d = self.dim;
        for (c, l) in lp.iter_mut().enumerate() {
            *l = self.weights[c].ln() + log_normal(x, &self.means[c * d..(c + 1) * d], &chol[c], d);
        }
    }

    /// The base measure of this mixture: each covariance's eigenpairs
    /// (eigenvalues floored at 1e-6 of the component's largest), all
    /// values rounded to f32 as checkpoints and model files store them.
    pub fn to_base(&self, residual_bound: f64) -> GaussianBase {
        let (d, k) = (self.dim, self.components());
        let mut basis = Vec::with_capacity(k * d * d);
        let mut variance = Vec::with_capacity(k * d);
        for c in 0..k {
            let (mut vals, vecs) = symmetric_eigen(&self.covs[c * d * d..(c + 1) * d * d], d);
            let floor = vals.first().copied().unwrap_or(1.0).max(f64::MIN_POSITIVE) * 1e-6;
            vals.iter_mut().for_each(|l| *l = l.max(floor) as f32 as f64);
            variance.extend(vals);
            basis.extend(vecs.iter().map(|&v| v as f32 as f64));
        }
        GaussianBase {
            dim: d,
            basis,
            variance,
            residual_bound,
            shrinkage: 0.0,
            log_weight: self.weights.iter().map(|w| w.ln() as f32 as f64).collect(),
            mean: self.means.iter().map(|&m| m as f32 as f64).collect(),
        }
    }
}

/// One candidate of [`choose_base`]: K and its held-out mean log-likelihood.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// K (1: the Ledoit–Wolf Gaussian).
    pub components: usize,
    /// Mean log-likelihood of the rows set aside, nats per row.
    pub held_out: f64,
}

/// Chooses the base measure: the Ledoit–Wolf Gaussian of `rows`
/// ([`GaussianBase::fit`]) or a K-component mixture (K = 2 ..
/// [`MAX_COMPONENTS`], while K · 2D ≤ the rows), whichever gives the normal
/// rows `held_out` (never fitted to) the highest mean log-likelihood.
/// Returns the base and every candidate tried.
pub fn choose_base(
    rows: &[f32],
    held_out: &[f32],
    dim: usize,
    residual_bound: f64,
    seed: u64,
) -> (GaussianBase, Vec<Candidate>) {
    let gaussian = GaussianBase::fit(rows, dim, residual_bound);
    let mut candidates = vec![Candidate { components: 1, held_out: gaussian.mean_log_likelihood(held_out) }];
    let mut best = (candidates[0].held_out, gaussian);
    let n = rows.len() / dim.max(1);
    for k in 2..=MAX_COMPONENTS {
        if k * 2 * dim > n {
            break;
        }
        let Some(mix) = Mixture::fit(rows, dim, k, seed.wrapping_add(k as u64)) else { continue };
        let base = mix.to_base(residual_bound);
        let ll = base.mean_log_likelihood(held_out);
        candidates.push(Candidate { components: k, held_out: ll });
        if ll > best.0 {
            best = (ll, base);
        }
    }
    (best.1, candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of three well-separated 2-D clusters.
    fn three_clusters(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let centres = [(-4.0, 0.0), (4.0, 0.0), (0.0, 5.0)];
        (0..n)
            .flat_map(|i| {
                let (cx, cy) = centres[i % 3];
                let mut normal = || {
                    let (a, b): (f64, f64) = (rng.gen::<f64>().max(1e-12), rng.gen());
                    (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
                };
                [(cx + 0.5 * normal()) as f32, (cy + 0.25 * normal()) as f32]
            })
            .collect()
    }

    #[test]
    fn em_finds_three_clusters_and_the_held_out_rows_choose_them() {
        let fit = three_clusters(300, 1);
        let held = three_clusters(90, 2);
        let (base, candidates) = choose_base(&fit, &held, 2, 8.0, 5);
        let ll = |k: usize| candidates.iter().find(|c| c.components == k).unwrap().held_out;
        assert!(ll(3) > ll(1) + 1.0 && ll(3) > ll(2) + 0.5, "{candidates:?}");
        // More components than clusters gain (almost) nothing on rows not fitted.
        assert!(candidates.iter().all(|c| c.held_out < ll(3) + 0.05), "{candidates:?}");
        assert!(base.components() >= 3, "{candidates:?}");
        assert_eq!(base.mean_log_likelihood(&held), candidates.iter().map(|c| c.held_out).fold(f64::MIN, f64::max));
        let near =
            |cx: f64, cy: f64| base.mean.chunks_exact(2).any(|m| (m[0] - cx).abs() < 0.5 && (m[1] - cy).abs() < 0.3);
        assert!(near(-4.0, 0.0) && near(4.0, 0.0) && near(0.0, 5.0), "{:?}", base.mean);
    }

    #[test]
    fn one_gaussian_keeps_the_ledoit_wolf_base() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut gauss = |n: usize| -> Vec<f32> {
            (0..n * 3)
                .map(|_| {
                    let (a, b): (f64, f64) = (rng.gen::<f64>().max(1e-12), rng.gen());
                    ((-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()) as f32
                })
                .collect()
        };
        let (fit, held) = (gauss(400), gauss(100));
        let (base, candidates) = choose_base(&fit, &held, 3, 8.0, 5);
        assert_eq!(base.components(), 1, "{candidates:?}");
        assert_eq!(base, GaussianBase::fit(&fit, 3, 8.0));
    }

    #[test]
    fn the_mixture_base_log_density_is_the_mixture_log_likelihood_at_step_zero() {
        let rows = three_clusters(300, 4);
        let mix = Mixture::fit(&rows, 2, 3, 9).unwrap();
        let base = mix.to_base(8.0);
        // f32 rounding of the stored values only.
        let (a, b) = (mix.mean_log_likelihood(&rows[..60]), base.mean_log_likelihood(&rows[..60]));
        assert!((a - b).abs() < 1e-3, "{a} vs {b}");
    }
}
