//! The energy's Gaussian base measure (a departure from docs/algorithm.md, see
//! `docs/training.md`, departure 9).
//!
//! The trained energy is
//!
//! ```text
//! f(x, t) = bound(f_net(x, t)) + base_t(x)
//! base_t(x) = −½ Σ_k (v_k · x)² / (ā_t² λ_k + σ̄_t²)
//! bound(r)  = r / (1 + |r| / B)
//! ```
//!
//! with (λ_k, v_k) the eigenpairs of the training rows' covariance (in model
//! units, Ledoit–Wolf shrunk so that it is positive definite even with
//! fewer rows than columns) and (ā_t, σ̄_t) the schedule's marginal
//! coefficients: base_t is the unnormalised log-density of the Gaussian fit
//! of the data diffused to step t. The network only adds a bounded residual
//! (|bound(r)| < B), so `exp f(·, t)` is integrable by construction, and far
//! from the data f falls quadratically along every ray: a reading far
//! outside the training range can never score as normal.
//!
//! Everything here is f64 and pure Rust, shared by the trainer (which
//! estimates the base from its training rows) and `export` (which writes it
//! into the model file).

/// The Gaussian base measure of an energy.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianBase {
    /// Data dimension D.
    pub dim: usize,
    /// Row-major `[D, D]`: row k is the unit eigenvector v_k.
    pub basis: Vec<f64>,
    /// `[D]`: the eigenvalues λ_k (> 0) of the shrunk covariance.
    pub variance: Vec<f64>,
    /// B, the bound of the network's residual (> 0).
    pub residual_bound: f64,
    /// The Ledoit–Wolf shrinkage ρ the covariance was fitted with (informational).
    pub shrinkage: f64,
    /// A mixture of K ≥ 2 components ([`crate::mixture`]): `[K]` log
    /// weights; `basis` is then `[K·D, D]` and `variance` `[K·D]`, component
    /// k in rows k·D … k·D + D − 1. Empty for the single zero-mean Gaussian.
    pub log_weight: Vec<f64>,
    /// `[K, D]`: the components' means (empty for the single Gaussian).
    pub mean: Vec<f64>,
}

/// Ledoit–Wolf shrinkage of the sample covariance of `rows` (row-major,
/// `dim` columns, already centred or not: the mean is removed here):
/// `(1 − ρ) S + ρ m I` with `m = tr(S) / D` and the shrinkage ρ ∈ [0, 1] of
/// Ledoit & Wolf (2004), computed from the rows alone. Returns the `[D, D]`
/// covariance and ρ.
pub fn ledoit_wolf(rows: &[f32], dim: usize) -> (Vec<f64>, f64) {
    let n = if dim == 0 { 0 } else { rows.len() / dim };
    if n == 0 {
        let mut eye = vec![0.0; dim * dim];
        (0..dim).for_each(|i| eye[i * dim + i] = 1.0);
        return (eye, 1.0);
    }
    let mut mean = vec![0.0f64; dim];
    for r in rows.chunks_exact(dim) {
        mean.iter_mut().zip(r).for_each(|(m, &v)| *m += v as f64);
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let centred: Vec<f64> =
        rows.chunks_exact(dim).flat_map(|r| r.iter().zip(&mean).map(|(&v, m)| v as f64 - m)).collect();
    let mut s = vec![0.0f64; dim * dim];
    for r in centred.chunks_exact(dim) {
        for i in 0..dim {
            let ri = r[i];
            for j in i..dim {
                s[i * dim + j] += ri * r[j];
            }
        }
    }
    for i in 0..dim {
        for j in i..dim {
            let v = s[i * dim + j] / n as f64;
            s[i * dim + j] = v;
            s[j * dim + i] = v;
        }
    }
    let m = (0..dim).map(|i| s[i * dim + i]).sum::<f64>() / dim as f64;
    // d² = ‖S − m I‖²_F / D; b̄² = (1/n²) Σ_i ‖x_i x_iᵀ − S‖²_F / D.
    let d2 = (0..dim * dim)
        .map(|k| {
            let diag = if k / dim == k % dim { m } else { 0.0 };
            (s[k] - diag).powi(2)
        })
        .sum::<f64>()
        / dim as f64;
    let mut b2 = 0.0;
    for r in centred.chunks_exact(dim) {
        let mut acc = 0.0;
        for i in 0..dim {
            for j in 0..dim {
                acc += (r[i] * r[j] - s[i * dim + j]).powi(2);
            }
        }
        b2 += acc / dim as f64;
    }
    b2 /= (n as f64) * (n as f64);
    let rho = if d2 > 0.0 { (b2.min(d2) / d2).clamp(0.0, 1.0) } else { 1.0 };
    let mut cov = s;
    for i in 0..dim {
        for j in 0..dim {
            let shrunk = (1.0 - rho) * cov[i * dim + j] + if i == j { rho * m } else { 0.0 };
            cov[i * dim + j] = shrunk;
        }
    }
    (cov, rho)
}

/// Eigen-decomposition of a symmetric `[D, D]` matrix by cyclic Jacobi
/// rotations: returns (eigenvalues, row-major eigenvectors, row k = v_k),
/// sorted by decreasing eigenvalue. Accurate to ~1e-12 relative for the
/// well-conditioned covariances it is used on.
pub fn symmetric_eigen(matrix: &[f64], dim: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = matrix.to_vec();
    // v: columns are eigenvectors while rotating.
    let mut v = vec![0.0f64; dim * dim];
    (0..dim).for_each(|i| v[i * dim + i] = 1.0);
    let scale = a.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..dim)
            .flat_map(|i| (0..dim).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * dim + j].powi(2))
            .sum();
        if off.sqrt() <= 1e-15 * scale {
            break;
        }
        for p in 0..dim {
            for q in p + 1..dim {
                let apq = a[p * dim + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let (app, aqq) = (a[p * dim + p], a[q * dim + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..dim {
                    let (akp, akq) = (a[k * dim + p], a[k * dim + q]);
                    a[k * dim + p] = c * akp - s * akq;
                    a[k * dim + q] = s * akp + c * akq;
                }
                for k in 0..dim {
                    let (apk, aqk) = (a[p * dim + k], a[q * dim + k]);
                    a[p * dim + k] = c * apk - s * aqk;
                    a[q * dim + k] = s * apk + c * aqk;
                }
                for k in 0..dim {
                    let (vkp, vkq) = (v[k * dim + p], v[k * dim + q]);
                    v[k * dim + p] = c * vkp - s * vkq;
                    v[k * dim + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&i, &j| a[j * dim + j].total_cmp(&a[i * dim + i]));
    let values = order.iter().map(|&k| a[k * dim + k]).collect();
    let vectors = order.iter().flat_map(|&k| (0..dim).map(move |i| (i, k))).map(|(i, k)| v[i * dim + k]).collect();
    (values, vectors)
}

impl GaussianBase {
    /// Fits the base to training rows in model units (row-major, `dim`
    /// columns): Ledoit–Wolf covariance, its eigenpairs, eigenvalues
    /// floored at 1e-6 of the largest. Basis and eigenvalues are rounded
    /// to f32 (what checkpoints and model files store), so that the trainer
    /// trains with exactly the base it saves.
    pub fn fit(rows: &[f32], dim: usize, residual_bound: f64) -> GaussianBase {
        let (cov, shrinkage) = ledoit_wolf(rows, dim);
        let (mut variance, mut basis) = symmetric_eigen(&cov, dim);
        let floor = variance.first().copied().unwrap_or(1.0).max(f64::MIN_POSITIVE) * 1e-6;
        variance.iter_mut().for_each(|l| *l = l.max(floor) as f32 as f64);
        basis.iter_mut().for_each(|v| *v = *v as f32 as f64);
        GaussianBase { dim, basis, variance, residual_bound, shrinkage, log_weight: Vec::new(), mean: Vec::new() }
    }

    /// K: 1 for the single Gaussian.
    pub fn components(&self) -> usize {
        self.log_weight.len().max(1)
    }

    /// `[K·D]` the components' means at a step whose marginal is
    /// `ā x_0 + σ̄ ε`: ā μ_k (empty for the single Gaussian).
    pub fn step_mean(&self, a_bar: f64) -> Vec<f64> {
        self.mean.iter().map(|m| a_bar * m).collect()
    }

    /// `[K]` log w_k − ½ Σ_j ln(ā² λ_kj + σ̄²): each component's log weight
    /// with its normaliser at that step (the common −D/2 ln 2π left out;
    /// empty for the single Gaussian, whose base is unnormalised).
    pub fn step_log_weight(&self, a_bar: f64, sigma_bar: f64) -> Vec<f64> {
        self.log_weight
            .iter()
            .zip(self.variance.chunks_exact(self.dim.max(1)))
            .map(|(w, lam)| w - 0.5 * lam.iter().map(|l| (a_bar * a_bar * l + sigma_bar * sigma_bar).ln()).sum::<f64>())
            .collect()
    }

    /// Mean normalised log-density at step 0 (ā = 1, σ̄ = 0) of `rows`
    /// (model units), nats per row: what [`crate::mixture::choose_base`]
    /// compares.
    pub fn mean_log_likelihood(&self, rows: &[f32]) -> f64 {
        let d = self.dim;
        let n = rows.len() / d.max(1);
        if n == 0 {
            return f64::NEG_INFINITY;
        }
        let k = self.components();
        let zero = vec![0.0; d];
        let log_w: Vec<f64> = if self.log_weight.is_empty() { vec![0.0] } else { self.log_weight.clone() };
        let mut total = 0.0;
        let mut lp = vec![0.0; k];
        for r in rows.chunks_exact(d) {
            for c in 0..k {
                let mu = if self.mean.is_empty() { &zero[..] } else { &self.mean[c * d..(c + 1) * d] };
                let lam = &self.variance[c * d..(c + 1) * d];
                let mut quad = 0.0;
                for (j, v) in self.basis[c * d * d..(c + 1) * d * d].chunks_exact(d).enumerate() {
                    let p: f64 = v.iter().zip(r).zip(mu).map(|((a, &x), m)| a * (x as f64 - m)).sum();
                    quad += p * p / lam[j];
                }
                let log_det: f64 = lam.iter().map(|l| l.ln()).sum();
                lp[c] = log_w[c] - 0.5 * (d as f64 * LN_2PI + log_det + quad);
            }
            total += log_sum_exp(&lp);
        }
        total / n as f64
    }

    /// `1 / (ā² λ_k + σ̄²)` for each k: the precision of the base along v_k at
    /// a step whose marginal is `ā x_0 + σ̄ ε`.
    pub fn inv_var(&self, a_bar: f64, sigma_bar: f64) -> Vec<f64> {
        self.variance.iter().map(|l| 1.0 / (a_bar * a_bar * l + sigma_bar * sigma_bar)).collect()
    }

    /// base_t(x) = −½ Σ_k (v_k · x)² · inv_var_k, in f64 (the reference the
    /// runtime's f32 evaluation is tested against).
    pub fn log_density(&self, x: &[f64], inv_var: &[f64]) -> f64 {
        -0.5 * self
            .basis
            .chunks_exact(self.dim)
            .zip(inv_var)
            .map(|(v, w)| v.iter().zip(x).map(|(a, b)| a * b).sum::<f64>().powi(2) * w)
            .sum::<f64>()
    }
}

/// ln 2π.
pub(crate) const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// log Σ exp v, computed from the largest term (−∞ for an empty slice or
/// all −∞).
pub(crate) fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// bound(r) = r / (1 + |r| / B): smooth, odd, increasing, |bound(r)| < B.
pub fn bound(r: f64, b: f64) -> f64 {
    r / (1.0 + r.abs() / b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_decomposition_reconstructs_the_matrix() {
        let d = 5;
        // A fixed symmetric positive definite matrix.
        let mut m = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                m[i * d + j] = 1.0 / (1.0 + (i as f64 - j as f64).abs()) + if i == j { 1.0 } else { 0.0 };
            }
        }
        let (vals, vecs) = symmetric_eigen(&m, d);
        assert!(vals.windows(2).all(|w| w[0] >= w[1]));
        for i in 0..d {
            for j in 0..d {
                let r: f64 = (0..d).map(|k| vals[k] * vecs[k * d + i] * vecs[k * d + j]).sum();
                assert!((r - m[i * d + j]).abs() < 1e-10, "({i},{j}): {r} vs {}", m[i * d + j]);
                let dot: f64 = (0..d).map(|k| vecs[i * d + k] * vecs[j * d + k]).sum();
                assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10);
            }
        }
    }

    #[test]
    fn ledoit_wolf_is_positive_definite_with_fewer_rows_than_columns() {
        // 4 rows in 10 dimensions: the sample covariance has rank 3.
        let rows: Vec<f32> = (0..40).map(|k| ((k * 37 % 11) as f32 - 5.0) / 3.0).collect();
        let (cov, rho) = ledoit_wolf(&rows, 10);
        assert!(rho > 0.0 && rho <= 1.0, "rho {rho}");
        let (vals, _) = symmetric_eigen(&cov, 10);
        assert!(vals.iter().all(|&l| l > 0.0), "{vals:?}");
    }

    #[test]
    fn ledoit_wolf_barely_shrinks_many_rows_of_a_correlated_gaussian() {
        // x = (u, u + 0.1 w): strongly correlated; 2,000 rows.
        let mut rows = Vec::new();
        let mut state = 1u64;
        let mut unif = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        for _ in 0..2000 {
            let (a, b) = (unif(), unif());
            let (c, d) = (unif(), unif());
            let u = (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos();
            let w = (-2.0 * c.ln()).sqrt() * (2.0 * std::f64::consts::PI * d).cos();
            rows.extend([u as f32, (u + 0.1 * w) as f32]);
        }
        let (cov, rho) = ledoit_wolf(&rows, 2);
        assert!(rho < 0.01, "rho {rho}");
        assert!((cov[1] - 1.0).abs() < 0.1, "cov {cov:?}");
        let base = GaussianBase::fit(&rows, 2, 8.0);
        // Along the correlation the base is broad, across it sharp.
        let iv = base.inv_var(1.0, 0.0);
        assert!(base.log_density(&[1.0, 1.0], &iv) > base.log_density(&[1.0, -1.0], &iv) + 10.0);
    }

    #[test]
    fn bound_is_odd_increasing_and_below_b() {
        let xs = [-1e9, -100.0, -1.0, 0.0, 0.5, 3.0, 1e6];
        for w in xs.windows(2) {
            assert!(bound(w[0], 4.0) < bound(w[1], 4.0));
        }
        assert!(xs.iter().all(|&x| bound(x, 4.0).abs() < 4.0 && bound(-x, 4.0) == -bound(x, 4.0)));
        assert!((bound(0.01, 4.0) - 0.01).abs() < 1e-4);
    }
}
