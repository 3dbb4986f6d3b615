//! Constant folding: turns a checkpoint's networks (x-encoder, time encoder,
//! trunk, BatchNorm) into the plain per-layer chain of the model file
//! (docs/model-format.md), in f64.
//!
//! - The time embedding and the time encoder depend only on the step index
//!   t, so their output is computed here for each t = 0..T−1 and multiplied
//!   into the first trunk layer's bias: `W [x; c_t] + b = W_x x + (W_t c_t + b)`,
//!   a per-step bias of shape [T, width].
//! - Inference-mode BatchNorm after a linear layer,
//!   `γ (h − μ) / √(σ² + ε) + β`, is folded into that layer's weight and bias.

use std::collections::BTreeMap;

use ddaebm_host::checkpoint::{Arch, Checkpoint, HostTensor};

/// Errors folding a checkpoint: a tensor missing or of the wrong shape
/// (the checkpoint crate's [`TensorError`], under the name this module
/// has always used).
pub use ddaebm_host::checkpoint::TensorError as FoldError;

/// One layer of the deployable chain: `h ← prelu(W h + b[t])`.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Output size.
    pub out_dim: usize,
    /// Input size.
    pub in_dim: usize,
    /// Row-major weight [out, in].
    pub weight: Vec<f64>,
    /// Bias: `[out]` or, when `per_step`, `[T, out]`.
    pub bias: Vec<f64>,
    /// Whether `bias` has one row per step index.
    pub per_step: bool,
    /// PReLU slope after the layer, if any.
    pub prelu: Option<f64>,
}

impl Layer {
    /// Applies the layer to `h` for step index `t`.
    pub fn forward(&self, h: &[f64], t: usize) -> Vec<f64> {
        let bias = if self.per_step { &self.bias[t * self.out_dim..(t + 1) * self.out_dim] } else { &self.bias[..] };
        self.weight
            .chunks_exact(self.in_dim)
            .zip(bias)
            .map(|(row, b)| {
                let y = row.iter().zip(h).map(|(w, x)| w * x).sum::<f64>() + b;
                match self.prelu {
                    Some(a) if y < 0.0 => a * y,
                    _ => y,
                }
            })
            .collect()
    }
}

/// Runs a folded chain on `x` at step index `t`.
pub fn forward(layers: &[Layer], x: &[f64], t: usize) -> Vec<f64> {
    layers.iter().fold(x.to_vec(), |h, l| l.forward(&h, t))
}

struct Tensors<'a>(&'a BTreeMap<String, HostTensor>);

impl Tensors<'_> {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f64>, FoldError> {
        let t = self.0.get(name).ok_or_else(|| FoldError::Missing(name.into()))?;
        if t.shape != shape {
            return Err(FoldError::Shape { name: name.into(), expected: shape.to_vec(), found: t.shape.clone() });
        }
        Ok(t.data.iter().map(|&v| v as f64).collect())
    }

    fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// A linear layer (+ BatchNorm folded, + PReLU slope) named `prefix`.
    fn layer(&self, prefix: &str, in_dim: usize, out_dim: usize, act: bool, eps: f64) -> Result<Layer, FoldError> {
        let mut weight = self.get(&format!("{prefix}.weight"), &[out_dim, in_dim])?;
        let mut bias = self.get(&format!("{prefix}.bias"), &[out_dim])?;
        if self.has(&format!("{prefix}.bn.running_mean")) {
            let gamma = self.get(&format!("{prefix}.bn.weight"), &[out_dim])?;
            let beta = self.get(&format!("{prefix}.bn.bias"), &[out_dim])?;
            let mean = self.get(&format!("{prefix}.bn.running_mean"), &[out_dim])?;
            let var = self.get(&format!("{prefix}.bn.running_var"), &[out_dim])?;
            for o in 0..out_dim {
                let s = gamma[o] / (var[o] + eps).sqrt();
                weight[o * in_dim..(o + 1) * in_dim].iter_mut().for_each(|w| *w *= s);
                bias[o] = s * (bias[o] - mean[o]) + beta[o];
            }
        }
        let prelu = if act { Some(self.get(&format!("{prefix}.prelu"), &[1])?[0]) } else { None };
        Ok(Layer { out_dim, in_dim, weight, bias, per_step: false, prelu })
    }
}

/// The time code c_t (time-encoder output) for each t = 0..steps−1.
fn time_codes(tensors: &Tensors<'_>, net: &str, arch: &Arch, steps: usize) -> Result<Vec<Vec<f64>>, FoldError> {
    let mut layers = Vec::new();
    let mut d = arch.t_emb_dim;
    for (i, &w) in arch.t_enc.iter().enumerate() {
        layers.push(tensors.layer(&format!("{net}.t{i}"), d, w, true, arch.bn_eps)?);
        d = w;
    }
    Ok((0..steps).map(|t| forward(&layers, &time_embedding(t, arch.t_emb_dim), 0)).collect())
}

/// The sinusoidal embedding of step index t (defined with the checkpoint).
pub use ddaebm_host::checkpoint::time_embedding;

/// Folds network `net` (`energy` or `generator`) of a checkpoint into a
/// chain whose input is `d_in`-dimensional and output `d_out`-dimensional.
pub fn fold_net(ckpt: &Checkpoint, net: &str, d_in: usize, d_out: usize) -> Result<Vec<Layer>, FoldError> {
    let arch = &ckpt.meta.arch;
    let steps = ckpt.meta.schedule.steps;
    let tensors = Tensors(&ckpt.tensors);
    let eps = arch.bn_eps;
    let mut chain = Vec::new();
    let mut d = d_in;
    for (i, &w) in arch.x_enc.iter().enumerate() {
        chain.push(tensors.layer(&format!("{net}.x{i}"), d, w, true, eps)?);
        d = w;
    }
    let x_code = d;
    let t_code = *arch.t_enc.last().unwrap_or(&arch.t_emb_dim);
    let codes = time_codes(&tensors, net, arch, steps)?;
    let widths: Vec<usize> = arch.trunk.iter().copied().chain([d_out]).collect();
    let mut d = x_code + t_code;
    for (i, &w) in widths.iter().enumerate() {
        let act = i + 1 < widths.len();
        let prefix = format!("{net}.h{i}");
        if i > 0 {
            chain.push(tensors.layer(&prefix, d, w, act, eps)?);
            d = w;
            continue;
        }
        // First trunk layer: fold the time code into a per-step bias, then BatchNorm.
        let prelu = if act { Some(tensors.get(&format!("{prefix}.prelu"), &[1])?[0]) } else { None };
        let raw_w = tensors.get(&format!("{prefix}.weight"), &[w, d])?;
        let raw_b = tensors.get(&format!("{prefix}.bias"), &[w])?;
        let mut weight = Vec::with_capacity(w * x_code);
        for row in raw_w.chunks_exact(d) {
            weight.extend_from_slice(&row[..x_code]);
        }
        let mut bias = Vec::with_capacity(steps * w);
        for code in &codes {
            for (o, row) in raw_w.chunks_exact(d).enumerate() {
                bias.push(row[x_code..].iter().zip(code).map(|(a, c)| a * c).sum::<f64>() + raw_b[o]);
            }
        }
        if tensors.has(&format!("{prefix}.bn.running_mean")) {
            let gamma = tensors.get(&format!("{prefix}.bn.weight"), &[w])?;
            let beta = tensors.get(&format!("{prefix}.bn.bias"), &[w])?;
            let mean = tensors.get(&format!("{prefix}.bn.running_mean"), &[w])?;
            let var = tensors.get(&format!("{prefix}.bn.running_var"), &[w])?;
            let scale: Vec<f64> = (0..w).map(|o| gamma[o] / (var[o] + eps).sqrt()).collect();
            for (o, row) in weight.chunks_exact_mut(x_code).enumerate() {
                row.iter_mut().for_each(|v| *v *= scale[o]);
            }
            for row in bias.chunks_exact_mut(w) {
                for o in 0..w {
                    row[o] = scale[o] * (row[o] - mean[o]) + beta[o];
                }
            }
        }
        chain.push(Layer { out_dim: w, in_dim: x_code, weight, bias, per_step: true, prelu });
        d = w;
    }
    Ok(chain)
}
