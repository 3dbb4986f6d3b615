//! Sampling and seeding that training ([`crate::fit`]) and evaluation
//! ([`crate::eval`]) share: the T-step chain and the per-stream seed mix.

use tch::{Kind, Tensor};

use crate::model::Ddaebm;

/// A 64-bit mix (SplitMix64 finaliser) for deriving per-iteration seeds.
pub fn mix_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Draws `n` samples with the T-step chain of docs/algorithm.md §3, in the
/// model's (normalised) units, row-major [n, D]. `bn_train` selects batch
/// statistics for BatchNorm (the reference's behaviour) instead of the
/// running statistics that a deployed model uses.
pub fn sample(model: &Ddaebm, n: usize, seed: u64, bn_train: bool) -> Vec<f32> {
    tch::manual_seed(seed as i64);
    let d = model.arch.data_dim as i64;
    let out = tch::no_grad(|| {
        let mut x = Tensor::randn([n as i64, d], (Kind::Float, model.device));
        for t in (0..model.schedule.steps).rev() {
            let tt = Tensor::full([n as i64], t as i64, (Kind::Int64, model.device));
            let z = model.generator.latent(n as i64, model.device);
            let x0 = model.generator.forward_t(&x, &z, &tt, bn_train);
            x = model.diffusion.posterior_sample(&x0, &x, &tt);
        }
        x
    });
    crate::model::to_host(&out).data
}
