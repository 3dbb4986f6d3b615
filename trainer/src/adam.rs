//! Adam with its state in plain tensors, so that a checkpoint can hold it
//! and `--resume` continues exactly (libtorch's own optimiser state is not
//! reachable through `tch`). Same update as `torch.optim.Adam`.

use std::collections::BTreeMap;

use ddaebm_export::checkpoint::HostTensor;
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

    /// One Adam update from the accumulated gradients.
    pub fn step(&mut self) {
        self.step += 1;
        let bc1 = 1.0 - self.beta1.powi(self.step as i32);
        let bc2 = 1.0 - self.beta2.powi(self.step as i32);
        tch::no_grad(|| {
            for ((_, p), (m, v)) in self.params.iter_mut().zip(self.m.iter_mut().zip(self.v.iter_mut())) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                m.copy_(&(&*m * self.beta1 + &g * (1.0 - self.beta1)));
                v.copy_(&(&*v * self.beta2 + g.square() * (1.0 - self.beta2)));
                let denom = v.sqrt() / bc2.sqrt() + self.eps;
                let update = &*m / denom * (self.lr / bc1);
                let _ = p.f_sub_(&update);
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
