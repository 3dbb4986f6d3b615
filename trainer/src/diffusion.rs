//! The forward diffusion and the posterior q(x_t | x_{t+1}, x̂0)
//! (docs/algorithm.md §1–§2).
//!
//! [`compute_schedule`] computes every coefficient once, in f64, on the host;
//! the result goes into the checkpoint (and from there into the model file),
//! so trainer, export and runtime share one set of numbers. [`Diffusion`]
//! holds the same coefficients as f32 tensors for batched training.
//!
//! Index conventions follow the reference implementation: step index k = 0
//! is (almost) clean data, k = T is the noisiest. For the posterior, the
//! cumulative product ᾱ'_k = ∏ (1 − β_j) runs over j = 1..=k (so ᾱ'_0 = 1,
//! as in the reference, which drops β_0 from the posterior's betas); this
//! makes the t = 0 step return x̂0 exactly (coef1_0 = 1, coef2_0 = 0).

use ddaebm_host::checkpoint::{ScheduleKind, ScheduleMeta};
use tch::{Device, Kind, Tensor};

/// ε of the continuous time grid s_k = k/T · (1 − ε) + ε.
pub const EPS_TIME: f64 = 1e-3;
/// Upper clamp of β_k.
pub const BETA_CLAMP: f64 = 0.999;

/// Variance of the marginal at continuous time `s`.
pub fn marginal_var(kind: ScheduleKind, beta_min: f64, beta_max: f64, s: f64) -> f64 {
    match kind {
        ScheduleKind::Vp => 1.0 - (-0.5 * s * s * (beta_max - beta_min) - s * beta_min).exp(),
        ScheduleKind::Geometric => beta_min * (beta_max / beta_min).powf(s),
    }
}

/// A schedule whose parameters give no valid diffusion.
#[derive(Debug, thiserror::Error)]
#[error("invalid schedule ({kind:?}, beta {beta_min}..{beta_max}, T = {steps}): {why}")]
pub struct ScheduleError {
    /// Schedule kind.
    pub kind: ScheduleKind,
    /// β_min.
    pub beta_min: f64,
    /// β_max.
    pub beta_max: f64,
    /// T.
    pub steps: usize,
    /// What is wrong and what to do.
    pub why: String,
}

/// Computes all coefficients of a `steps`-step schedule in f64, and checks
/// that they describe a valid diffusion (0 < β_k < 1, var_t ≥ 0, finite).
pub fn compute_schedule(
    kind: ScheduleKind,
    beta_min: f64,
    beta_max: f64,
    steps: usize,
) -> Result<ScheduleMeta, ScheduleError> {
    let err = |why: &str| ScheduleError { kind, beta_min, beta_max, steps, why: why.to_string() };
    if steps == 0 || steps > 64 {
        return Err(err("T (--steps) must be between 1 and 64"));
    }
    if !(beta_min > 0.0 && beta_max > beta_min && beta_max.is_finite()) {
        return Err(err("need 0 < beta_min < beta_max"));
    }
    let t_count = steps as f64;
    let var: Vec<f64> = (0..=steps)
        .map(|k| {
            let s = k as f64 / t_count * (1.0 - EPS_TIME) + EPS_TIME;
            marginal_var(kind, beta_min, beta_max, s)
        })
        .collect();
    let alpha_bar: Vec<f64> = var.iter().map(|v| 1.0 - v).collect();
    let mut betas = vec![var[0]];
    for k in 1..=steps {
        betas.push((1.0 - alpha_bar[k] / alpha_bar[k - 1]).min(BETA_CLAMP));
    }
    let a: Vec<f64> = betas.iter().map(|b| (1.0 - b).sqrt()).collect();
    let sigma: Vec<f64> = betas.iter().map(|b| b.sqrt()).collect();
    let mut a_bar = Vec::with_capacity(steps + 1);
    let mut prod = 1.0;
    for ak in &a {
        prod *= ak;
        a_bar.push(prod);
    }
    let sigma_bar: Vec<f64> = a_bar.iter().map(|ab| (1.0 - ab * ab).sqrt()).collect();

    // Posterior: ᾱ'_k over j = 1..=k.
    let mut alpha_prime = vec![1.0];
    for k in 1..=steps {
        alpha_prime.push(alpha_prime[k - 1] * (1.0 - betas[k]));
    }
    let mut coef1 = Vec::with_capacity(steps);
    let mut coef2 = Vec::with_capacity(steps);
    let mut posterior_var = Vec::with_capacity(steps);
    for t in 0..steps {
        let b = betas[t + 1];
        let denom = 1.0 - alpha_prime[t + 1];
        posterior_var.push(b * (1.0 - alpha_prime[t]) / denom);
        coef1.push(b * alpha_prime[t].sqrt() / denom);
        coef2.push((1.0 - alpha_prime[t]) * (1.0 - b).sqrt() / denom);
    }
    let ok = betas.iter().all(|b| *b > 0.0 && *b < 1.0)
        && posterior_var.iter().chain(&coef1).chain(&coef2).chain(&a_bar).all(|v| v.is_finite())
        && posterior_var.iter().all(|v| *v >= 0.0);
    if !ok {
        return Err(err(
            "some beta_k falls outside (0, 1); the geometric schedule needs beta_max < 1 (e.g. 0.01..0.5)",
        ));
    }
    Ok(ScheduleMeta { kind, beta_min, beta_max, steps, a, sigma, a_bar, sigma_bar, coef1, coef2, posterior_var })
}

/// The schedule as f32 tensors on the training device, for per-example gathers.
pub struct Diffusion {
    /// Number of steps T.
    pub steps: usize,
    a: Tensor,
    sigma: Tensor,
    a_bar: Tensor,
    sigma_bar: Tensor,
    coef1: Tensor,
    coef2: Tensor,
    posterior_var: Tensor,
}

fn col(v: &[f64], device: Device) -> Tensor {
    let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_slice(&v).to_device(device)
}

/// Gathers `table[idx]` as a column [B, 1] to broadcast over features.
fn gather(table: &Tensor, idx: &Tensor) -> Tensor {
    table.index_select(0, idx).unsqueeze(1)
}

impl Diffusion {
    /// Moves a computed schedule onto `device`.
    pub fn new(s: &ScheduleMeta, device: Device) -> Self {
        Diffusion {
            steps: s.steps,
            a: col(&s.a, device),
            sigma: col(&s.sigma, device),
            a_bar: col(&s.a_bar, device),
            sigma_bar: col(&s.sigma_bar, device),
            coef1: col(&s.coef1, device),
            coef2: col(&s.coef2, device),
            posterior_var: col(&s.posterior_var, device),
        }
    }

    /// A training pair (x_t, x_{t+1}) from clean data `x0` [B, D] and step
    /// indices `t` `[B]` (int64): x_t = ā_t x0 + σ̄_t ε, x_{t+1} = a_{t+1} x_t + σ_{t+1} ε'.
    pub fn q_sample_pairs(&self, x0: &Tensor, t: &Tensor) -> (Tensor, Tensor) {
        let eps = x0.randn_like();
        let x_t = gather(&self.a_bar, t) * x0 + gather(&self.sigma_bar, t) * eps;
        let t1 = t + 1;
        let eps2 = x0.randn_like();
        let x_t1 = gather(&self.a, &t1) * &x_t + gather(&self.sigma, &t1) * eps2;
        (x_t, x_t1)
    }

    /// Posterior mean coef1_t · x̂0 + coef2_t · x_{t+1}.
    pub fn posterior_mean(&self, x0_hat: &Tensor, x_t1: &Tensor, t: &Tensor) -> Tensor {
        gather(&self.coef1, t) * x0_hat + gather(&self.coef2, t) * x_t1
    }

    /// Posterior sample: mean + `1[t > 0]` · √var_t · `noise`.
    pub fn posterior_sample_with(&self, x0_hat: &Tensor, x_t1: &Tensor, t: &Tensor, noise: &Tensor) -> Tensor {
        let mean = self.posterior_mean(x0_hat, x_t1, t);
        let nonzero = t.gt(0).to_kind(Kind::Float).unsqueeze(1);
        mean + nonzero * gather(&self.posterior_var, t).sqrt() * noise
    }

    /// Posterior sample with fresh standard normal noise.
    pub fn posterior_sample(&self, x0_hat: &Tensor, x_t1: &Tensor, t: &Tensor) -> Tensor {
        self.posterior_sample_with(x0_hat, x_t1, t, &x0_hat.randn_like())
    }

    /// log N(x_{t+1}; a_{t+1} x_t, σ²_{t+1} I) per example `[B]`, without the
    /// constant (it cancels in every loss and gradient).
    pub fn log_transition(&self, x_t: &Tensor, x_t1: &Tensor, t: &Tensor) -> Tensor {
        let t1 = t + 1;
        let a = gather(&self.a, &t1);
        let s2 = gather(&self.sigma, &t1).square();
        let diff = x_t1 - a * x_t;
        (diff.square() / (s2 * 2.0)).sum_dim_intlist(1, false, Kind::Float).neg()
    }

    /// Reconstruction variance max(var_t, 1e-2) per example [B, 1].
    pub fn recon_var(&self, t: &Tensor) -> Tensor {
        gather(&self.posterior_var, t).clamp_min(1e-2)
    }

    /// coef1_t, coef2_t as [B, 1] columns.
    pub fn coefs(&self, t: &Tensor) -> (Tensor, Tensor) {
        (gather(&self.coef1, t), gather(&self.coef2, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ā_k² must equal ᾱ_k = 1 − var(s_k) (the two ways the algorithm defines it).
    #[test]
    fn a_bar_squared_is_one_minus_marginal_var() {
        for kind in [ScheduleKind::Vp, ScheduleKind::Geometric] {
            let (lo, hi) = if kind == ScheduleKind::Vp { (0.1, 20.0) } else { (0.01, 0.5) };
            let s = compute_schedule(kind, lo, hi, 4).unwrap();
            for k in 0..=4 {
                let sk = k as f64 / 4.0 * (1.0 - EPS_TIME) + EPS_TIME;
                let expect = 1.0 - marginal_var(kind, lo, hi, sk);
                // Exact unless β was clamped at 0.999.
                if s.a[k] * s.a[k] > 1.0 - BETA_CLAMP + 1e-12 {
                    assert!((s.a_bar[k].powi(2) - expect).abs() < 1e-12, "{kind:?} k={k}");
                }
            }
        }
    }

    /// The posterior is the Gaussian conditional of x_t given x_{t+1} and x0
    /// under the chain without β_0: check mean and variance against
    /// Bayes' rule for that linear-Gaussian model.
    #[test]
    fn posterior_matches_bayes_rule() {
        let s = compute_schedule(ScheduleKind::Vp, 0.01, 0.1, 4).unwrap();
        let betas: Vec<f64> = s.sigma.iter().map(|x| x * x).collect();
        for t in 0..4 {
            // x_t | x0 ~ N(c x0, v) with c, v from the chain over steps 1..=t.
            let c: f64 = (1..=t).map(|j| (1.0 - betas[j]).sqrt()).product();
            let v = 1.0 - c * c;
            let a = (1.0 - betas[t + 1]).sqrt();
            let b = betas[t + 1];
            // Conditional of x_t given x_{t+1} = a x_t + √b ε: precision-weighted.
            let post_var = if v == 0.0 { 0.0 } else { 1.0 / (1.0 / v + a * a / b) };
            let w0 = if v == 0.0 { 1.0 } else { post_var * c / v };
            let w1 = if v == 0.0 { 0.0 } else { post_var * a / b };
            assert!((s.posterior_var[t] - post_var).abs() < 1e-12, "var t={t}");
            assert!((s.coef1[t] - w0).abs() < 1e-9, "coef1 t={t}: {} vs {w0}", s.coef1[t]);
            assert!((s.coef2[t] - w1).abs() < 1e-9, "coef2 t={t}: {} vs {w1}", s.coef2[t]);
        }
        assert_eq!(s.coef1[0], 1.0);
        assert_eq!(s.coef2[0], 0.0);
    }

    #[test]
    fn invalid_schedules_are_rejected() {
        assert!(compute_schedule(ScheduleKind::Geometric, 0.1, 20.0, 4).is_err());
        assert!(compute_schedule(ScheduleKind::Vp, 0.1, 20.0, 0).is_err());
        assert!(compute_schedule(ScheduleKind::Vp, 0.5, 0.1, 4).is_err());
        assert!(compute_schedule(ScheduleKind::Vp, f64::NAN, 0.1, 4).is_err());
    }
}
