//! The reference networks for vector data (docs/algorithm.md §6).
//!
//! Every network is a [`ToyNet`]: an x-encoder (d_in → 16 → 32), a time
//! encoder of the integer step index (sinusoidal embedding 16 → 16 → 32) and
//! a trunk on `concat(x-code, t-code)` (64 → 300 → 300 → d_out), with a PReLU
//! (one learnable slope per layer, initially 0.25) after every layer but the
//! last of the trunk, and optionally BatchNorm after the hidden linear layers
//! of the x-encoder and the trunk. The encoders' code layers (the 32s) are
//! followed by a PReLU as well: the method (docs/algorithm.md §6) leaves this
//! open, and without it the code layer and the first trunk layer would collapse
//! into one linear map (docs/training.md, departure 1).
//!
//! Variable names (they become checkpoint tensor names, which `export`
//! reads): `{net}.x{i}.*`, `{net}.t{i}.*`, `{net}.h{i}.*` for layer i of the
//! x-encoder, time encoder and trunk, each with `weight`, `bias`, `prelu`
//! and, with BatchNorm, `bn.{weight,bias,running_mean,running_var}`; the
//! posterior encoder's heads are `encoder.mu.*` and `encoder.logvar.*`.

use ddaebm_host::base::GaussianBase;
use ddaebm_host::checkpoint::Arch;
use tch::nn::{self, Module, ModuleT};
use tch::{Device, Kind, Tensor};

/// Initial PReLU slope (PyTorch's default).
pub const PRELU_INIT: f64 = 0.25;

pub use ddaebm_host::checkpoint::time_embedding;

/// Linear layer + optional BatchNorm + optional PReLU.
#[derive(Debug)]
pub struct Block {
    lin: nn::Linear,
    bn: Option<nn::BatchNorm>,
    prelu: Option<Tensor>,
}

impl Block {
    fn new(p: nn::Path, d_in: usize, d_out: usize, bn: bool, act: bool, bn_eps: f64) -> Self {
        let lin = nn::linear(&p, d_in as i64, d_out as i64, Default::default());
        let bn = bn.then(|| {
            nn::batch_norm1d(&p / "bn", d_out as i64, nn::BatchNormConfig { eps: bn_eps, ..Default::default() })
        });
        let prelu = act.then(|| p.var("prelu", &[1], nn::Init::Const(PRELU_INIT)));
        Block { lin, bn, prelu }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = self.lin.forward(x);
        if let Some(bn) = &self.bn {
            h = bn.forward_t(&h, train);
        }
        match &self.prelu {
            Some(w) => h.prelu(w),
            None => h,
        }
    }
}

/// The x-encoder / time-encoder / trunk network f(x, t) → R^{d_out}.
#[derive(Debug)]
pub struct ToyNet {
    x_enc: Vec<Block>,
    t_enc: Vec<Block>,
    trunk: Vec<Block>,
    /// Embedding table [T, t_emb_dim] of the step indices.
    emb: Tensor,
}

impl ToyNet {
    /// Builds the network under `p`. `final_act` adds a PReLU after the last
    /// trunk layer (the posterior encoder uses it before its heads).
    pub fn new(p: nn::Path, arch: &Arch, steps: usize, d_in: usize, d_out: usize, bn: bool, final_act: bool) -> Self {
        let mut x_enc = Vec::new();
        let mut d = d_in;
        for (i, &w) in arch.x_enc.iter().enumerate() {
            let hidden = i + 1 < arch.x_enc.len();
            x_enc.push(Block::new(&p / format!("x{i}"), d, w, bn && hidden, true, arch.bn_eps));
            d = w;
        }
        let x_code = d;
        let mut t_enc = Vec::new();
        let mut d = arch.t_emb_dim;
        for (i, &w) in arch.t_enc.iter().enumerate() {
            t_enc.push(Block::new(&p / format!("t{i}"), d, w, false, true, arch.bn_eps));
            d = w;
        }
        let mut trunk = Vec::new();
        let mut d = x_code + d;
        for (i, &w) in arch.trunk.iter().enumerate() {
            trunk.push(Block::new(&p / format!("h{i}"), d, w, bn, true, arch.bn_eps));
            d = w;
        }
        let n = arch.trunk.len();
        trunk.push(Block::new(&p / format!("h{n}"), d, d_out, false, final_act, arch.bn_eps));
        let table: Vec<f32> = (0..steps).flat_map(|t| time_embedding(t, arch.t_emb_dim)).map(|v| v as f32).collect();
        let emb = Tensor::from_slice(&table).view([steps as i64, arch.t_emb_dim as i64]).to_device(p.device());
        ToyNet { x_enc, t_enc, trunk, emb }
    }

    /// Forward pass: `x` `[B, d_in]`, `t` `[B]` int64 step indices.
    pub fn forward_t(&self, x: &Tensor, t: &Tensor, train: bool) -> Tensor {
        let hx = self.x_enc.iter().fold(x.shallow_clone(), |h, b| b.forward_t(&h, train));
        let ht = self.t_enc.iter().fold(self.emb.index_select(0, t), |h, b| b.forward_t(&h, train));
        let h = Tensor::cat(&[hx, ht], 1);
        self.trunk.iter().fold(h, |h, b| b.forward_t(&h, train))
    }
}

/// The energy network f_θ(x, t) → R (higher = more likely).
///
/// Without a base measure f is the network itself (docs/algorithm.md §4). With
/// one ([`EnergyNet::set_base`], `ddaebm_host::base`), f is the Gaussian
/// base's log-density at step t plus the network's output bounded to
/// (−B, B): integrable by construction.
#[derive(Debug)]
pub struct EnergyNet {
    net: ToyNet,
    base: Option<BaseTerm>,
}

/// The base measure as tensors on the training device.
#[derive(Debug)]
struct BaseTerm {
    /// `[K, D, D]`, row j of component k = v_kj.
    basis: Tensor,
    /// `[T, K, D]`: 1 / (ā_t² λ_kj + σ̄_t²).
    inv_var: Tensor,
    /// `[K, D]`: √λ_kj.
    std: Tensor,
    /// `[T]` each: ā_t, σ̄_t (checkpoint indexing: x_t = ā_t x_0 + σ̄_t ε).
    a_bar: Tensor,
    sigma_bar: Tensor,
    /// Mixtures only (K ≥ 2): `[K, D]` means μ_k, `[T, K]` log w_k − ½ Σ_j
    /// ln(ā_t² λ_kj + σ̄_t²), `[K]` weights.
    mixture: Option<(Tensor, Tensor, Tensor)>,
    /// B.
    bound: f64,
}

impl EnergyNet {
    /// Builds f under `p` (no BatchNorm: the R1 penalty needs per-example gradients).
    pub fn new(p: nn::Path, arch: &Arch, steps: usize) -> Self {
        EnergyNet { net: ToyNet::new(p, arch, steps, arch.data_dim, 1, false, false), base: None }
    }

    /// Installs (or removes) the base measure, for the schedule's
    /// `a_bar` / `sigma_bar` (k = 0..T−1 are used).
    pub fn set_base(&mut self, base: Option<&GaussianBase>, a_bar: &[f64], sigma_bar: &[f64], device: Device) {
        self.base = base.map(|b| {
            let f32s =
                |v: &[f64]| Tensor::from_slice(&v.iter().map(|&x| x as f32).collect::<Vec<f32>>()).to_device(device);
            let steps = a_bar.len() - 1;
            let inv_var: Vec<f64> = (0..steps).flat_map(|t| b.inv_var(a_bar[t], sigma_bar[t])).collect();
            let (d, k) = (b.dim as i64, b.components() as i64);
            let mixture = (k > 1).then(|| {
                let log_norm: Vec<f64> = (0..steps).flat_map(|t| b.step_log_weight(a_bar[t], sigma_bar[t])).collect();
                let weights: Vec<f64> = b.log_weight.iter().map(|w| w.exp()).collect();
                (f32s(&b.mean).view([k, d]), f32s(&log_norm).view([steps as i64, k]), f32s(&weights))
            });
            BaseTerm {
                basis: f32s(&b.basis).view([k, d, d]),
                inv_var: f32s(&inv_var).view([steps as i64, k, d]),
                std: f32s(&b.variance.iter().map(|l| l.sqrt()).collect::<Vec<_>>()).view([k, d]),
                a_bar: f32s(&a_bar[..steps]),
                sigma_bar: f32s(&sigma_bar[..steps]),
                mixture,
                bound: b.residual_bound,
            }
        });
    }

    /// Whether f has a base measure.
    pub fn has_base(&self) -> bool {
        self.base.is_some()
    }

    /// f(x, t) as `[B]`: the residual plus the base (when there is one).
    pub fn forward(&self, x: &Tensor, t: &Tensor) -> Tensor {
        match &self.base {
            None => self.residual(x, t),
            Some(b) => self.residual(x, t) + Self::base_term(b, x, t),
        }
    }

    /// The network's part of f as `[B]`: its output, bounded to (−B, B)
    /// with r / (1 + |r| / B) when there is a base measure.
    pub fn residual(&self, x: &Tensor, t: &Tensor) -> Tensor {
        let r = self.net.forward_t(x, t, true).squeeze_dim(1);
        match &self.base {
            None => r,
            Some(b) => &r / (r.abs() * (1.0 / b.bound) + 1.0),
        }
    }

    /// base_t(x) as `[B]`: −½ Σ_j (v_j · x)² / (ā_t² λ_j + σ̄_t²) for one
    /// Gaussian; for a mixture the log-sum-exp over k of
    /// log w_k − ½ Σ_j ln(ā_t² λ_kj + σ̄_t²) − ½ Σ_j (v_kj · (x − ā_t μ_k))² / (ā_t² λ_kj + σ̄_t²).
    fn base_term(b: &BaseTerm, x: &Tensor, t: &Tensor) -> Tensor {
        match &b.mixture {
            None => {
                let proj = x.matmul(&b.basis.select(0, 0).tr());
                (proj.square() * b.inv_var.index_select(0, t).select(1, 0)).sum_dim_intlist(1, false, Kind::Float)
                    * -0.5
            }
            Some((mean, log_norm, _)) => {
                // [B, K, D]: x − ā_t μ_k.
                let centred = x.unsqueeze(1) - b.a_bar.index_select(0, t).view([-1, 1, 1]) * mean.unsqueeze(0);
                // [B, K, D]: projections on each component's eigenvectors.
                let proj = Tensor::einsum("bkd,kjd->bkj", &[&centred, &b.basis], None::<i64>);
                let quad = (proj.square() * b.inv_var.index_select(0, t)).sum_dim_intlist(2, false, Kind::Float);
                (log_norm.index_select(0, t) - quad * 0.5).logsumexp([1], false)
            }
        }
    }

    /// Draws from the base measure diffused to each row's step: the
    /// base's fit of the data at step t, ā_t · (a draw of the base) +
    /// σ̄_t · N(0, I) (`[B, D]`), or `None` without a base.
    pub fn base_samples(&self, t: &Tensor) -> Option<Tensor> {
        let b = self.base.as_ref()?;
        let n = t.size()[0];
        let d = b.std.size()[1];
        let device = b.std.device();
        let x0 = match &b.mixture {
            None => (Tensor::randn([n, d], (Kind::Float, device)) * b.std.select(0, 0)).matmul(&b.basis.select(0, 0)),
            Some((mean, _, weights)) => {
                let k = weights.multinomial(n, true);
                let c = Tensor::randn([n, d], (Kind::Float, device)) * b.std.index_select(0, &k);
                // Row i: c_i · V_{k_i} + μ_{k_i}.
                c.unsqueeze(1).bmm(&b.basis.index_select(0, &k)).squeeze_dim(1) + mean.index_select(0, &k)
            }
        };
        let eps = Tensor::randn([n, d], (Kind::Float, device));
        Some(b.a_bar.index_select(0, t).unsqueeze(1) * x0 + b.sigma_bar.index_select(0, t).unsqueeze(1) * eps)
    }
}

/// The generator G(x_{t+1}, z, t) → x̂0.
#[derive(Debug)]
pub struct Generator {
    net: ToyNet,
    /// Latent size.
    pub nz: usize,
}

impl Generator {
    /// Builds G under `p`.
    pub fn new(p: nn::Path, arch: &Arch, steps: usize) -> Self {
        let d = arch.data_dim;
        Generator { net: ToyNet::new(p, arch, steps, d + arch.nz, d, arch.batchnorm, false), nz: arch.nz }
    }

    /// x̂0 = G(x_{t+1}, z, t); `train` selects batch statistics for BatchNorm.
    pub fn forward_t(&self, x_t1: &Tensor, z: &Tensor, t: &Tensor, train: bool) -> Tensor {
        self.net.forward_t(&Tensor::cat(&[x_t1, z], 1), t, train)
    }

    /// Standard normal latents for a batch of `n`.
    pub fn latent(&self, n: i64, device: Device) -> Tensor {
        Tensor::randn([n, self.nz as i64], (Kind::Float, device))
    }
}

/// The posterior encoder q_φ(z | x_t, x_{t+1}, t) → (μ, logvar).
#[derive(Debug)]
pub struct PosteriorEncoder {
    net: ToyNet,
    mu: nn::Linear,
    logvar: nn::Linear,
}

impl PosteriorEncoder {
    /// Builds q_φ under `p`.
    pub fn new(p: nn::Path, arch: &Arch, steps: usize) -> Self {
        let d = arch.data_dim;
        let net = ToyNet::new(&p / "net", arch, steps, 2 * d, arch.encoder_out, arch.batchnorm, true);
        let mu = nn::linear(&p / "mu", arch.encoder_out as i64, arch.nz as i64, Default::default());
        let logvar = nn::linear(&p / "logvar", arch.encoder_out as i64, arch.nz as i64, Default::default());
        PosteriorEncoder { net, mu, logvar }
    }

    /// (μ, logvar) of q_φ(z | x_t, x_{t+1}, t), each [B, nz].
    pub fn forward(&self, x_t: &Tensor, x_t1: &Tensor, t: &Tensor) -> (Tensor, Tensor) {
        let h = self.net.forward_t(&Tensor::cat(&[x_t, x_t1], 1), t, true);
        (self.mu.forward(&h), self.logvar.forward(&h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_embedding_matches_definition() {
        let e = time_embedding(3, 16);
        assert_eq!(e.len(), 16);
        // w_0 = 1, w_7 = 1e-4.
        assert!((e[0] - 3f64.sin()).abs() < 1e-15);
        assert!((e[7] - (3.0 * 1e-4f64).sin()).abs() < 1e-15);
        assert!((e[8] - 3f64.cos()).abs() < 1e-15);
        let e0 = time_embedding(0, 16);
        assert!(e0[..8].iter().all(|&v| v == 0.0) && e0[8..].iter().all(|&v| v == 1.0));
    }
}
