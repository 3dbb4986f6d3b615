//! The two losses of one DDAEBM training step (docs/algorithm.md §5).

use tch::{Kind, Tensor};

use crate::diffusion::Diffusion;
use crate::nets::{EnergyNet, Generator, PosteriorEncoder};

/// One batch of training pairs.
pub struct Batch {
    /// Step indices t ∈ {0..T−1}, `[B]` int64.
    pub t: Tensor,
    /// x_t, [B, D].
    pub x_t: Tensor,
    /// x_{t+1}, [B, D].
    pub x_t1: Tensor,
}

/// The energy loss and its parts (scalars).
pub struct EnergyLoss {
    /// L_E, to minimise.
    pub loss: Tensor,
    /// mean f(x_t, t) on real pairs.
    pub f_real: f64,
    /// mean f(x'_t, t) on generated pairs.
    pub f_fake: f64,
    /// mean ‖∇_{x_t}[f + log N]‖² (before γ/2).
    pub r1: f64,
    /// The noise-contrastive term against the base measure (before its
    /// weight; 0 without a base).
    pub nce: f64,
}

/// L_E = mean(−f(x_t, t) + f(sg x'_t, t)) + γ/2 · mean ‖∇_{x_t}[f(x_t, t) + log N(x_{t+1}; a x_t, σ²)]‖²
/// (docs/algorithm.md §5), and, when f has a Gaussian base measure
/// (`ddaebm_host::base`), two departures:
///
/// - the R1 penalty is on the gradient of the network's residual + log N,
///   not of the whole f: the base's own slope is fixed, and penalising it
///   would only teach the residual to cancel it near the data;
/// - `nce_weight` · L_NCE, noise-contrastive estimation of the residual
///   against the base measure diffused to step t:
///   `mean softplus(−r(x_t, t)) + mean softplus(r(n_t, t))`, n_t drawn from
///   the base. Its optimum is r = log p_t − base_t + const, so f(·, t)
///   becomes the log-density of x_t up to a constant, everywhere the base
///   reaches, not only where the generator's samples land.
///
/// The R1 penalty needs a double backward (`create_graph`). With
/// `r1_gamma == 0` it is skipped.
pub fn energy_loss(
    e: &EnergyNet,
    g: &Generator,
    diff: &Diffusion,
    b: &Batch,
    r1_gamma: f64,
    nce_weight: f64,
) -> EnergyLoss {
    let x_t = b.x_t.detach().set_requires_grad(r1_gamma > 0.0);
    let (f_real, r1) = if e.has_base() {
        let r_real = e.residual(&x_t, &b.t);
        let r1 = r1_penalty(&r_real, &x_t, diff, b, r1_gamma);
        (r_real, r1)
    } else {
        let f_real = e.forward(&x_t, &b.t);
        let r1 = r1_penalty(&f_real, &x_t, diff, b, r1_gamma);
        (f_real, r1)
    };
    // With a base, f = residual + base; the base has no parameters, so
    // mean(−f_real) and mean(−r_real) have the same gradient.
    let x_fake = tch::no_grad(|| {
        let z = g.latent(b.t.size()[0], x_t.device());
        let x0_hat = g.forward_t(&b.x_t1, &z, &b.t, true);
        diff.posterior_sample(&x0_hat, &b.x_t1, &b.t)
    });
    let f_fake = if e.has_base() { e.residual(&x_fake, &b.t) } else { e.forward(&x_fake, &b.t) };
    let mut loss = (f_fake.mean(Kind::Float) - f_real.mean(Kind::Float)) + &r1 * (r1_gamma / 2.0);
    let mut nce = 0.0;
    if nce_weight > 0.0 {
        if let Some(noise) = tch::no_grad(|| e.base_samples(&b.t)) {
            let r_noise = e.residual(&noise, &b.t);
            let l = f_real.neg().softplus().mean(Kind::Float) + r_noise.softplus().mean(Kind::Float);
            nce = l.double_value(&[]);
            loss = loss + l * nce_weight;
        }
    }
    EnergyLoss {
        f_real: f_real.mean(Kind::Float).double_value(&[]),
        f_fake: f_fake.mean(Kind::Float).double_value(&[]),
        r1: r1.double_value(&[]),
        nce,
        loss,
    }
}

/// mean ‖∇_{x_t}[f + log N(x_{t+1}; a x_t, σ²)]‖² over the batch (0 when `r1_gamma == 0`).
fn r1_penalty(f: &Tensor, x_t: &Tensor, diff: &Diffusion, b: &Batch, r1_gamma: f64) -> Tensor {
    if r1_gamma > 0.0 {
        let logp = f + diff.log_transition(x_t, &b.x_t1, &b.t);
        let grad = Tensor::run_backward(&[logp.sum(Kind::Float)], &[x_t], true, true).remove(0);
        grad.square().sum_dim_intlist(1, false, Kind::Float).mean(Kind::Float)
    } else {
        Tensor::zeros([], (Kind::Float, x_t.device()))
    }
}

/// The generator + encoder loss and its four terms (scalars).
pub struct GeneratorLoss {
    /// L_G = −E_F + L_lat + L_rec + L_KL, to minimise.
    pub loss: Tensor,
    /// E_F.
    pub e_f: f64,
    /// L_lat (already weighted by 0.1).
    pub lat: f64,
    /// L_rec.
    pub rec: f64,
    /// L_KL.
    pub kl: f64,
}

/// Weight of the latent-entropy term.
pub const LATENT_WEIGHT: f64 = 0.1;

/// NLL_diag(z; μ, lv) = ½ Σ lv + ½ Σ (z − μ)² / (exp(lv) + 1e-6), per example [B].
fn nll_diag(z: &Tensor, mu: &Tensor, logvar: &Tensor) -> Tensor {
    let quad = (z - mu).square() / (logvar.exp() + 1e-6);
    (logvar + quad).sum_dim_intlist(1, false, Kind::Float) * 0.5
}

/// The generator loss; the energy network must be frozen by the caller
/// (gradients flow through x'_t into G, not into f's parameters).
///
/// `forward_kl_weight` multiplies the forward-KL half, L_rec + L_KL
/// (docs/algorithm.md: 1; `trainer fit --forward-kl-weight`).
pub fn generator_loss(
    e: &EnergyNet,
    g: &Generator,
    q: &PosteriorEncoder,
    diff: &Diffusion,
    b: &Batch,
    forward_kl_weight: f64,
) -> GeneratorLoss {
    let n = b.t.size()[0];
    let device = b.x_t.device();
    let x_t = b.x_t.detach();
    // Reverse KL: generated pairs towards high conditional density.
    let z = g.latent(n, device);
    let x0_hat = g.forward_t(&b.x_t1, &z, &b.t, true);
    let x_fake = diff.posterior_sample(&x0_hat, &b.x_t1, &b.t);
    let e_f = (e.forward(&x_fake, &b.t) + diff.log_transition(&x_fake, &b.x_t1, &b.t)).mean(Kind::Float);
    // Entropy of the generator: variational bound through q_φ.
    let (mu_f, lv_f) = q.forward(&x_fake, &b.x_t1, &b.t);
    let lat = nll_diag(&z, &mu_f, &lv_f).mean(Kind::Float) * LATENT_WEIGHT;
    // Forward KL: negative ELBO of the real x_t.
    let (mu, lv) = q.forward(&x_t, &b.x_t1, &b.t);
    let z_phi = &mu + (&lv * 0.5).exp() * mu.randn_like();
    let x0_rec = g.forward_t(&b.x_t1, &z_phi, &b.t, true);
    let (c1, c2) = diff.coefs(&b.t);
    let mean = c1 * x0_rec + c2 * &b.x_t1;
    let var = diff.recon_var(&b.t);
    let log_n = ((&x_t - mean).square() / &var + (var * (2.0 * std::f64::consts::PI)).log()).sum_dim_intlist(
        1,
        false,
        Kind::Float,
    ) * -0.5;
    let rec = log_n.mean(Kind::Float).neg();
    let kl = ((&lv + 1.0 - mu.square() - lv.exp()).sum_dim_intlist(1, false, Kind::Float) * -0.5).mean(Kind::Float);
    // At the default weight, the sum in the order runs were measured with
    // (`(rec + kl) · 1` rounds differently), so earlier runs reproduce bit for bit.
    let loss = if forward_kl_weight == 1.0 {
        -&e_f + &lat + &rec + &kl
    } else {
        -&e_f + &lat + (&rec + &kl) * forward_kl_weight
    };
    GeneratorLoss {
        e_f: e_f.double_value(&[]),
        lat: lat.double_value(&[]),
        rec: rec.double_value(&[]),
        kl: kl.double_value(&[]),
        loss,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::compute_schedule;
    use crate::fit::FitConfig;
    use crate::model::Ddaebm;
    use tch::Device;

    #[test]
    fn forward_kl_weight_scales_only_l_rec_plus_l_kl() {
        let _g = crate::TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
        let c = FitConfig { trunk: vec![16], ..FitConfig::default() };
        let schedule = compute_schedule(c.schedule, c.beta_min, c.beta_max, c.steps).unwrap();
        let m = Ddaebm::new(c.arch(2), schedule, Device::Cpu, 1);
        tch::manual_seed(2);
        let x0 = Tensor::randn([32, 2], (Kind::Float, Device::Cpu));
        let t = Tensor::randint(c.steps as i64, [32], (Kind::Int64, Device::Cpu));
        let (x_t, x_t1) = m.diffusion.q_sample_pairs(&x0, &t);
        let b = Batch { t, x_t, x_t1 };
        let run = |w: f64| {
            tch::manual_seed(3);
            let l = generator_loss(&m.energy, &m.generator, &m.encoder, &m.diffusion, &b, w);
            (l.loss.double_value(&[]), l.e_f, l.lat, l.rec, l.kl)
        };
        let (one, e_f, lat, rec, kl) = run(1.0);
        assert!((one - (-e_f + lat + rec + kl)).abs() < 1e-4 * one.abs().max(1.0));
        for w in [0.0, 0.2, 3.0] {
            let (l, e_f2, lat2, rec2, kl2) = run(w);
            // Same draws, same terms; only their weighting changes.
            assert_eq!((e_f2, lat2, rec2, kl2), (e_f, lat, rec, kl));
            let want = -e_f + lat + w * (rec + kl);
            assert!((l - want).abs() < 1e-4 * want.abs().max(1.0), "w {w}: {l} vs {want}");
        }
    }
}
