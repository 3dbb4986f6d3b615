//! Batched energy: [`Model::energy_batch`] evaluates many inputs per pass
//! over the weights, so each weight is loaded once per block of inputs
//! instead of once per input (what makes large batches compute-bound on the
//! host). Every output is bit-identical to [`Model::energy`] on the same
//! input: the per-output arithmetic is the same kernel (`kernels::dots`),
//! only blocked over several inputs.

use crate::error::Error;
use crate::format::Dtype;
use crate::kernels::{self, f32_le, fast_dots, Bf16W, FloatWeights, F16W, F32W};
use crate::model::{Layer, Model};

/// Inputs per cache block of the batched float kernel: a block of rows
/// (a few KB) stays in L1 while it meets all of them, their activations
/// (16 · width · 4 bytes, 19 KB at width 300) too.
const SUPER: usize = 16;

impl Model<'_> {
    /// The number of `f32` of scratch [`energy_batch`](Model::energy_batch)
    /// needs for `n` inputs (saturating): two activation buffers of `n`
    /// vectors, each padded to a multiple of 16 values (64 bytes), plus 15
    /// values of slack to start them on a 64-byte boundary, so that the
    /// host's vector loads never straddle a cache line.
    pub fn batch_scratch_len(&self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        batch_stride(self.buf_width).saturating_mul(n).saturating_mul(2).saturating_add(ALIGN_SLACK)
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
        let needed = self.batch_scratch_len(n);
        let too_small = Error::ScratchTooSmall { needed, found: scratch.len() };
        let scratch = scratch.get_mut(..needed).ok_or(too_small)?;
        let w = batch_stride(self.buf_width);
        if n == 0 || w == 0 {
            return Ok(());
        }
        // Two activation buffers of exactly `n · w` values from the first
        // 64-byte boundary (the scratch is 4-byte aligned, so the skip is
        // exact), every vector starting on one too.
        let skip = scratch.as_ptr().align_offset(64).min(ALIGN_SLACK);
        let (mut a, rest) = scratch.get_mut(skip..).ok_or(too_small)?.split_at_mut(n * w);
        let mut b = rest.get_mut(..n * w).ok_or(too_small)?;
        for (dst, x) in a.chunks_exact_mut(w).zip(xs.chunks_exact(self.data_dim)) {
            self.normalise_into(x, dst);
        }
        // The base measure's log-density, kept in `out` until the network's
        // output is in (`b`, not yet written, is a mixture's working space).
        if let Some(base) = &self.base {
            for (o, x) in out.iter_mut().zip(a.chunks_exact(w)) {
                *o = base.log_density(x, t, b);
            }
        }
        let mut width = self.data_dim;
        for layer in self.energy_net.layers() {
            apply_batch(layer, t, width, w, a, b)?;
            width = layer.out_dim;
            core::mem::swap(&mut a, &mut b);
        }
        let mut finite = true;
        for (o, h) in out.iter_mut().zip(a.chunks_exact(w)) {
            let r = h.first().copied().unwrap_or(f32::NAN);
            *o = match &self.base {
                Some(base) => base.combine(r, *o),
                None => r,
            };
            finite &= o.is_finite();
        }
        if finite {
            Ok(())
        } else {
            Err(Error::NonFiniteOutput)
        }
    }
}

/// Values of slack in the batch scratch for its 64-byte alignment.
const ALIGN_SLACK: usize = 15;

/// The distance between two inputs' activations in the batch scratch:
/// `width` rounded up to a multiple of 16 values (64 bytes).
fn batch_stride(width: usize) -> usize {
    width.div_ceil(16).saturating_mul(16)
}

/// One layer on every input: `src` and `dst` hold one activation vector per
/// `stride` values; reads `in_dim` of each, writes `out_dim`.
fn apply_batch(
    layer: &Layer<'_>,
    t: usize,
    in_dim: usize,
    stride: usize,
    src: &[f32],
    dst: &mut [f32],
) -> Result<(), Error> {
    let out_dim = layer.out_dim;
    if in_dim != layer.in_dim || in_dim > stride || out_dim > stride {
        return Err(Error::ScratchTooSmall { needed: in_dim.max(out_dim), found: stride });
    }
    let bias_bytes = out_dim.saturating_mul(4).max(1);
    let bias = if layer.bias_per_step {
        layer
            .bias
            .chunks_exact(bias_bytes)
            .nth(t)
            .ok_or(Error::StepOutOfRange { t, steps: layer.bias.len() / bias_bytes })?
    } else {
        layer.bias
    };
    #[cfg(target_arch = "x86_64")]
    {
        let (w, p) = (layer.weight, layer.prelu);
        let done = match layer.dtype {
            Dtype::F32 => kernels::x86::float_layer::<F32W>(w, bias, p, in_dim, out_dim, stride, src, dst),
            Dtype::F16 => kernels::x86::float_layer::<F16W>(w, bias, p, in_dim, out_dim, stride, src, dst),
            Dtype::Bf16 => kernels::x86::float_layer::<Bf16W>(w, bias, p, in_dim, out_dim, stride, src, dst),
            Dtype::I8 => kernels::x86::int8_layer(w, layer.scale, bias, p, in_dim, out_dim, stride, src, dst),
        };
        if done {
            return Ok(()); // the PReLU too
        }
    }
    match layer.dtype {
        Dtype::F32 => float_blocks::<F32W, 2, 2>(layer.weight, bias, in_dim, out_dim, stride, src, dst),
        Dtype::F16 => float_blocks::<F16W, 2, 2>(layer.weight, bias, in_dim, out_dim, stride, src, dst),
        Dtype::Bf16 => float_blocks::<Bf16W, 2, 2>(layer.weight, bias, in_dim, out_dim, stride, src, dst),
        Dtype::I8 => int8_layer(layer, bias, in_dim, out_dim, stride, src, dst),
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

/// Float weights where the host has no whole-layer kernel (x86-64 without
/// AVX + FMA3, other architectures; 2 × 2 blocks there): blocks of
/// [`SUPER`] inputs; in each, for every block of `BR` rows, the
/// inputs `BS` at a time through `fast_dots`, the leftover inputs and rows in
/// smaller blocks (same bits).
#[inline(always)]
fn float_blocks<W: FloatWeights, const BR: usize, const BS: usize>(
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
    let mut put = |s: usize, j: usize, v: f32| {
        if let Some(y) = dst.get_mut(s * stride + j) {
            *y = v + bias_at(j);
        }
    };
    let mut b0 = 0;
    while b0 < n {
        let b1 = n.min(b0 + SUPER);
        let mut j = 0;
        while j < out_dim {
            let nr = (out_dim - j).min(BR);
            let mut s0 = b0;
            while s0 < b1 {
                let ns = (b1 - s0).min(BS);
                if nr == BR && ns == BS {
                    let d = fast_dots::<W, BR, BS>(
                        core::array::from_fn(|r| rows(j + r)),
                        core::array::from_fn(|s| x_at(s0 + s)),
                    );
                    for (r, dr) in d.iter().enumerate() {
                        for (s, v) in dr.iter().enumerate() {
                            put(s0 + s, j + r, *v);
                        }
                    }
                } else if nr == BR {
                    for s in s0..s0 + ns {
                        let d = fast_dots::<W, BR, 1>(core::array::from_fn(|r| rows(j + r)), [x_at(s)]);
                        for (r, dr) in d.iter().enumerate() {
                            put(s, j + r, dr[0]);
                        }
                    }
                } else {
                    for r in j..j + nr {
                        for s in s0..s0 + ns {
                            put(s, r, fast_dots::<W, 1, 1>([rows(r)], [x_at(s)])[0][0]);
                        }
                    }
                }
                s0 += ns;
            }
            j += nr;
        }
        b0 = b1;
    }
}

/// Int8 inputs per pass over the weights (each quantised with its own scale).
#[cfg(not(ddaebm_dsp))]
const I8_INPUTS: usize = 2;

/// Int8 weights: blocks of [`I8_INPUTS`] inputs per pass over the rows
/// (`kernels::matvec_i8_multi`), the leftover inputs one at a time (same bits).
fn int8_layer(
    layer: &Layer<'_>,
    bias: &[u8],
    in_dim: usize,
    out_dim: usize,
    stride: usize,
    src: &[f32],
    dst: &mut [f32],
) {
    let srcs = src.chunks_exact(stride).filter_map(|x| x.get(..in_dim));
    let dsts = dst.chunks_exact_mut(stride).filter_map(|y| y.get_mut(..out_dim));
    #[cfg(not(ddaebm_dsp))]
    let (mut srcs, mut dsts) = (srcs, dsts);
    #[cfg(not(ddaebm_dsp))]
    loop {
        let xs: [Option<&[f32]>; I8_INPUTS] = core::array::from_fn(|_| srcs.next());
        let ys: [Option<&mut [f32]>; I8_INPUTS] = core::array::from_fn(|_| dsts.next());
        if xs.iter().all(Option::is_some) && ys.iter().all(Option::is_some) {
            let xs = xs.map(|x| x.unwrap_or(&[]));
            let ys = ys.map(|y| y.unwrap_or(&mut []));
            kernels::matvec_i8_multi::<I8_INPUTS>(layer.weight, layer.scale, xs, bias, ys);
        } else {
            for (x, y) in xs.into_iter().zip(ys) {
                if let (Some(x), Some(y)) = (x, y) {
                    kernels::matvec_i8(layer.weight, layer.scale, x, bias, y);
                }
            }
            break;
        }
    }
    for (x, y) in srcs.zip(dsts) {
        kernels::matvec_i8(layer.weight, layer.scale, x, bias, y);
    }
}
