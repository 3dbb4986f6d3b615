//! Batched energy: [`Model::energy_batch`] evaluates many inputs per pass
//! over the weights, so each weight is loaded once per block of inputs
//! instead of once per input (what makes large batches compute-bound on the
//! host). Every output is bit-identical to [`Model::energy`] on the same
//! input: the per-output arithmetic is the same kernel (`kernels::dots`),
//! only blocked over several inputs.

use crate::error::Error;
use crate::format::Dtype;
use crate::kernels::{self, dots, f32_le, Bf16W, F16W, F32W, FloatWeights};
use crate::model::{Layer, Model};

/// Rows × inputs per register block of the batched float kernel. With AVX
/// one 8-lane accumulator is one register: 2 × 4 blocks use 8 of 16; with
/// SSE (two registers per accumulator) 2 × 2.
#[cfg(target_feature = "avx")]
const BLOCK: (usize, usize) = (2, 4);
#[cfg(not(target_feature = "avx"))]
const BLOCK: (usize, usize) = (2, 2);
const BR: usize = BLOCK.0;
const BS: usize = BLOCK.1;

impl Model<'_> {
    /// The number of `f32` of scratch [`energy_batch`](Model::energy_batch)
    /// needs for `n` inputs: `n · scratch_len()` (saturating).
    pub fn batch_scratch_len(&self, n: usize) -> usize {
        self.scratch_len().saturating_mul(n)
    }

    /// f(x, t) for `n = out.len()` inputs at once: `xs` holds the inputs in
    /// RAW units, one after the other (`n · D` values), `out[b]` receives
    /// f(x_b, t), bit-identical to [`energy`](Model::energy) on `x_b`.
    /// Faster than `n` calls for large `n`: the weights are streamed once
    /// per block of inputs.
    ///
    /// Errors: [`Error::DimensionMismatch`] if `xs.len() != n · D`,
    /// [`Error::StepOutOfRange`] if `t >= T`, [`Error::ScratchTooSmall`] if
    /// `scratch.len() < batch_scratch_len(n)`, [`Error::NonFiniteOutput`] if
    /// any output is NaN or infinite (`out` is filled either way).
    pub fn energy_batch(&self, xs: &[f32], t: usize, out: &mut [f32], scratch: &mut [f32]) -> Result<(), Error> {
        let n = out.len();
        self.check_len("xs", xs.len(), n.saturating_mul(self.data_dim))?;
        self.check_step(t)?;
        let w = self.buf_width;
        let needed = self.batch_scratch_len(n);
        let too_small = Error::ScratchTooSmall { needed, found: scratch.len() };
        let scratch = scratch.get_mut(..needed).ok_or(too_small)?;
        if n == 0 || w == 0 {
            return Ok(());
        }
        let (mut a, mut b) = scratch.split_at_mut(n * w);
        for (dst, x) in a.chunks_exact_mut(w).zip(xs.chunks_exact(self.data_dim)) {
            self.normalise_into(x, dst);
        }
        let mut width = self.data_dim;
        for layer in self.energy_net.layers() {
            apply_batch(layer, t, width, w, a, b)?;
            width = layer.out_dim;
            core::mem::swap(&mut a, &mut b);
        }
        let mut finite = true;
        for (o, h) in out.iter_mut().zip(a.chunks_exact(w)) {
            *o = h.first().copied().unwrap_or(f32::NAN);
            finite &= o.is_finite();
        }
        if finite {
            Ok(())
        } else {
            Err(Error::NonFiniteOutput)
        }
    }
}

/// One layer on every input: `src` and `dst` hold one activation vector per
/// `stride` values; reads `in_dim` of each, writes `out_dim`.
fn apply_batch(layer: &Layer<'_>, t: usize, in_dim: usize, stride: usize, src: &[f32], dst: &mut [f32]) -> Result<(), Error> {
    let out_dim = layer.out_dim;
    if in_dim != layer.in_dim || in_dim > stride || out_dim > stride {
        return Err(Error::ScratchTooSmall { needed: in_dim.max(out_dim), found: stride });
    }
    let bias_bytes = out_dim.saturating_mul(4).max(1);
    let bias = if layer.bias_per_step {
        layer.bias.chunks_exact(bias_bytes).nth(t).ok_or(Error::StepOutOfRange { t, steps: layer.bias.len() / bias_bytes })?
    } else {
        layer.bias
    };
    match layer.dtype {
        Dtype::F32 => float_layer::<F32W>(layer.weight, bias, in_dim, out_dim, stride, src, dst),
        Dtype::F16 => float_layer::<F16W>(layer.weight, bias, in_dim, out_dim, stride, src, dst),
        Dtype::Bf16 => float_layer::<Bf16W>(layer.weight, bias, in_dim, out_dim, stride, src, dst),
        Dtype::I8 => {
            // Per input: the activation scale is per vector.
            for (x, y) in src.chunks_exact(stride).zip(dst.chunks_exact_mut(stride)) {
                if let (Some(x), Some(y)) = (x.get(..in_dim), y.get_mut(..out_dim)) {
                    kernels::matvec_i8(layer.weight, layer.scale, x, bias, y);
                }
            }
        }
    }
    if let Some(slope) = layer.prelu {
        for y in dst.chunks_exact_mut(stride) {
            if let Some(y) = y.get_mut(..out_dim) {
                kernels::prelu(y, slope);
            }
        }
    }
    Ok(())
}

/// Float weights: blocks of `BS` inputs × `BR` rows through `dots`, the
/// leftover inputs and rows in smaller blocks (same bits).
fn float_layer<W: FloatWeights>(
    weight: &[u8],
    bias: &[u8],
    in_dim: usize,
    out_dim: usize,
    stride: usize,
    src: &[f32],
    dst: &mut [f32],
) {
    let row_bytes = in_dim * W::SIZE;
    let rows = |j: usize| weight.get(j * row_bytes..(j + 1) * row_bytes).unwrap_or(&[]);
    let bias_at = |j: usize| bias.get(4 * j..4 * j + 4).map_or(f32::NAN, f32_le);
    let x_at = |s: usize| src.get(s * stride..s * stride + in_dim).unwrap_or(&[]);
    let n = src.len() / stride;
    let mut s0 = 0;
    while s0 < n {
        let ns = (n - s0).min(BS);
        let mut j = 0;
        while j < out_dim {
            let nr = (out_dim - j).min(BR);
            // One register block, or its one-row / one-input remainders.
            let mut put = |r: usize, s: usize, v: f32| {
                if let Some(y) = dst.get_mut((s0 + s) * stride + j + r) {
                    *y = v + bias_at(j + r);
                }
            };
            if nr == BR && ns == BS {
                let d = dots::<W, BR, BS>(core::array::from_fn(|r| rows(j + r)), core::array::from_fn(|s| x_at(s0 + s)));
                for (r, dr) in d.iter().enumerate() {
                    for (s, v) in dr.iter().enumerate() {
                        put(r, s, *v);
                    }
                }
            } else {
                for r in 0..nr {
                    for s in 0..ns {
                        put(r, s, dots::<W, 1, 1>([rows(j + r)], [x_at(s0 + s)])[0][0]);
                    }
                }
            }
            j += nr;
        }
        s0 += ns;
    }
}
