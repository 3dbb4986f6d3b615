//! Adam with its state in plain tensors, so that a checkpoint can hold it
//! and `--resume` continues exactly (libtorch's own optimiser state is not
//! reachable through `tch`). Same update as `torch.optim.Adam`.

use std::collections::BTreeMap;

use ddaebm_host::checkpoint::HostTensor;
use tch::Tensor;

use crate::model::{copy_host, to_host, RestoreError};

/// Adam over a fixed, named list of parameters.
pub struct Adam {
    params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// Number of updates taken.
    pub step: u64,
    /// Learning rate.
    pub lr: f64,
    /// β1 (DDAEBM: 0).
    pub beta1: f64,
    /// β2 (DDAEBM: 0.9).
    pub beta2: f64,
    /// ε.
    pub eps: f64,
}

impl Adam {
    /// Adam over `params` (name, tensor) with zeroed moments.
    pub fn new(params: Vec<(String, Tensor)>, lr: f64, beta1: f64, beta2: f64) -> Self {
        let m = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let v = params.iter().map(|(_, p)| p.zeros_like()).collect();
        Adam { params, m, v, step: 0, lr, beta1, beta2, eps: 1e-8 }
    }

    /// Clears the gradients of all parameters.
    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    /// One Adam update from the accumulated gradients, in place and in the
    /// order of `torch.optim.Adam`'s single-tensor path:
    /// `m ← lerp(m, g, 1 − β1)`, `v ← lerp(v, g², 1 − β2)`,
    /// `p ← p − lr/bc1 · m / (√v / √bc2 + ε)`. With β1 = 0 (DDAEBM) m is g
    /// and is not stored. 8 tensor operations per parameter instead of 15
    /// (docs/performance.md has the measurement).
    pub fn step(&mut self) {
        self.step += 1;
        let bc1 = 1.0 - self.beta1.powi(self.step as i32);
        let bc2 = 1.0 - self.beta2.powi(self.step as i32);
        let step_size = self.lr / bc1;
        tch::no_grad(|| {
            for ((_, p), (m, v)) in self.params.iter_mut().zip(self.m.iter_mut().zip(self.v.iter_mut())) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let _ = v.lerp_(&g.square(), 1.0 - self.beta2);
                let mut denom = v.sqrt();
                let _ = denom.g_div_scalar_(bc2.sqrt());
                let _ = denom.g_add_scalar_(self.eps);
                let _ = denom.g_mul_scalar_(-1.0 / step_size);
                if self.beta1 == 0.0 {
                    let _ = p.addcdiv_(&g, &denom);
                } else {
                    let _ = m.lerp_(&g, 1.0 - self.beta1);
                    let _ = p.addcdiv_(m, &denom);
                }
            }
        });
    }

    /// The moments as host tensors named `{prefix}.m.{param}` / `{prefix}.v.{param}`.
    pub fn state(&self, prefix: &str) -> BTreeMap<String, HostTensor> {
        let mut out = BTreeMap::new();
        for ((name, _), (m, v)) in self.params.iter().zip(self.m.iter().zip(&self.v)) {
            out.insert(format!("{prefix}.m.{name}"), to_host(m));
            out.insert(format!("{prefix}.v.{name}"), to_host(v));
        }
        out
    }

    /// Restores the moments written by [`Adam::state`] and the step count.
    pub fn load_state(
        &mut self,
        prefix: &str,
        tensors: &BTreeMap<String, HostTensor>,
        step: u64,
    ) -> Result<(), RestoreError> {
        for ((name, _), (m, v)) in self.params.iter().zip(self.m.iter_mut().zip(self.v.iter_mut())) {
            for (kind, t) in [("m", m), ("v", v)] {
                let key = format!("{prefix}.{kind}.{name}");
                let src = tensors.get(&key).ok_or_else(|| RestoreError::Missing(key.clone()))?;
                copy_host(t, src, &key)?;
            }
        }
        self.step = step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    /// Two steps on p = [1, −2] with loss Σ c·p (gradient c), against the
    /// Adam formulas in f64, for β1 = 0 (DDAEBM) and β1 = 0.5.
    #[test]
    fn steps_match_the_adam_formulas() {
        for beta1 in [0.0, 0.5] {
            let p = Tensor::from_slice(&[1.0f32, -2.0]).set_requires_grad(true);
            let mut adam = Adam::new(vec![("p".into(), p.shallow_clone())], 0.1, beta1, 0.9);
            let c = [0.5f64, -3.0];
            let (mut want, mut m, mut v) = ([1.0f64, -2.0], [0.0f64; 2], [0.0f64; 2]);
            for step in 1..=2 {
                adam.zero_grad();
                (&p * Tensor::from_slice(&[c[0] as f32, c[1] as f32])).sum(Kind::Float).backward();
                adam.step();
                for i in 0..2 {
                    m[i] = beta1 * m[i] + (1.0 - beta1) * c[i];
                    v[i] = 0.9 * v[i] + 0.1 * c[i] * c[i];
                    let (bc1, bc2) = (1.0 - beta1.powi(step), 1.0 - 0.9f64.powi(step));
                    want[i] -= 0.1 / bc1 * m[i] / ((v[i] / bc2).sqrt() + 1e-8);
                }
            }
            let got: Vec<f32> = Vec::try_from(&p.detach()).unwrap();
            for i in 0..2 {
                assert!((f64::from(got[i]) - want[i]).abs() < 1e-6, "β1 {beta1}: {got:?} vs {want:?}");
            }
            assert_eq!(adam.step, 2);
        }
    }
}
