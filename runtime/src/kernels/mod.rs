//! Numeric kernels: matrix–vector products and PReLU.
//!
//! # Summation order (docs/model-format.md, "Arithmetic")
//!
//! Every output is computed in one fixed order, the same on every target, so
//! results are bit-identical on the host and on every MCU; the fast paths
//! (SIMD on the host, hand-scheduled FPU / DSP / Helium loops on the MCU)
//! only reorganise which loads and registers are used, never the arithmetic.
//!
//! Float weights (F32, F16, BF16, each widened to f32 exactly), a row `w` of
//! `n` weights against `x`, with `fma(a, b, c)` = `a·b + c` rounded once
//! (IEEE 754 fusedMultiplyAdd, [`fma`]):
//!
//! ```text
//! a[k] = 0.0, then a[k] = fma(w[i], x[i], a[k])   for i = 8c + k, c = 0, 1, … over the first 8·⌊n/8⌋ inputs, in order
//! s    = ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))
//! s    = fma(w[i], x[i], s)                       for i = 8·⌊n/8⌋ .. n, in order
//! y    = s + b
//! ```
//!
//! Eight interleaved partial sums let the host keep them in SIMD registers
//! and the MCU in FPU registers. The multiply–accumulate is fused because
//! every target with a floating-point unit has it as one instruction (x86
//! FMA3 `vfmadd231ps`, 8 or 16 lanes; the Cortex-M4F / M7 / M33 / M55
//! `VFMA.F32`; aarch64 `fmadd`), which halves the host's floating-point
//! operations against a separate multiply and add; the soft-float targets
//! (Cortex-M0, M3, RISC-V rv32imac) and x86 CPUs without FMA3 compute the
//! same correctly rounded result in software (`libm::fmaf`).
//!
//! Int8 weights (`W = scale · q`) use integer arithmetic: the layer input is
//! quantised to i16 with one scale per call ([`quantise_block`]), products
//! `q · xq` are summed exactly in i32 over blocks of [`QBLOCK`] inputs (the
//! bound `512 · 128 · 32767 < 2³¹` rules out overflow), each block sum is
//! converted to f32 and added in block order, and `y = (sx · scale) · acc + b`.
//! An exact integer sum has no order, so every target (SMLAD on the
//! Cortex-M4F, SIMD on the host) gives the same bits.
//!
//! Tensor bytes come straight from the model file and need not be aligned.
//! The host reads them with unaligned loads; the MCU paths that use
//! multi-register FPU loads (which need 4-byte alignment) check the address
//! once per call and otherwise use the byte-wise path (same results).
//!
//! Lengths are validated once at load (`model.rs`); the kernels re-slice
//! their inputs to exact lengths once per call (stopping early, never
//! panicking, if a caller broke that contract) so the inner loops run on
//! `chunks_exact` iterators without bounds checks.

use crate::format::Dtype;

// One file per target family (heapless / tflite-micro style); the cfg
// names are set once in runtime/build.rs. `portable` is the reference every
// other kernel is tested against, bit for bit.
#[cfg(ddaebm_dsp)]
mod dsp;
#[cfg(ddaebm_fpu)]
mod fpu;
#[cfg(ddaebm_mve)]
mod mve;
mod portable;
// The software FMA of the soft-float MCUs; built everywhere so that the
// host tests check it against the hardware instruction.
#[cfg_attr(any(ddaebm_fpu, target_arch = "x86_64", target_arch = "aarch64"), allow(dead_code))]
mod soft_fma;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

#[cfg(ddaebm_dsp)]
pub(crate) use dsp::{matvec_i8, matvec_i8_act};
#[cfg(ddaebm_mve)]
use mve::matvec_i8_act;
#[cfg(ddaebm_fpu)]
use fpu::f16_bits_to_f32;
#[cfg(not(ddaebm_fpu))]
use portable::matvec_float;
#[cfg(not(ddaebm_dsp))]
pub(crate) use portable::{matvec_i8, matvec_i8_multi};
#[cfg(test)]
use portable::dots;
pub(crate) use portable::fast_dots;

/// Interleaved partial sums per float dot product (see the module docs).
pub(crate) const LANES: usize = 8;

/// Inputs per exact i32 block of the int8 kernel: `QBLOCK · 128 · 32767 < 2³¹`.
pub(crate) const QBLOCK: usize = 512;

/// Largest quantised activation magnitude (symmetric i16, −32767..=32767).
const QMAX: f32 = 32767.0;

/// Layer inputs whose largest magnitude is below this quantise to all zeros
/// (their contribution, below 2⁻¹⁰⁰ · Σ|w|, is far below f32 resolution of
/// any bias), which also keeps `32767 / max` finite.
const QTINY: f32 = 7.888_609e-31; // 2^-100

/// Decodes a little-endian f32 from a 4-byte chunk (NaN for any other length,
/// which the callers' `chunks_exact(4)` rules out).
#[inline]
pub(crate) fn f32_le(bytes: &[u8]) -> f32 {
    match *bytes {
        [a, b, c, d] => f32::from_le_bytes([a, b, c, d]),
        _ => f32::NAN,
    }
}

/// Decodes a little-endian IEEE half from a 2-byte chunk into f32 (exact;
/// NaN for any other length, which `chunks_exact(2)` rules out).
#[inline]
pub(crate) fn f16_le(bytes: &[u8]) -> f32 {
    match *bytes {
        [a, b] => f16_bits_to_f32(u16::from_le_bytes([a, b])),
        _ => f32::NAN,
    }
}

/// IEEE half → f32, exact, branch-free (so that the host's vectoriser turns
/// a chunk of them into SIMD code): normal halves are re-biased, subnormal
/// ones computed exactly as `(2⁻¹⁴ + m·2⁻²⁴) − 2⁻¹⁴` in f32, infinities kept
/// and NaNs quieted with their payload (as `half` and `VCVTB` do).
#[inline(always)]
pub(crate) fn f16_bits_portable(bits: u16) -> f32 {
    let h = u32::from(bits);
    let sign = (h & 0x8000) << 16;
    let em = h & 0x7fff;
    let shifted = em << 13;
    let normal = shifted + 0x3800_0000; // exponent + (127 − 15)
    let sub = (f32::from_bits(shifted + 0x3880_0000) - f32::from_bits(0x3880_0000)).to_bits();
    let special = if em > 0x7c00 { shifted | 0x7fc0_0000 } else { 0x7f80_0000 };
    let mag = if em >= 0x7c00 {
        special
    } else if em >= 0x0400 {
        normal
    } else {
        sub
    };
    f32::from_bits(mag | sign)
}

/// IEEE half → f32, exact (portable targets).
#[cfg(not(ddaebm_fpu))]
#[inline(always)]
fn f16_bits_to_f32(bits: u16) -> f32 {
    f16_bits_portable(bits)
}


/// Decodes a little-endian bfloat16 from a 2-byte chunk into f32 (exact: a
/// bfloat16 is the upper half of an f32; NaN for any other length, which
/// `chunks_exact(2)` rules out).
#[inline]
pub(crate) fn bf16_le(bytes: &[u8]) -> f32 {
    match *bytes {
        [a, b] => f32::from_bits(u32::from(u16::from_le_bytes([a, b])) << 16),
        _ => f32::NAN,
    }
}

/// The `i`-th f32 of a little-endian F32 tensor's bytes.
#[inline]
pub(crate) fn f32_at(bytes: &[u8], i: usize) -> Option<f32> {
    bytes.chunks_exact(4).nth(i).map(f32_le)
}

/// A float weight element type: its size and how a chunk of [`LANES`]
/// elements is widened to f32 (exactly). The supertrait carries what a
/// target's SIMD kernel needs (x86-64: [`x86::SseLoad`]; nothing elsewhere).
pub(crate) trait FloatWeights: ArchWeights {
    /// Bytes per element.
    const SIZE: usize;
    /// `LANES` elements from `LANES · SIZE` bytes.
    fn chunk(bytes: &[u8]) -> [f32; LANES];
    /// One element from `SIZE` bytes.
    fn one(bytes: &[u8]) -> f32;
}

/// The target's per-dtype loads for its SIMD kernel.
#[cfg(target_arch = "x86_64")]
use x86::SseLoad as ArchWeights;
/// No per-dtype SIMD loads on this target.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) trait ArchWeights {}
#[cfg(not(target_arch = "x86_64"))]
impl<T> ArchWeights for T {}

/// F32 weights.
pub(crate) struct F32W;
/// IEEE half weights.
pub(crate) struct F16W;
/// bfloat16 weights.
pub(crate) struct Bf16W;

impl FloatWeights for F32W {
    const SIZE: usize = 4;
    #[inline(always)]
    fn chunk(bytes: &[u8]) -> [f32; LANES] {
        // A fixed-size array, so the eight loads become one vector load.
        let Ok(b) = <&[u8; 32]>::try_from(bytes) else { return [f32::NAN; LANES] };
        core::array::from_fn(|k| f32::from_le_bytes([b[4 * k], b[4 * k + 1], b[4 * k + 2], b[4 * k + 3]]))
    }
    #[inline(always)]
    fn one(bytes: &[u8]) -> f32 {
        f32_le(bytes)
    }
}

impl FloatWeights for F16W {
    const SIZE: usize = 2;
    #[inline(always)]
    fn chunk(bytes: &[u8]) -> [f32; LANES] {
        // The branch-free conversion on every target: it vectorises on the
        // host; the MCU's aligned rows take the VCVTB loop instead.
        let Ok(b) = <&[u8; 16]>::try_from(bytes) else { return [f32::NAN; LANES] };
        core::array::from_fn(|k| f16_bits_portable(u16::from_le_bytes([b[2 * k], b[2 * k + 1]])))
    }
    #[inline(always)]
    fn one(bytes: &[u8]) -> f32 {
        f16_le(bytes)
    }
}

impl FloatWeights for Bf16W {
    const SIZE: usize = 2;
    #[inline(always)]
    fn chunk(bytes: &[u8]) -> [f32; LANES] {
        let Ok(b) = <&[u8; 16]>::try_from(bytes) else { return [f32::NAN; LANES] };
        core::array::from_fn(|k| f32::from_bits(u32::from(u16::from_le_bytes([b[2 * k], b[2 * k + 1]])) << 16))
    }
    #[inline(always)]
    fn one(bytes: &[u8]) -> f32 {
        bf16_le(bytes)
    }
}

/// The fixed reduction of the eight partial sums.
#[inline(always)]
pub(crate) fn reduce(a: [f32; LANES]) -> f32 {
    ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
}

/// Finishes one dot product: reduces the partial sums, then adds the tail
/// elements (inputs `8·⌊n/8⌋..n`) in order.
#[inline(always)]
fn finish<W: FloatWeights>(acc: [f32; LANES], row_tail: &[u8], x_tail: &[f32]) -> f32 {
    add_tail::<W>(reduce(acc), row_tail, x_tail)
}

/// `s = fma(w[i], x[i], s)` over the tail elements, in order.
#[inline(always)]
fn add_tail<W: FloatWeights>(mut s: f32, row_tail: &[u8], x_tail: &[f32]) -> f32 {
    for (w, xi) in row_tail.chunks_exact(W::SIZE).zip(x_tail) {
        s = fma(W::one(w), *xi, s);
    }
    s
}

/// `a · b + c` rounded once (IEEE 754 fusedMultiplyAdd): the
/// multiply–accumulate of every float dot product (module docs). One
/// `VFMA.F32` on hard-float Arm; on x86-64 and aarch64 hosts `libm::fmaf`
/// (the hardware instruction where the CPU has it, detected at run time on
/// x86-64); on the soft-float MCUs the integer [`soft_fma::fmaf`]. All are
/// correctly rounded, so every target gives the same bits.
#[inline(always)]
pub(crate) fn fma(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(ddaebm_fpu)]
    {
        fpu::vfma(a, b, c)
    }
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        libm::fmaf(a, b, c)
    }
    #[cfg(not(any(ddaebm_fpu, target_arch = "x86_64", target_arch = "aarch64")))]
    {
        soft_fma::fmaf(a, b, c)
    }
}

/// `y = W x + b` for a row-major `W` of shape `[y.len(), x.len()]` stored as
/// `dtype` bytes, and an F32 bias `b` of `y.len()` elements, in the order of
/// the module docs.
///
/// For [`Dtype::I8`] weights `W[j][i] = scale[j] · q[j][i]`, with `scale` an
/// F32 vector of `y.len()` elements (see [`matvec_i8`]). For the other dtypes
/// `scale` is not read.
///
/// The caller guarantees `weight.len() == y.len() * x.len() * dtype.size()`,
/// `bias.len() == 4 * y.len()` and, for I8, `scale.len() == 4 * y.len()`
/// (validated at load); with shorter inputs the loops stop early instead of
/// panicking.
pub(crate) fn matvec(weight: &[u8], dtype: Dtype, scale: &[u8], x: &[f32], bias: &[u8], y: &mut [f32]) {
    #[cfg(ddaebm_fpu)]
    match dtype {
        Dtype::I8 => matvec_i8(weight, scale, x, bias, y),
        _ => fpu::matvec_float(weight, dtype, x, bias, y),
    }
    #[cfg(not(ddaebm_fpu))]
    match dtype {
        Dtype::F32 => matvec_float::<F32W>(weight, x, bias, y),
        Dtype::F16 => matvec_float::<F16W>(weight, x, bias, y),
        Dtype::Bf16 => matvec_float::<Bf16W>(weight, x, bias, y),
        Dtype::I8 => matvec_i8(weight, scale, x, bias, y),
    }
}

/// [`matvec`], then [`prelu`] with `slope` if there is one (fused into the
/// int8 kernel on the DSP and Helium paths; same bits either way).
pub(crate) fn layer(
    weight: &[u8],
    dtype: Dtype,
    scale: &[u8],
    x: &[f32],
    bias: &[u8],
    y: &mut [f32],
    slope: Option<f32>,
) {
    #[cfg(any(ddaebm_dsp, ddaebm_mve))]
    if dtype == Dtype::I8 {
        return matvec_i8_act(weight, scale, x, bias, y, slope);
    }
    matvec(weight, dtype, scale, x, bias, y);
    if let Some(slope) = slope {
        prelu(y, slope);
    }
}

/// The per-call activation quantisation of the int8 kernel: `(sx, inv)` with
/// `sx = max|x| / 32767` and `inv = 32767 / max|x|`, or `None` when an input
/// is NaN or infinite. Below [`QTINY`] both are 0 (all `xq` = 0).
#[inline]
pub(crate) fn quant_scale(x: &[f32]) -> Option<(f32, f32)> {
    // The largest |x| as bits: for non-negative floats the bit patterns
    // order like the values, infinity is 0x7f80_0000, NaNs are above it.
    let mut mb = 0u32;
    for &v in x {
        mb = mb.max(v.to_bits() & 0x7fff_ffff);
    }
    quant_scale_bits(mb)
}

/// [`quant_scale`] from the largest `bits & 0x7fff_ffff` of the inputs
/// (computed by the caller, e.g. with vector instructions).
#[inline]
pub(crate) fn quant_scale_bits(mb: u32) -> Option<(f32, f32)> {
    let m = f32::from_bits(mb);
    if mb >= 0x7f80_0000 {
        None
    } else if m < QTINY {
        Some((0.0, 0.0))
    } else {
        Some((m / QMAX, QMAX / m))
    }
}

/// `xq = clamp(trunc(x · inv ± 0.5), −32767, 32767)`: round half away from
/// zero, computed in f32 (so the same on every target).
#[inline(always)]
pub(crate) fn quantise(v: f32, inv: f32) -> i16 {
    let t = v * inv;
    let r = if t < 0.0 { t - 0.5 } else { t + 0.5 };
    (r as i32).clamp(-32767, 32767) as i16
}

/// The int8 layer one element at a time, PReLU included (`slope` 1.0 for
/// none): the MCU kernels' path for layers their loops do not take (more
/// than [`QBLOCK`] inputs, unaligned scales or biases, ...). Slow, small
/// code, the same bits (exact i32 sums per block of [`QBLOCK`] inputs,
/// added in order from 0.0).
#[cfg(any(ddaebm_dsp, ddaebm_mve))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn matvec_i8_elementwise(
    weight: &[u8],
    scale: &[u8],
    x: &[f32],
    bias: &[u8],
    y: &mut [f32],
    sx: f32,
    inv: f32,
    slope: f32,
) {
    let n = x.len();
    for (j, yj) in y.iter_mut().enumerate() {
        let row = weight.get(j * n..j * n + n).unwrap_or(&[]);
        let (mut acc, mut d) = (0.0f32, 0i32);
        for (i, (&w, &v)) in row.iter().zip(x).enumerate() {
            d += i32::from(w as i8) * i32::from(quantise(v, inv));
            if i % QBLOCK == QBLOCK - 1 || i + 1 == n {
                acc += d as f32;
                d = 0;
            }
        }
        let v = (sx * f32_word(scale, j)) * acc + f32_word(bias, j);
        *yj = if v < 0.0 { v * slope } else { v };
    }
}

/// The `k`-th little-endian f32 of `bytes`, NaN if out of range (not
/// inlined: small code for the rare paths that need it).
#[cfg(any(ddaebm_dsp, ddaebm_mve))]
#[inline(never)]
pub(crate) fn f32_word(bytes: &[u8], k: usize) -> f32 {
    match bytes.get(4 * k..).and_then(<[u8]>::first_chunk::<4>) {
        Some(b) => f32::from_le_bytes(*b),
        None => f32::NAN,
    }
}

/// PReLU in place: `y = if y >= 0 { y } else { slope * y }` (NaN stays NaN).
pub(crate) fn prelu(y: &mut [f32], slope: f32) {
    for v in y {
        if *v < 0.0 {
            *v *= slope;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matvec_f32_and_f16() {
        // W = [[1, 2], [-3, 0.5]], b = [0.25, -1], x = [2, -4]
        let w = [1.0f32, 2.0, -3.0, 0.5];
        let mut wb = [0u8; 16];
        for (c, v) in wb.chunks_exact_mut(4).zip(w) {
            c.copy_from_slice(&v.to_le_bytes());
        }
        let mut wh = [0u8; 8];
        for (c, v) in wh.chunks_exact_mut(2).zip(w) {
            c.copy_from_slice(&half::f16::from_f32(v).to_bits().to_le_bytes());
        }
        let mut b = [0u8; 8];
        for (c, v) in b.chunks_exact_mut(4).zip([0.25f32, -1.0]) {
            c.copy_from_slice(&v.to_le_bytes());
        }
        let x = [2.0f32, -4.0];
        let mut y = [0.0f32; 2];
        matvec(&wb, Dtype::F32, &[], &x, &b, &mut y);
        assert_eq!(y, [2.0 - 8.0 + 0.25, -6.0 - 2.0 - 1.0]);
        let mut y16 = [0.0f32; 2];
        matvec(&wh, Dtype::F16, &[], &x, &b, &mut y16);
        assert_eq!(y16, y);
        // bfloat16: these weights are exact in 8 significant bits.
        let mut wbf = [0u8; 8];
        for (c, v) in wbf.chunks_exact_mut(2).zip(w) {
            c.copy_from_slice(&((v.to_bits() >> 16) as u16).to_le_bytes());
        }
        let mut ybf = [0.0f32; 2];
        matvec(&wbf, Dtype::Bf16, &[], &x, &b, &mut ybf);
        assert_eq!(ybf, y);
        // int8: row 0 = 0.5 · [2, 4], row 1 = 0.25 · [-12, 2]; x = [2, -4]
        // quantises exactly (max 4 → 32767/4 per unit; 2 → 16384 after
        // rounding 16383.5 away from zero, so row 0 is off by 0.5 LSB).
        let wq = [2i8, 4, -12, 2].map(|q| q.to_le_bytes()[0]);
        let mut s = [0u8; 8];
        for (c, v) in s.chunks_exact_mut(4).zip([0.5f32, 0.25]) {
            c.copy_from_slice(&v.to_le_bytes());
        }
        let mut yq = [0.0f32; 2];
        matvec(&wq, Dtype::I8, &s, &x, &b, &mut yq);
        for (a, e) in yq.iter().zip(y) {
            assert!((a - e).abs() <= 1e-3, "{yq:?} vs {y:?}");
        }
        // A missing scale leaves the accumulators unscaled but never panics.
        let mut yq = [7.0f32; 2];
        matvec(&wq, Dtype::I8, &[], &x, &b, &mut yq);
        // A non-finite input makes every int8 output NaN.
        let mut yq = [7.0f32; 2];
        matvec(&wq, Dtype::I8, &s, &[f32::NAN, 1.0], &b, &mut yq);
        assert!(yq.iter().all(|v| v.is_nan()));
        prelu(&mut y, 0.5);
        assert_eq!(y, [-2.875, -4.5]);
        let mut z = [0.0f32, -0.0, 3.0, f32::NAN];
        prelu(&mut z, 0.1);
        assert_eq!(z[..3], [0.0, -0.0, 3.0]);
        assert!(z[3].is_nan());
    }

    #[test]
    fn element_decoders() {
        assert_eq!(bf16_le(&0x3f80u16.to_le_bytes()), 1.0);
        assert_eq!(bf16_le(&0xc040u16.to_le_bytes()), -3.0);
        assert_eq!(bf16_le(&0x7f80u16.to_le_bytes()), f32::INFINITY);
        assert!(bf16_le(&0x7fc0u16.to_le_bytes()).is_nan());
        assert!(bf16_le(&[1]).is_nan());
    }

    /// The branch-free half conversion equals `half`'s for all 65 536
    /// values, bit for bit (NaNs: same quieted payload).
    #[test]
    fn f16_portable_matches_half() {
        for h in 0..=u16::MAX {
            let want = half::f16::from_bits(h).to_f32();
            assert_eq!(f16_bits_portable(h).to_bits(), want.to_bits(), "{h:#06x}");
        }
    }

    /// Every (rows × inputs) block shape of `dots` gives the same bits as a
    /// one-row, one-input call.
    #[test]
    fn blocked_dots_match_single() {
        let mut seed = 1u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed as f32 / u32::MAX as f32) * 2.0 - 1.0
        };
        for n in [0usize, 1, 7, 8, 9, 16, 23, 40] {
            let w: [f32; 3 * 40] = core::array::from_fn(|_| next());
            let mut wb = [0u8; 4 * 3 * 40];
            for (c, v) in wb.chunks_exact_mut(4).zip(w) {
                c.copy_from_slice(&v.to_le_bytes());
            }
            let xs: [[f32; 40]; 2] = core::array::from_fn(|_| core::array::from_fn(|_| next()));
            let rows: [&[u8]; 3] = core::array::from_fn(|r| &wb[4 * n * r..4 * n * (r + 1)]);
            let blocked = dots::<F32W, 3, 2>(rows, [&xs[0][..n], &xs[1][..n]]);
            for r in 0..3 {
                for s in 0..2 {
                    let one = dots::<F32W, 1, 1>([rows[r]], [&xs[s][..n]])[0][0];
                    assert_eq!(blocked[r][s].to_bits(), one.to_bits(), "n={n} r={r} s={s}");
                }
            }
        }
    }
}
