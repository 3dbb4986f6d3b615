//! Numeric kernels: matrix–vector products and PReLU.
//!
//! # Summation order (docs/model-format.md, "Arithmetic")
//!
//! Every output is computed in one fixed order, the same on every target, so
//! results are bit-identical on the host and on a Cortex-M4F; the fast paths
//! (SIMD on the host, hand-scheduled FPU / DSP loops on the MCU) only
//! reorganise which loads and registers are used, never the arithmetic.
//! Multiplies and adds are separate f32 operations (Rust never fuses them;
//! the Cortex-M4F's `VMLA.F32` is the unfused multiply–accumulate, rounding
//! after the multiply and after the add).
//!
//! Float weights (F32, F16, BF16, each widened to f32 exactly), a row `w` of
//! `n` weights against `x`:
//!
//! ```text
//! a[k] = 0.0 + w[k]·x[k] + w[8+k]·x[8+k] + …      k = 0..8, over the first 8·⌊n/8⌋ inputs, in order
//! s    = ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))
//! s    = s + w[i]·x[i]                            for i = 8·⌊n/8⌋ .. n, in order
//! y    = s + b
//! ```
//!
//! Eight interleaved partial sums let the host keep them in SIMD registers
//! (one AVX or two SSE registers) and the MCU in FPU registers.
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

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

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
#[cfg(not(all(target_arch = "arm", target_os = "none", target_abi = "eabihf")))]
#[inline(always)]
fn f16_bits_to_f32(bits: u16) -> f32 {
    f16_bits_portable(bits)
}

/// IEEE half → f32, exact, with the FPU's `VCVTB.F32.F16` (one instruction).
/// Bare-metal hard-float Arm targets (Cortex-M4F/M7/M33, FPv4 and later)
/// all implement it. The conversion is exact for every half value, so
/// results stay bit-identical to the portable path (the firmware parity test
/// checks this under QEMU).
#[cfg(all(target_arch = "arm", target_os = "none", target_abi = "eabihf"))]
#[inline]
#[allow(unsafe_code)]
fn f16_bits_to_f32(bits: u16) -> f32 {
    let out: u32;
    // SAFETY: moves the half into FP register s15, converts it there with
    // VCVTB.F32.F16 and moves the result back; s15 is declared clobbered, no
    // memory, stack or flags are touched (only FPSCR's sticky exception
    // bits), and every hard-float bare-metal Arm target this cfg selects has
    // an FPU that implements the instruction.
    unsafe {
        core::arch::asm!(
            "vmov s15, {inp}",
            "vcvtb.f32.f16 s15, s15",
            "vmov {out}, s15",
            inp = in(reg) u32::from(bits),
            out = lateout(reg) out,
            out("s15") _,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    f32::from_bits(out)
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
/// elements is widened to f32 (exactly).
pub(crate) trait FloatWeights {
    /// Bytes per element.
    const SIZE: usize;
    /// IEEE half (not bfloat16) elements.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    const IEEE_HALF: bool = false;
    /// `LANES` elements from `LANES · SIZE` bytes.
    fn chunk(bytes: &[u8]) -> [f32; LANES];
    /// One element from `SIZE` bytes.
    fn one(bytes: &[u8]) -> f32;
    /// `LANES` elements at `p` as two SSE vectors (lanes 0..4, 4..8); a
    /// nonzero value ORed into `special` means the portable path must run.
    ///
    /// # Safety
    /// `p` must be valid for reading `LANES · SIZE` bytes.
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    unsafe fn load_sse(p: *const u8, special: &mut core::arch::x86_64::__m128i) -> [core::arch::x86_64::__m128; 2];
}

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
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    #[inline(always)]
    unsafe fn load_sse(p: *const u8, _: &mut core::arch::x86_64::__m128i) -> [core::arch::x86_64::__m128; 2] {
        // SAFETY: forwarded from the caller (32 readable bytes).
        unsafe { x86::load_f32(p) }
    }
}

impl FloatWeights for F16W {
    const SIZE: usize = 2;
    const IEEE_HALF: bool = true;
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
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    #[inline(always)]
    unsafe fn load_sse(p: *const u8, special: &mut core::arch::x86_64::__m128i) -> [core::arch::x86_64::__m128; 2] {
        // SAFETY: forwarded from the caller (16 readable bytes).
        unsafe { x86::load_f16(p, special) }
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
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    #[inline(always)]
    unsafe fn load_sse(p: *const u8, _: &mut core::arch::x86_64::__m128i) -> [core::arch::x86_64::__m128; 2] {
        // SAFETY: forwarded from the caller (16 readable bytes).
        unsafe { x86::load_bf16(p) }
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

/// `s + w[i]·x[i]` over the tail elements, in order.
#[inline(always)]
fn add_tail<W: FloatWeights>(mut s: f32, row_tail: &[u8], x_tail: &[f32]) -> f32 {
    for (w, xi) in row_tail.chunks_exact(W::SIZE).zip(x_tail) {
        s += W::one(w) * *xi;
    }
    s
}

/// Dot products of `R` weight rows with `S` input vectors, each in the
/// canonical order (module docs); `out[r][s]` = row r · input s. Every row
/// must hold `n · W::SIZE` bytes and every input `n` values (`n` = the first
/// input's length); shorter ones give NaN instead of a panic.
///
/// The `R · S` dot products share their loads: each chunk of a row is
/// decoded once for the `S` inputs, each chunk of an input loaded once for
/// the `R` rows. With `R · S` ≥ 4 independent accumulator sets the host's
/// SIMD units are not latency-bound.
#[inline(always)]
pub(crate) fn dots<W: FloatWeights, const R: usize, const S: usize>(
    rows: [&[u8]; R],
    xs: [&[f32]; S],
) -> [[f32; S]; R] {
    let n = xs.first().map_or(0, |x| x.len());
    let body = n - n % LANES;
    let wb = LANES * W::SIZE;
    // Exact lengths, checked once: the loops below then run without checks.
    let mut ok = true;
    let rows = rows.map(|r| match (r.get(..body * W::SIZE), r.get(body * W::SIZE..n * W::SIZE)) {
        (Some(b), Some(t)) => (b, t),
        _ => {
            ok = false;
            (&[][..], &[][..])
        }
    });
    let xs = xs.map(|x| match (x.get(..body), x.get(body..n)) {
        (Some(b), Some(t)) if x.len() == n => (b, t),
        _ => {
            ok = false;
            (&[][..], &[][..])
        }
    });
    if !ok {
        return [[f32::NAN; S]; R];
    }
    let mut acc = [[[0.0f32; LANES]; S]; R];
    for c in 0..body / LANES {
        let xv: [[f32; LANES]; S] = core::array::from_fn(|s| {
            match x_body(&xs, s).get(c * LANES..c * LANES + LANES).map(<&[f32; LANES]>::try_from) {
                Some(Ok(v)) => *v,
                _ => [f32::NAN; LANES],
            }
        });
        for (acc_r, (row, _)) in acc.iter_mut().zip(&rows) {
            let wv = match row.get(c * wb..c * wb + wb) {
                Some(b) => W::chunk(b),
                None => [f32::NAN; LANES],
            };
            for (acc_rs, xv_s) in acc_r.iter_mut().zip(&xv) {
                for ((a, w), x) in acc_rs.iter_mut().zip(&wv).zip(xv_s) {
                    *a += *w * *x;
                }
            }
        }
    }
    let mut out = [[0.0f32; S]; R];
    for ((out_r, acc_r), (_, row_tail)) in out.iter_mut().zip(acc).zip(&rows) {
        for ((o, acc_rs), (_, x_tail)) in out_r.iter_mut().zip(acc_r).zip(&xs) {
            *o = finish::<W>(acc_rs, row_tail, x_tail);
        }
    }
    out
}

/// The body part of input `s` (empty if out of range).
#[inline(always)]
fn x_body<'x, const S: usize>(xs: &[(&'x [f32], &'x [f32]); S], s: usize) -> &'x [f32] {
    xs.get(s).map_or(&[], |x| x.0)
}

/// [`dots`] through the target's SIMD kernel where there is one (x86-64:
/// SSE2), the portable code otherwise or when the SIMD kernel declines.
/// Same bits either way.
#[inline(always)]
pub(crate) fn fast_dots<W: FloatWeights, const R: usize, const S: usize>(
    rows: [&[u8]; R],
    xs: [&[f32]; S],
) -> [[f32; S]; R] {
    #[cfg(target_arch = "x86_64")]
    if let Some(d) = x86::dots::<W, R, S>(rows, xs) {
        return d;
    }
    dots::<W, R, S>(rows, xs)
}

/// Whether [`fast_dots`] runs on 8-wide SIMD registers (x86-64 with AVX and
/// F16C, detected at run time), so that larger register blocks pay off.
#[inline]
pub(crate) fn wide_simd() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        x86::has_avx()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Rows processed together by the portable single-input float kernel: 4 on
/// the host (independent SIMD accumulator chains), 1 on 32-bit Arm, where
/// the aligned F32 / F16 rows take the `mcu` loops and the portable path
/// only serves BF16 and unaligned files (smaller code).
#[cfg(not(all(target_arch = "arm", target_os = "none", target_abi = "eabihf")))]
const HOST_ROWS: usize = if cfg!(target_arch = "arm") { 1 } else { 4 };

/// `y = W x + b` for float weights, portable: [`HOST_ROWS`] rows at a time.
#[cfg(not(all(target_arch = "arm", target_os = "none", target_abi = "eabihf")))]
fn matvec_float<W: FloatWeights>(weight: &[u8], x: &[f32], bias: &[u8], y: &mut [f32]) {
    let row_bytes = x.len().saturating_mul(W::SIZE);
    if row_bytes == 0 {
        // No inputs: y = 0.0 + b.
        for (yj, bj) in y.iter_mut().zip(bias.chunks_exact(4)) {
            *yj = 0.0 + f32_le(bj);
        }
        return;
    }
    let block = row_bytes.saturating_mul(HOST_ROWS);
    let mut ys = y.chunks_exact_mut(HOST_ROWS);
    let mut bs = bias.chunks_exact(4 * HOST_ROWS);
    let mut ws = weight.chunks_exact(block);
    for ((yb, bb), wb) in (&mut ys).zip(&mut bs).zip(&mut ws) {
        let mut rows = [&[][..]; HOST_ROWS];
        for (r, w) in rows.iter_mut().zip(wb.chunks_exact(row_bytes)) {
            *r = w;
        }
        let d = fast_dots::<W, HOST_ROWS, 1>(rows, [x]);
        for ((yj, bj), dj) in yb.iter_mut().zip(bb.chunks_exact(4)).zip(d) {
            *yj = dj[0] + f32_le(bj);
        }
    }
    let rows =
        ys.into_remainder().iter_mut().zip(bs.remainder().chunks_exact(4)).zip(ws.remainder().chunks_exact(row_bytes));
    for ((yj, bj), row) in rows {
        *yj = fast_dots::<W, 1, 1>([row], [x])[0][0] + f32_le(bj);
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
    #[cfg(all(target_arch = "arm", target_os = "none", target_abi = "eabihf"))]
    match dtype {
        Dtype::I8 => matvec_i8(weight, scale, x, bias, y),
        _ => mcu::matvec_float(weight, dtype, x, bias, y),
    }
    #[cfg(not(all(target_arch = "arm", target_os = "none", target_abi = "eabihf")))]
    match dtype {
        Dtype::F32 => matvec_float::<F32W>(weight, x, bias, y),
        Dtype::F16 => matvec_float::<F16W>(weight, x, bias, y),
        Dtype::Bf16 => matvec_float::<Bf16W>(weight, x, bias, y),
        Dtype::I8 => matvec_i8(weight, scale, x, bias, y),
    }
}

/// [`matvec`], then [`prelu`] with `slope` if there is one (fused into the
/// int8 kernel on the DSP path; same bits either way).
pub(crate) fn layer(
    weight: &[u8],
    dtype: Dtype,
    scale: &[u8],
    x: &[f32],
    bias: &[u8],
    y: &mut [f32],
    slope: Option<f32>,
) {
    #[cfg(ddaebm_dsp)]
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
#[cfg_attr(ddaebm_dsp, allow(dead_code))]
pub(crate) fn quantise(v: f32, inv: f32) -> i16 {
    let t = v * inv;
    let r = if t < 0.0 { t - 0.5 } else { t + 0.5 };
    (r as i32).clamp(-32767, 32767) as i16
}

/// Quantises up to [`QBLOCK`] inputs into `buf` (layout of the target's
/// integer dot product: natural order on portable targets, SMLAD pairs on
/// the DSP path).
#[cfg(not(ddaebm_dsp))]
#[inline]
fn quantise_block(x: &[f32], inv: f32, buf: &mut [i16; QBLOCK]) {
    for (q, &v) in buf.iter_mut().zip(x) {
        *q = quantise(v, inv);
    }
}

/// Σ q[i]·xq[i], exact in i32 (`row.len() <= QBLOCK`; see the bound above):
/// the plain integer reference every int8 fast path must equal.
#[cfg(not(ddaebm_dsp))]
#[inline]
fn dot_i8(row: &[u8], buf: &[i16; QBLOCK]) -> i32 {
    let mut acc = 0i32;
    for (&w, &xq) in row.iter().zip(buf.iter()) {
        acc += i32::from(w as i8) * i32::from(xq);
    }
    acc
}

/// Int8 rows per call of [`dots_i8`] in [`matvec_i8_multi`]: 4 on x86-64
/// (SSE2, each input chunk loaded once for 4 rows), 1 elsewhere.
#[cfg(not(ddaebm_dsp))]
const I8_ROWS: usize = if cfg!(target_arch = "x86_64") { 4 } else { 1 };

/// `R` rows × `S` quantised inputs, the first `len` (≤ `QBLOCK`) elements
/// of each, exact in i32.
#[cfg(not(ddaebm_dsp))]
#[inline(always)]
fn dots_i8<const R: usize, const S: usize>(rows: [&[u8]; R], bufs: [&[i16; QBLOCK]; S], len: usize) -> [[i32; S]; R] {
    #[cfg(target_arch = "x86_64")]
    if x86::level() > 0 {
        return x86::dots_i8::<R, S>(rows, bufs, len);
    }
    core::array::from_fn(|r| core::array::from_fn(|s| dot_i8(rows[r].get(..len).unwrap_or(rows[r]), bufs[s])))
}

/// `y = (sx · scale) ⊙ (q xq) + b` for I8 weights `q` (shape
/// `[y.len(), x.len()]`) with F32 per-row `scale`: the input is quantised to
/// i16 with one scale for the whole vector ([`quant_scale`], [`quantise`]),
/// each row's integer dot product is exact in i32 per block of [`QBLOCK`]
/// inputs, the block sums are converted to f32 and added in block order from
/// 0.0, then `y[j] = (sx · scale[j]) · acc + b[j]`. A NaN or infinite input
/// makes every output NaN.
#[cfg(not(ddaebm_dsp))]
pub(crate) fn matvec_i8(weight: &[u8], scale: &[u8], x: &[f32], bias: &[u8], y: &mut [f32]) {
    matvec_i8_multi::<1>(weight, scale, [x], bias, [y]);
}

/// [`matvec_i8`] for `S` inputs at once (each row streamed once for all of
/// them), every output bit-identical to a one-input call. All inputs must
/// have the same length and all outputs too (otherwise every output is NaN).
#[cfg(not(ddaebm_dsp))]
pub(crate) fn matvec_i8_multi<const S: usize>(
    weight: &[u8],
    scale: &[u8],
    xs: [&[f32]; S],
    bias: &[u8],
    mut ys: [&mut [f32]; S],
) {
    let n = xs.first().map_or(0, |x| x.len());
    let m = ys.first().map_or(0, |y| y.len());
    let q = xs.map(quant_scale);
    if xs.iter().any(|x| x.len() != n) || ys.iter().any(|y| y.len() != m) {
        ys.iter_mut().for_each(|y| y.iter_mut().for_each(|v| *v = f32::NAN));
        return;
    }
    ys.iter_mut().for_each(|y| y.iter_mut().for_each(|v| *v = 0.0));
    if n > 0 {
        let mut bufs = [[0i16; QBLOCK]; S];
        let mut start = 0;
        while start < n {
            let len = (n - start).min(QBLOCK);
            for ((buf, x), qs) in bufs.iter_mut().zip(&xs).zip(&q) {
                quantise_block(x.get(start..start + len).unwrap_or(&[]), qs.map_or(0.0, |q| q.1), buf);
            }
            let refs: [&[i16; QBLOCK]; S] = core::array::from_fn(|s| &bufs[s]);
            let row = |j: usize| weight.get(j * n + start..j * n + start + len).unwrap_or(&[]);
            let mut j = 0;
            while j + I8_ROWS <= m {
                let d = dots_i8::<I8_ROWS, S>(core::array::from_fn(|r| row(j + r)), refs, len);
                for (r, dr) in d.iter().enumerate() {
                    for (y, v) in ys.iter_mut().zip(dr) {
                        if let Some(yj) = y.get_mut(j + r) {
                            *yj += *v as f32;
                        }
                    }
                }
                j += I8_ROWS;
            }
            while j < m {
                let d = dots_i8::<1, S>([row(j)], refs, len);
                for (y, v) in ys.iter_mut().zip(&d[0]) {
                    if let Some(yj) = y.get_mut(j) {
                        *yj += *v as f32;
                    }
                }
                j += 1;
            }
            start += len;
        }
    }
    for (y, qs) in ys.iter_mut().zip(q) {
        match qs {
            Some((sx, _)) => {
                for ((yj, sj), bj) in y.iter_mut().zip(scale.chunks_exact(4)).zip(bias.chunks_exact(4)) {
                    *yj = (sx * f32_le(sj)) * *yj + f32_le(bj);
                }
            }
            None => y.iter_mut().for_each(|v| *v = f32::NAN),
        }
    }
}

/// As the portable [`matvec_i8`], on the Armv7E-M DSP path (SMLAD).
#[cfg(ddaebm_dsp)]
pub(crate) fn matvec_i8(weight: &[u8], scale: &[u8], x: &[f32], bias: &[u8], y: &mut [f32]) {
    matvec_i8_act(weight, scale, x, bias, y, None);
}

/// [`matvec_i8`] followed by [`prelu`] with `slope` (if any), on the DSP
/// path. Layers of at most [`QBLOCK`] inputs, a multiple of 4, with
/// word-aligned weights, scales and biases (every layer of `export`'s files
/// but a first layer whose input size is not a multiple of 4) run in
/// [`dsp::rows`]: two rows per pass over the quantised input, scale, bias and
/// PReLU applied in the same loop. Others run one row at a time, one element
/// at a time (slow, small code). Same bits either way.
#[cfg(ddaebm_dsp)]
pub(crate) fn matvec_i8_act(weight: &[u8], scale: &[u8], x: &[f32], bias: &[u8], y: &mut [f32], slope: Option<f32>) {
    let (n, m) = (x.len(), y.len());
    let Some((sx, inv)) = quant_scale(x) else {
        y.iter_mut().for_each(|v| *v = f32::NAN);
        return;
    };
    // No PReLU = slope 1.0, which leaves every value as it is (v · 1.0 == v).
    let slope = slope.unwrap_or(1.0);
    let word_aligned = |b: &[u8]| b.as_ptr() as usize % 4 == 0;
    let fits = weight.len() / n.max(1) >= m && scale.len() / 4 >= m && bias.len() / 4 >= m;
    if n <= QBLOCK && n % 4 == 0 && fits && word_aligned(weight) && word_aligned(scale) && word_aligned(bias) {
        // 8-byte aligned: cleared with the same builtin (`__aeabi_memclr8`)
        // as the other buffers of the runtime, so one fewer is linked.
        let mut buf = QBuf([0u32; QBLOCK / 2]);
        let buf = &mut buf.0;
        dsp::quantise_block(x, inv, buf);
        let pairs = m / 2;
        if pairs > 0 {
            dsp::rows(weight, n, pairs, false, buf, scale, bias, y, sx, slope);
        }
        if m % 2 == 1 {
            // The odd last row, paired with itself.
            let k = m - 1;
            let (s, b) = (f32_word(scale, k), f32_word(bias, k));
            let mut out = [0.0f32; 2];
            let (s2, b2) = (pair_bytes(s), pair_bytes(b));
            dsp::rows(weight.get(k * n..).unwrap_or(&[]), n, 1, true, buf, &s2.0, &b2.0, &mut out, sx, slope);
            if let Some(yk) = y.get_mut(k) {
                *yk = out[0];
            }
        }
        return;
    }
    for (j, yj) in y.iter_mut().enumerate() {
        let row = weight.get(j * n..j * n + n).unwrap_or(&[]);
        // Exact i32 sums per block of QBLOCK inputs, added in order from 0.0.
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
#[cfg(ddaebm_dsp)]
#[inline(never)]
fn f32_word(bytes: &[u8], k: usize) -> f32 {
    match bytes.get(4 * k..).and_then(<[u8]>::first_chunk::<4>) {
        Some(b) => f32::from_le_bytes(*b),
        None => f32::NAN,
    }
}

/// The quantised activations of the DSP path, 8-byte aligned.
#[cfg(ddaebm_dsp)]
#[repr(C, align(8))]
struct QBuf([u32; QBLOCK / 2]);

/// 8 bytes at a word-aligned address.
#[cfg(ddaebm_dsp)]
#[repr(align(4))]
struct Aligned8([u8; 8]);

/// `[v, v]` as little-endian f32 bytes, word-aligned.
#[cfg(ddaebm_dsp)]
fn pair_bytes(v: f32) -> Aligned8 {
    let b = v.to_le_bytes();
    Aligned8([b[0], b[1], b[2], b[3], b[0], b[1], b[2], b[3]])
}

/// PReLU in place: `y = if y >= 0 { y } else { slope * y }` (NaN stays NaN).
pub(crate) fn prelu(y: &mut [f32], slope: f32) {
    for v in y {
        if *v < 0.0 {
            *v *= slope;
        }
    }
}

/// Cortex-M4F (FPv4-SP) float loops: `VLDM` loads eight weights or inputs
/// in one instruction and `VMLA.F32` (unfused: the product is rounded, then
/// the sum, exactly as the portable `acc += w * x`) accumulates the eight
/// partial sums of two rows at once in s16–s31, so each input chunk is
/// loaded once per row pair. The reduction and the tail are the portable
/// code. Bit-identical to the portable kernel (firmware parity test).
#[cfg(all(target_arch = "arm", target_os = "none", target_abi = "eabihf"))]
mod mcu {
    use super::{bf16_le, f16_le, f32_le, reduce, Dtype, LANES};

    /// Initial partial sums (+0.0), loaded with one `VLDM`.
    static ZEROS: [f32; 16] = [0.0; 16];

    /// The fixed reduction ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)) of both
    /// rows' partial sums (s16–s23 into s16, s24–s31 into s24), as one asm
    /// template string shared by the F32 and F16 row-pair loops.
    macro_rules! reduce_rows2 {
        () => {
            concat!(
                "vadd.f32 s16, s16, s20\n",
                "vadd.f32 s18, s18, s22\n",
                "vadd.f32 s17, s17, s21\n",
                "vadd.f32 s19, s19, s23\n",
                "vadd.f32 s16, s16, s18\n",
                "vadd.f32 s17, s17, s19\n",
                "vadd.f32 s16, s16, s17\n",
                "vadd.f32 s24, s24, s28\n",
                "vadd.f32 s26, s26, s30\n",
                "vadd.f32 s25, s25, s29\n",
                "vadd.f32 s27, s27, s31\n",
                "vadd.f32 s24, s24, s26\n",
                "vadd.f32 s25, s25, s27\n",
                "vadd.f32 s24, s24, s25",
            )
        };
    }

    /// Two rows (`w0`, `w1`, 4-byte aligned, `n = chunks · 8 + tail` F32
    /// each) against `x` (`n` values): both finished dot products (the 8
    /// partial sums, their fixed reduction, then the `tail` elements in
    /// order), bias not added.
    #[allow(unsafe_code)]
    #[inline(always)]
    fn f32_rows2(w0: &[u8], w1: &[u8], x: &[f32], chunks: usize, tail: usize) -> [f32; 2] {
        let n = chunks * LANES + tail;
        if w0.len() < n * 4 || w1.len() < n * 4 || x.len() < n {
            return [f32::NAN; 2];
        }
        let (r0, r1): (u32, u32);
        // SAFETY: reads `n · 4` bytes from each of `w0` and `w1` and `n` f32
        // from `x` (`n = chunks · 8 + tail`), all checked in bounds just above; `w0`
        // and `w1` are 4-byte aligned (checked by the caller) as VLDM needs,
        // `x` is an f32 slice; the 16 initial zeros come from the static
        // `ZEROS` (aligned f32 array). Writes no memory, only the declared
        // registers (s0–s31, the pointer, counter and result operands) and
        // the flags; no stack. (The sums leave through core registers:
        // stable Rust cannot bind f32 operands to s-registers here.)
        unsafe {
            core::arch::asm!(
                "vldmia {zeros}, {{s16-s31}}",
                "cmp {n}, #0",
                "beq 3f",
                "2:",
                "vldmia {x}!, {{s0-s7}}",
                "vldmia {w0}!, {{s8-s15}}",
                "vmla.f32 s16, s0, s8",
                "vmla.f32 s17, s1, s9",
                "vmla.f32 s18, s2, s10",
                "vmla.f32 s19, s3, s11",
                "vmla.f32 s20, s4, s12",
                "vmla.f32 s21, s5, s13",
                "vmla.f32 s22, s6, s14",
                "vmla.f32 s23, s7, s15",
                "vldmia {w1}!, {{s8-s15}}",
                "vmla.f32 s24, s0, s8",
                "vmla.f32 s25, s1, s9",
                "vmla.f32 s26, s2, s10",
                "vmla.f32 s27, s3, s11",
                "vmla.f32 s28, s4, s12",
                "vmla.f32 s29, s5, s13",
                "vmla.f32 s30, s6, s14",
                "vmla.f32 s31, s7, s15",
                "subs {n}, {n}, #1",
                "bne 2b",
                "3:",
                reduce_rows2!(),
                // The tail, in order: s += w[i]·x[i].
                "cmp {m}, #0",
                "beq 5f",
                "4:",
                "vldmia {x}!, {{s0}}",
                "vldmia {w0}!, {{s1}}",
                "vldmia {w1}!, {{s2}}",
                "vmla.f32 s16, s0, s1",
                "vmla.f32 s24, s0, s2",
                "subs {m}, {m}, #1",
                "bne 4b",
                "5:",
                "vmov {r0}, s16",
                "vmov {r1}, s24",
                zeros = in(reg) ZEROS.as_ptr(),
                r0 = lateout(reg) r0,
                r1 = lateout(reg) r1,
                x = inout(reg) x.as_ptr() => _,
                w0 = inout(reg) w0.as_ptr() => _,
                w1 = inout(reg) w1.as_ptr() => _,
                n = inout(reg) chunks => _,
                m = inout(reg) tail => _,
                out("s0") _, out("s1") _, out("s2") _, out("s3") _,
                out("s4") _, out("s5") _, out("s6") _, out("s7") _,
                out("s8") _, out("s9") _, out("s10") _, out("s11") _,
                out("s12") _, out("s13") _, out("s14") _, out("s15") _,
                out("s16") _, out("s17") _, out("s18") _, out("s19") _,
                out("s20") _, out("s21") _, out("s22") _, out("s23") _,
                out("s24") _, out("s25") _, out("s26") _, out("s27") _,
                out("s28") _, out("s29") _, out("s30") _, out("s31") _,
                options(nostack, readonly),
            );
        }
        [f32::from_bits(r0), f32::from_bits(r1)]
    }

    /// As [`f32_rows2`] for F16 rows (`n · 2` bytes each, 4-byte aligned):
    /// `VLDM` loads eight halves into s8–s11, `VCVTT` / `VCVTB` widen the top
    /// / bottom halves exactly (s12–s15 take the odd elements); the tail
    /// halves come one at a time through `LDRH` + `VCVTB`.
    #[allow(unsafe_code)]
    #[inline(always)]
    fn f16_rows2(w0: &[u8], w1: &[u8], x: &[f32], chunks: usize, tail: usize) -> [f32; 2] {
        let n = chunks * LANES + tail;
        if w0.len() < n * 2 || w1.len() < n * 2 || x.len() < n {
            return [f32::NAN; 2];
        }
        let (r0, r1): (u32, u32);
        // SAFETY: as in `f32_rows2`, with `n · 2` bytes per row (checked
        // above; the tail's LDRH needs no alignment) and 4-byte aligned rows
        // (checked by the caller).
        unsafe {
            core::arch::asm!(
                "vldmia {zeros}, {{s16-s31}}",
                "cmp {n}, #0",
                "beq 3f",
                "2:",
                "vldmia {x}!, {{s0-s7}}",
                "vldmia {w0}!, {{s8-s11}}",
                "vcvtt.f32.f16 s12, s8",
                "vcvtb.f32.f16 s8, s8",
                "vcvtt.f32.f16 s13, s9",
                "vcvtb.f32.f16 s9, s9",
                "vcvtt.f32.f16 s14, s10",
                "vcvtb.f32.f16 s10, s10",
                "vcvtt.f32.f16 s15, s11",
                "vcvtb.f32.f16 s11, s11",
                "vmla.f32 s16, s0, s8",
                "vmla.f32 s17, s1, s12",
                "vmla.f32 s18, s2, s9",
                "vmla.f32 s19, s3, s13",
                "vmla.f32 s20, s4, s10",
                "vmla.f32 s21, s5, s14",
                "vmla.f32 s22, s6, s11",
                "vmla.f32 s23, s7, s15",
                "vldmia {w1}!, {{s8-s11}}",
                "vcvtt.f32.f16 s12, s8",
                "vcvtb.f32.f16 s8, s8",
                "vcvtt.f32.f16 s13, s9",
                "vcvtb.f32.f16 s9, s9",
                "vcvtt.f32.f16 s14, s10",
                "vcvtb.f32.f16 s10, s10",
                "vcvtt.f32.f16 s15, s11",
                "vcvtb.f32.f16 s11, s11",
                "vmla.f32 s24, s0, s8",
                "vmla.f32 s25, s1, s12",
                "vmla.f32 s26, s2, s9",
                "vmla.f32 s27, s3, s13",
                "vmla.f32 s28, s4, s10",
                "vmla.f32 s29, s5, s14",
                "vmla.f32 s30, s6, s11",
                "vmla.f32 s31, s7, s15",
                "subs {n}, {n}, #1",
                "bne 2b",
                "3:",
                reduce_rows2!(),
                // The tail, in order: s += w[i]·x[i].
                "cmp {m}, #0",
                "beq 5f",
                "4:",
                "vldmia {x}!, {{s0}}",
                "ldrh {t}, [{w0}], #2",
                "vmov s1, {t}",
                "vcvtb.f32.f16 s1, s1",
                "ldrh {t}, [{w1}], #2",
                "vmov s2, {t}",
                "vcvtb.f32.f16 s2, s2",
                "vmla.f32 s16, s0, s1",
                "vmla.f32 s24, s0, s2",
                "subs {m}, {m}, #1",
                "bne 4b",
                "5:",
                "vmov {r0}, s16",
                "vmov {r1}, s24",
                zeros = in(reg) ZEROS.as_ptr(),
                r0 = lateout(reg) r0,
                r1 = lateout(reg) r1,
                x = inout(reg) x.as_ptr() => _,
                w0 = inout(reg) w0.as_ptr() => _,
                w1 = inout(reg) w1.as_ptr() => _,
                n = inout(reg) chunks => _,
                m = inout(reg) tail => _,
                t = out(reg) _,
                out("s0") _, out("s1") _, out("s2") _, out("s3") _,
                out("s4") _, out("s5") _, out("s6") _, out("s7") _,
                out("s8") _, out("s9") _, out("s10") _, out("s11") _,
                out("s12") _, out("s13") _, out("s14") _, out("s15") _,
                out("s16") _, out("s17") _, out("s18") _, out("s19") _,
                out("s20") _, out("s21") _, out("s22") _, out("s23") _,
                out("s24") _, out("s25") _, out("s26") _, out("s27") _,
                out("s28") _, out("s29") _, out("s30") _, out("s31") _,
                options(nostack, readonly),
            );
        }
        [f32::from_bits(r0), f32::from_bits(r1)]
    }

    /// Partial sums of the element-wise path.
    #[repr(C, align(8))]
    struct Lanes([f32; LANES]);

    /// One float weight of `dtype` from its bytes (exact; NaN for I8, which
    /// never comes here).
    #[inline(always)]
    fn elem(dtype: Dtype, b: &[u8]) -> f32 {
        match dtype {
            Dtype::F32 => f32_le(b),
            Dtype::F16 => f16_le(b),
            Dtype::Bf16 => bf16_le(b),
            Dtype::I8 => f32::NAN,
        }
    }

    /// `y = W x + b` for float weights on the MCU, one function for every
    /// float dtype (small code): F32 / F16 files whose rows are all 4-byte
    /// aligned run in row pairs through `f32_rows2` / `f16_rows2` (an odd
    /// last row paired with itself); BF16 and unaligned rows one row and
    /// one element at a time (slow, same order). Both in the canonical
    /// order of the module docs.
    #[inline(never)]
    pub(super) fn matvec_float(weight: &[u8], dtype: Dtype, x: &[f32], bias: &[u8], y: &mut [f32]) {
        let n = x.len();
        let size = dtype.size();
        let row_bytes = n * size;
        let (chunks, tail) = (n / LANES, n % LANES);
        let fast = matches!(dtype, Dtype::F32 | Dtype::F16) && weight.as_ptr() as usize % 4 == 0 && row_bytes % 4 == 0;
        let mut rows = weight.chunks_exact(row_bytes.max(1));
        let mut outs = y.iter_mut().zip(bias.chunks_exact(4));
        while let Some((y0, b0)) = outs.next() {
            let r0 = if row_bytes == 0 { &[][..] } else { rows.next().unwrap_or(&[]) };
            if !fast {
                // 8-byte aligned: zeroed inline, no `__aeabi_memclr4` linked.
                let mut acc = Lanes([0.0f32; LANES]);
                let body = chunks * LANES;
                let mut s = 0.0;
                for (i, (w, xi)) in r0.chunks_exact(size).zip(x).enumerate() {
                    let p = elem(dtype, w) * *xi;
                    if i < body {
                        acc.0[i % LANES] += p;
                        if i + 1 == body {
                            s = reduce(acc.0);
                        }
                    } else {
                        s += p;
                    }
                }
                *y0 = s + f32_le(b0);
                continue;
            }
            let second = if row_bytes == 0 { None } else { rows.next().zip(outs.next()) };
            let r1 = second.as_ref().map_or(r0, |(r, _)| *r);
            let a = if dtype == Dtype::F16 {
                f16_rows2(r0, r1, x, chunks, tail)
            } else {
                f32_rows2(r0, r1, x, chunks, tail)
            };
            *y0 = a[0] + f32_le(b0);
            if let Some((_, (y1, b1))) = second {
                *y1 = a[1] + f32_le(b1);
            }
        }
    }
}

/// The Armv7E-M DSP extension's int8 path (`ddaebm_dsp`, set by build.rs for
/// `thumbv7em-*` targets; stable Rust does not expose `target_feature =
/// "dsp"` as a cfg): `SXTB16` sign-extends bytes 0 and 2 (or, rotated, 1
/// and 3) of a weight word into two i16 lanes and `SMLAD` adds both 16 × 16
/// products to an i32 accumulator in one instruction. The activations are
/// stored in the matching pair order: word `2g` = (xq[4g], xq[4g+2]), word
/// `2g+1` = (xq[4g+1], xq[4g+3]). The sum is exact, so it equals the
/// portable `dot_i8` bit for bit.
#[cfg(ddaebm_dsp)]
mod dsp {
    use super::QBLOCK;

    /// Quantises `x` (at most `QBLOCK` values, a multiple of 4: a partial
    /// last group is not written) into SMLAD pair order, as
    /// [`quantise`](super::quantise) without its clamp: with `inv = 32767 /
    /// max|x|` (or 0) every `|x · inv|` is at most `32767 + 2⁻⁹` after
    /// rounding, so `trunc(x · inv ± 0.5)` already lies in −32767..=32767 and
    /// the clamp never changes a value (same bits as the portable path).
    #[inline]
    pub(super) fn quantise_block(x: &[f32], inv: f32, buf: &mut [u32; QBLOCK / 2]) {
        let q = |v: f32| {
            let t = v * inv;
            let r = if t < 0.0 { t - 0.5 } else { t + 0.5 };
            (r as i32) as u32
        };
        for (g, w) in x.chunks_exact(4).zip(buf.chunks_exact_mut(2)) {
            if let ([a, b, c, d], [w0, w1]) = (g, w) {
                *w0 = (q(*a) & 0xffff) | (q(*c) << 16);
                *w1 = (q(*b) & 0xffff) | (q(*d) << 16);
            }
        }
    }

    /// One row's 8 weights (`LDRD` from `{p}`, post-incremented) against the
    /// 8 activations in r2–r5 (i16 pairs), into the accumulator `{a}`.
    #[rustfmt::skip]
    macro_rules! i8_row8 {
        ($p:literal, $a:literal) => {
            concat!(
                "ldrd {w0}, {w1}, [{", $p, "}], #8\n",
                "sxtb16 {t}, {w0}\n",
                "sxtb16 {w0}, {w0}, ror #8\n",
                "smlad {", $a, "}, {t}, r2, {", $a, "}\n",
                "smlad {", $a, "}, {w0}, r3, {", $a, "}\n",
                "sxtb16 {t}, {w1}\n",
                "sxtb16 {w1}, {w1}, ror #8\n",
                "smlad {", $a, "}, {t}, r4, {", $a, "}\n",
                "smlad {", $a, "}, {w1}, r5, {", $a, "}",
            )
        };
    }

    /// 8 inputs of the row pair: one `LDM` of 4 activation words, then both rows.
    macro_rules! i8_step8 {
        () => {
            concat!("ldm {xp}!, {{r2, r3, r4, r5}}\n", i8_row8!("p0", "a0"), "\n", i8_row8!("p1", "a1"))
        };
    }

    /// One row's 4 weights (`LDR` from `{p}`) against r2–r3, into `{a}`.
    #[rustfmt::skip]
    macro_rules! i8_row4 {
        ($p:literal, $a:literal) => {
            concat!(
                "ldr {w0}, [{", $p, "}], #4\n",
                "sxtb16 {t}, {w0}\n",
                "sxtb16 {w0}, {w0}, ror #8\n",
                "smlad {", $a, "}, {t}, r2, {", $a, "}\n",
                "smlad {", $a, "}, {w0}, r3, {", $a, "}",
            )
        };
    }

    /// 4 inputs of the row pair: one `LDM` of 2 activation words, then both rows.
    macro_rules! i8_step4 {
        () => {
            concat!("ldm {xp}!, {{r2, r3}}\n", i8_row4!("p0", "a0"), "\n", i8_row4!("p1", "a1"))
        };
    }

    /// `pairs` row pairs of an int8 layer with `n` inputs (`n` ≤ `QBLOCK`, a
    /// multiple of 4), whole: `y[j] = (sx · scale[j]) · Σ q[j][i]·xq[i] +
    /// bias[j]`, times `slope` when negative, for rows `0..2·pairs` of
    /// `weight` (`n` bytes each, consecutive). With `same` (and one pair),
    /// both rows of the pair are the first row of `weight`. `weight`,
    /// `scale` and `bias` must be word-aligned (checked: nothing is written
    /// otherwise).
    ///
    /// Per 8 inputs of a row pair: one `LDM` of 4 activation words, per row
    /// one `LDRD` of 8 weights, 4 `SXTB16` and 4 `SMLAD` (19 instructions for
    /// 16 MACs, the 16-input loop 40 for 32); per pair ≈ 30 more for the
    /// scale, bias, PReLU and the pointers. The i32 sums are exact, the f32
    /// operations are those of the portable kernel in the same order.
    #[allow(unsafe_code, clippy::too_many_arguments)]
    #[inline(never)]
    pub(super) fn rows(
        weight: &[u8],
        n: usize,
        pairs: usize,
        same: bool,
        buf: &[u32; QBLOCK / 2],
        scale: &[u8],
        bias: &[u8],
        y: &mut [f32],
        sx: f32,
        slope: f32,
    ) {
        let rows = if same { 1 } else { 2 * pairs };
        let aligned =
            [weight.as_ptr() as usize, scale.as_ptr() as usize, bias.as_ptr() as usize].iter().all(|p| p % 4 == 0);
        if pairs == 0
            || (same && pairs != 1)
            || n > QBLOCK
            || n % 4 != 0
            || !aligned
            || weight.len() < rows * n
            || scale.len() < 8 * pairs
            || bias.len() < 8 * pairs
            || y.len() < 2 * pairs
        {
            return;
        }
        let p0 = weight.as_ptr();
        let p1 = if same { p0 } else { p0.wrapping_add(n) };
        // The loop's memory: scale, bias and output pointers, pairs left,
        // row length in bytes (= inputs).
        let mut ctx: [usize; 7] = [
            scale.as_ptr() as usize,
            bias.as_ptr() as usize,
            y.as_mut_ptr() as usize,
            pairs,
            n,
            sx.to_bits() as usize,
            slope.to_bits() as usize,
        ];
        // SAFETY: checked above: `pairs` ≥ 1; rows of `n` (a multiple of 4,
        // ≤ QBLOCK) bytes, `rows` of them in `weight`, word-aligned (base
        // aligned, n % 4 == 0) as LDRD needs; `8 · pairs` bytes of `scale` and
        // of `bias`, word-aligned as VLDM needs; `2 · pairs` f32 of `y`. Per
        // pair the loop reads `n` bytes of each of its two rows (the same row
        // twice with `same`, then `pairs == 1`), `n / 2` words of
        // `buf` (≤ QBLOCK / 2) from its start, 2 scales and 2 biases, and
        // writes 2 outputs, advancing the pointers in `ctx` (a local array
        // the asm reads and writes through the pointer it gets, which it
        // pushes on the stack and pops before the end; `sx` and `slope` come
        // from it too). The counter runs from
        // `n − 16` down in steps of 16 while non-negative; then its low 4
        // bits are those of `n`, which pick the 8- and 4-input steps.
        // Clobbers only the declared registers (s0–s5 among the FP ones) and
        // the flags (SMLAD may set Q, which nothing reads).
        unsafe {
            core::arch::asm!(
                "push {{{t}}}",
                "vldr s6, [{t}, #20]",
                "vldr s7, [{t}, #24]",
                "6:",
                "movs {a0}, #0",
                "movs {a1}, #0",
                "subs {n}, {n}, #16",
                "blo 3f",
                "2:",
                i8_step8!(),
                i8_step8!(),
                "subs {n}, {n}, #16",
                "bhs 2b",
                // 8 inputs left over?
                "3:",
                "tst {n}, #8",
                "beq 4f",
                i8_step8!(),
                // 4 inputs left over?
                "4:",
                "tst {n}, #4",
                "beq 5f",
                i8_step4!(),
                "5:",
                // y = (sx · s) · (sum as f32) + b; if y < 0: y · slope.
                "ldr {t}, [sp]",
                "vmov s0, s1, {a0}, {a1}",
                "vcvt.f32.s32 s0, s0",
                "vcvt.f32.s32 s1, s1",
                "ldm {t}, {{r2, r3, r4}}",
                "vldmia r2!, {{s2, s3}}",
                "vldmia r3!, {{s4, s5}}",
                "vmul.f32 s2, s6, s2",
                "vmul.f32 s3, s6, s3",
                "vmul.f32 s0, s2, s0",
                "vmul.f32 s1, s3, s1",
                "vadd.f32 s0, s0, s4",
                "vadd.f32 s1, s1, s5",
                "vcmp.f32 s0, #0",
                "vmrs APSR_nzcv, fpscr",
                "it mi",
                "vmulmi.f32 s0, s0, s7",
                "vcmp.f32 s1, #0",
                "vmrs APSR_nzcv, fpscr",
                "it mi",
                "vmulmi.f32 s1, s1, s7",
                "vstmia r4!, {{s0, s1}}",
                "stm {t}, {{r2, r3, r4}}",
                // Next pair: rewind the activations, skip one row each.
                "ldr r5, [{t}, #16]",
                "sub {xp}, {xp}, r5, lsl #1",
                "add {p0}, {p0}, r5",
                "add {p1}, {p1}, r5",
                "mov {n}, r5",
                "ldr r2, [{t}, #12]",
                "subs r2, r2, #1",
                "str r2, [{t}, #12]",
                "bne 6b",
                "add sp, sp, #4",
                xp = inout(reg) buf.as_ptr() => _,
                p0 = inout(reg) p0 => _,
                p1 = inout(reg) p1 => _,
                n = inout(reg) n => _,
                a0 = out(reg) _,
                a1 = out(reg) _,
                w0 = out(reg) _,
                w1 = out(reg) _,
                t = inout(reg) ctx.as_mut_ptr() => _,
                out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("s0") _, out("s1") _, out("s2") _, out("s3") _, out("s4") _, out("s5") _,
                out("s6") _, out("s7") _,
            );
        }
        let _ = ctx;
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
