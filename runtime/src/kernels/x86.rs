//! x86-64 kernels: the same arithmetic as the portable kernels, bit for
//! bit, chosen at run time (`cpuid` / `xgetbv`, no `-C target-cpu` needed).
//!
//! * Float rows, with AVX, F16C and FMA3 (level 2; without them the portable
//!   kernel runs, its `fma` then `libm::fmaf`): the eight partial sums
//!   `a[0..8]` of the module docs are one 8-wide register (lane k = `a[k]`),
//!   each step one `vfmadd231ps` (`a = fma(w, x, a)`, rounded once, as the
//!   portable kernel), the reduction `((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7))`
//!   is `v = lo + hi` on the two 128-bit halves, then `(v0+v2) + (v1+v3)`;
//!   the tail `vfmadd231ss`. `R` rows × `S` inputs are blocked so that each
//!   loaded input chunk serves `R` rows and each widened weight chunk `S`
//!   inputs. Halves are widened by `vcvtph2ps` (exact for every half, NaNs
//!   quieted with their payload, as the portable conversion).
//! * Batches ([`float_layer`], [`int8_layer`]): a whole layer in one
//!   `target_feature` function, with AVX-512 (level 4) where the CPU has it:
//!   each 16-wide register then holds two outputs' eight partial sums.
//! * Int8: weights are sign-extended to i16 and `_mm_madd_epi16` (SSE2,
//!   level 1), `vpmaddwd` (AVX2, level 3) or `vpdpwssd` (AVX-512 VNNI) adds
//!   products pairwise into i32 lanes; the sum is exact (the `QBLOCK` bound
//!   holds for every partial sum), so the order of the integer additions
//!   does not matter.
#![allow(unsafe_code)]
#![allow(unused_unsafe)] // intrinsics are safe to call from Rust 1.87 on; unsafe blocks keep 1.85 building

use core::arch::x86_64::*;
use core::sync::atomic::{AtomicU8, Ordering};

use super::{Bf16W, FloatWeights, F16W, F32W, LANES, QBLOCK};

/// What the AVX float kernels need to know of a weight dtype (the
/// supertrait of [`FloatWeights`] on x86-64).
pub(crate) trait SseLoad {
    /// IEEE half (not bfloat16) elements.
    const IEEE_HALF: bool = false;
}

impl SseLoad for F32W {}

impl SseLoad for F16W {
    const IEEE_HALF: bool = true;
}

impl SseLoad for Bf16W {}

/// Eight bfloat16 at `p` as two f32 vectors (each is the upper half of its f32).
///
/// # Safety
/// `p` must be valid for reading 16 bytes.
#[inline(always)]
pub(super) unsafe fn load_bf16(p: *const u8) -> [__m128; 2] {
    // SAFETY: the caller guarantees 16 readable bytes; loadu has no alignment requirement.
    unsafe {
        let v = _mm_loadu_si128(p.cast());
        let z = _mm_setzero_si128();
        [_mm_castsi128_ps(_mm_unpacklo_epi16(z, v)), _mm_castsi128_ps(_mm_unpackhi_epi16(z, v))]
    }
}

/// The fixed reduction of the eight partial sums held as `[a0..a4, a4..a8]`.
#[inline(always)]
fn reduce(acc: [__m128; 2]) -> f32 {
    // SAFETY: SSE2 is part of the x86-64 baseline; no memory is accessed.
    unsafe {
        let v = _mm_add_ps(acc[0], acc[1]); // a0+a4, a1+a5, a2+a6, a3+a7
        let u = _mm_add_ps(v, _mm_movehl_ps(v, v)); // (a0+a4)+(a2+a6), (a1+a5)+(a3+a7), …
        _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, 0b01)))
    }
}

/// 0: not yet detected, 1: SSE2 only, 2: AVX + F16C + FMA3 usable, 3: and AVX2,
/// 4: and AVX-512 F / BW / VL / VNNI.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The level the kernels use: the detected one capped by [`set_cap`]
/// ([`crate::kernel_path`]; 0 = the portable kernels only), kept in one
/// atomic so the kernels read one value per call. `u8::MAX`: not yet set.
static ACTIVE: AtomicU8 = AtomicU8::new(u8::MAX);

/// The SIMD level the CPU supports (cached after the first call).
#[inline]
pub(crate) fn detected_level() -> u8 {
    match LEVEL.load(Ordering::Relaxed) {
        0 => {
            let l = detect();
            LEVEL.store(l, Ordering::Relaxed);
            l
        }
        l => l,
    }
}

/// The SIMD level in use: the detected one unless [`set_cap`] lowered it;
/// 0 means the portable kernels.
#[inline]
pub(crate) fn level() -> u8 {
    match ACTIVE.load(Ordering::Relaxed) {
        u8::MAX => {
            let l = detected_level();
            // Unless a cap was set meanwhile (then it stands).
            let _ = ACTIVE.compare_exchange(u8::MAX, l, Ordering::Relaxed, Ordering::Relaxed);
            ACTIVE.load(Ordering::Relaxed)
        }
        l => l,
    }
}

/// Caps the level the kernels use (`u8::MAX`: no cap; 0: portable only).
pub(crate) fn set_cap(cap: u8) {
    ACTIVE.store(detected_level().min(cap), Ordering::Relaxed);
}

/// Whether the CPU and the OS support AVX, F16C and FMA3.
#[inline]
pub(crate) fn has_avx() -> bool {
    level() >= 2
}

/// Whether the CPU and the OS support AVX2 (and AVX, F16C).
#[inline]
pub(crate) fn has_avx2() -> bool {
    level() >= 3
}

/// Whether the CPU and the OS support AVX-512 F, BW, VL and VNNI (and the
/// runtime was built with the intrinsics, `ddaebm_avx512`).
#[inline]
pub(crate) fn has_avx512() -> bool {
    level() >= 4
}

#[cold]
fn detect() -> u8 {
    // SAFETY: `cpuid` exists on every x86-64 CPU (leaf 7 answers zeros where unsupported).
    let (c, c7) = unsafe { (__cpuid(1), __cpuid_count(7, 0)) };
    let (fma, osxsave) = (c.ecx & (1 << 12) != 0, c.ecx & (1 << 27) != 0);
    let (avx, f16c) = (c.ecx & (1 << 28) != 0, c.ecx & (1 << 29) != 0);
    // SAFETY: OSXSAVE set means the OS enabled XSAVE, so `xgetbv` exists.
    if !(osxsave && avx && f16c && fma && unsafe { xcr0() } & 0b110 == 0b110) {
        return 1; // no AVX / F16C / FMA3, or the OS does not save YMM state
    }
    if c7.ebx & (1 << 5) == 0 {
        return 2;
    }
    // AVX-512 F, BW, VL and VNNI, with the OS saving the opmask and ZMM state.
    let avx512 =
        c7.ebx & (1 << 16) != 0 && c7.ebx & (1 << 30) != 0 && c7.ebx & (1 << 31) != 0 && c7.ecx & (1 << 11) != 0;
    // SAFETY: as above (OSXSAVE checked).
    if cfg!(ddaebm_avx512) && avx512 && unsafe { xcr0() } & 0xe6 == 0xe6 {
        4
    } else {
        3
    }
}

/// # Safety
/// The CPU must support `xgetbv` (CPUID.1:ECX.OSXSAVE).
#[target_feature(enable = "xsave")]
unsafe fn xcr0() -> u64 {
    // SAFETY: forwarded (OSXSAVE checked by the caller).
    unsafe { _xgetbv(0) }
}

/// As `kernels::dots` (same bits): `R` rows × `S` inputs, on AVX + FMA3.
/// `None` when those are not in use or a length does not match (the
/// portable kernel then answers, with NaN for a bad length).
#[inline(always)]
pub(crate) fn dots<W: FloatWeights, const R: usize, const S: usize>(
    rows: [&[u8]; R],
    xs: [&[f32]; S],
) -> Option<[[f32; S]; R]> {
    if !has_avx() {
        return None; // no FMA3 (or forced): the portable kernel answers
    }
    let n = xs.first().map_or(0, |x| x.len());
    if xs.iter().any(|x| x.len() != n) || rows.iter().any(|r| r.len() < n * W::SIZE) {
        return None;
    }
    let chunks = n / LANES;
    let body = chunks * LANES;
    // SAFETY: AVX, F16C and FMA3 are available (`has_avx`); the lengths
    // were checked above.
    let acc = unsafe { body_avx::<W, R, S>(rows, xs, chunks) };
    let mut out = [[0.0f32; S]; R];
    for ((out_r, acc_r), row) in out.iter_mut().zip(acc).zip(&rows) {
        let row_tail = row.get(body * W::SIZE..n * W::SIZE).unwrap_or(&[]);
        for ((o, a), x) in out_r.iter_mut().zip(acc_r).zip(&xs) {
            // SAFETY: FMA3 is available (`has_avx`).
            *o = unsafe { add_tail_fma::<W>(reduce(a), row_tail, x.get(body..).unwrap_or(&[])) };
        }
    }
    Some(out)
}

/// `s = fma(w[i], x[i], s)` over the tail elements, in order, with
/// `vfmadd231ss` (as `kernels::add_tail`, without `libm::fmaf`'s dispatch).
///
/// # Safety
/// FMA3 must be available.
#[target_feature(enable = "fma")]
#[inline]
unsafe fn add_tail_fma<W: FloatWeights>(s: f32, row_tail: &[u8], x_tail: &[f32]) -> f32 {
    let mut v = _mm_set_ss(s);
    for (w, xi) in row_tail.chunks_exact(W::SIZE).zip(x_tail) {
        v = _mm_fmadd_ss(_mm_set_ss(W::one(w)), _mm_set_ss(*xi), v);
    }
    _mm_cvtss_f32(v)
}

/// The int8 sums over the first `16 · wide` elements with AVX2: 16 weights
/// sign-extended by one `vpmovsxbw`, `vpmaddwd` into eight i32 lanes; the
/// two 128-bit halves added (exact integer sums, any order).
///
/// # Safety
/// AVX2 must be available; every row must hold `16 · wide` bytes and
/// `16 · wide ≤ QBLOCK`.
#[target_feature(enable = "avx2")]
unsafe fn body_i8_avx2<const R: usize, const S: usize>(
    rows: [&[u8]; R],
    xq: [&[i16; QBLOCK]; S],
    wide: usize,
) -> [[__m128i; S]; R] {
    // SAFETY: group `g < wide` lies within every row and input (caller's
    // contract); unaligned loads.
    unsafe {
        let mut acc = [[_mm256_setzero_si256(); S]; R];
        for g in 0..wide {
            let mut xv = [_mm256_setzero_si256(); S];
            for (v, x) in xv.iter_mut().zip(&xq) {
                *v = _mm256_loadu_si256(x.as_ptr().add(16 * g).cast());
            }
            for (acc_r, row) in acc.iter_mut().zip(&rows) {
                let w = _mm256_cvtepi8_epi16(_mm_loadu_si128(row.as_ptr().add(16 * g).cast()));
                for (a, x) in acc_r.iter_mut().zip(&xv) {
                    *a = _mm256_add_epi32(*a, _mm256_madd_epi16(w, *x));
                }
            }
        }
        let mut out = [[_mm_setzero_si128(); S]; R];
        for (o_r, a_r) in out.iter_mut().zip(&acc) {
            for (o, a) in o_r.iter_mut().zip(a_r) {
                *o = _mm_add_epi32(_mm256_castsi256_si128(*a), _mm256_extracti128_si256(*a, 1));
            }
        }
        out
    }
}

/// The `R × S` sets of eight partial sums over `chunks` chunks, on 8-wide
/// AVX registers (`vfmadd231ps`), returned as two 4-lane halves each.
///
/// # Safety
/// AVX, F16C and FMA3 must be available; every row must hold `chunks · LANES ·
/// W::SIZE` bytes and every input `chunks · LANES` values.
#[target_feature(enable = "avx,f16c,fma")]
unsafe fn body_avx<W: FloatWeights, const R: usize, const S: usize>(
    rows: [&[u8]; R],
    xs: [&[f32]; S],
    chunks: usize,
) -> [[[__m128; 2]; S]; R] {
    // SAFETY: chunk `c < chunks` of a row / input lies within the lengths
    // the caller guarantees; the unaligned loads have no alignment needs.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); S]; R];
        for c in 0..chunks {
            let mut xv = [_mm256_setzero_ps(); S];
            for (v, x) in xv.iter_mut().zip(&xs) {
                *v = _mm256_loadu_ps(x.as_ptr().add(c * LANES));
            }
            for (acc_r, row) in acc.iter_mut().zip(&rows) {
                let p = row.as_ptr().add(c * LANES * W::SIZE);
                let w = if W::SIZE == 4 {
                    _mm256_loadu_ps(p.cast())
                } else if W::IEEE_HALF {
                    _mm256_cvtph_ps(_mm_loadu_si128(p.cast()))
                } else {
                    let [lo, hi] = load_bf16(p);
                    _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1)
                };
                for (a, x) in acc_r.iter_mut().zip(&xv) {
                    *a = _mm256_fmadd_ps(w, *x, *a);
                }
            }
        }
        let mut out = [[[_mm_setzero_ps(); 2]; S]; R];
        for (o_r, a_r) in out.iter_mut().zip(&acc) {
            for (o, a) in o_r.iter_mut().zip(a_r) {
                *o = [_mm256_castps256_ps128(*a), _mm256_extractf128_ps(*a, 1)];
            }
        }
        out
    }
}

/// The layer's PReLU on one output, as [`prelu`](super::prelu): `y ·
/// slope` where `y < 0` (false for NaN and −0), else `y`; `None`: no PReLU.
#[inline(always)]
fn prelu1(y: f32, slope: Option<f32>) -> f32 {
    match slope {
        Some(k) if y < 0.0 => y * k,
        _ => y,
    }
}

/// [`prelu1`] on four outputs at once (the same compare and multiply).
///
/// # Safety
/// SSE4.1 must be available (every caller runs under AVX, which implies it).
#[target_feature(enable = "sse4.1")]
#[inline]
unsafe fn prelu4(y: __m128, slope: Option<f32>) -> __m128 {
    match slope {
        Some(k) => _mm_blendv_ps(y, _mm_mul_ps(y, _mm_set1_ps(k)), _mm_cmplt_ps(y, _mm_setzero_ps())),
        None => y,
    }
}

/// Inputs per cache block of [`float_layer`] and [`int8_layer`]: a pair of
/// rows (2.4 KB at width 300, F32) meets all of them while it is in L1, and
/// so do their activations (16 · 304 · 4 bytes = 19 KB). On the
/// measurement machine (48 KB L1, 2 MB L2) blocks of 4 to 32 inputs ran
/// within 3 % of each other; the int8 path keeps one quantised buffer per
/// input of a block (16 KB of stack).
const SUPER: usize = 16;

/// A whole float layer for a batch, `y_s = W x_s + b` for the `n =
/// src.len() / stride` inputs of `src` (one per `stride` values, `in_dim`
/// read) into `dst` (`out_dim` written per input), on AVX: the same bits as
/// [`dots`] per output (the module docs' order), in one `avx,f16c` function
/// so that the register blocks (2 rows × 4 inputs), their reductions, tails
/// and stores run without a call per block, with the layer's PReLU (`slope`,
/// as [`prelu`](super::prelu): `y · slope` where `y < 0`) applied before the
/// store. `false` (nothing written) when AVX is not in use or a length is
/// inconsistent; the caller then runs the block-by-block path.
#[allow(clippy::too_many_arguments)]
pub(crate) fn float_layer<W: FloatWeights>(
    weight: &[u8],
    bias: &[u8],
    slope: Option<f32>,
    in_dim: usize,
    out_dim: usize,
    stride: usize,
    src: &[f32],
    dst: &mut [f32],
) -> bool {
    if !has_avx() {
        return false;
    }
    let Some(l) = Layer::new(weight, W::SIZE, bias, slope, in_dim, out_dim, stride, src, dst) else { return false };
    // SAFETY: AVX, F16C and FMA3 are available (`has_avx`), and AVX-512 F
    // where `has_avx512`; `l` holds the lengths checked above (the
    // functions' contract).
    unsafe {
        #[cfg(ddaebm_avx512)]
        if has_avx512() {
            float_layer_avx512::<W>(&l);
            return true;
        }
        float_layer_avx::<W>(&l);
    }
    true
}

/// A float layer's operands for the batch kernels: rows of `in_dim`
/// weights at `w` (`out_dim · in_dim · W::SIZE` readable bytes), `bias`
/// (`4 · out_dim` bytes), `n` inputs at `src` and outputs at `dst`, one per
/// `stride` f32 (`n · stride` readable / writable), `in_dim, out_dim ≤
/// stride`: the contract [`float_layer`] checks.
struct Layer<'b> {
    w: *const u8,
    bias: &'b [u8],
    slope: Option<f32>,
    in_dim: usize,
    out_dim: usize,
    stride: usize,
    src: *const f32,
    dst: *mut f32,
    n: usize,
}

impl<'b> Layer<'b> {
    /// The operands of a batch layer with `elem`-byte weights; `None` when
    /// a length is inconsistent (`n = src.len() / stride`).
    #[allow(clippy::too_many_arguments)]
    fn new(
        weight: &[u8],
        elem: usize,
        bias: &'b [u8],
        slope: Option<f32>,
        in_dim: usize,
        out_dim: usize,
        stride: usize,
        src: &[f32],
        dst: &mut [f32],
    ) -> Option<Self> {
        if stride == 0 || in_dim > stride || out_dim > stride {
            return None;
        }
        let n = src.len() / stride;
        let consistent = src.len() == n * stride
            && dst.len() >= n * stride
            && in_dim.checked_mul(out_dim).and_then(|m| m.checked_mul(elem)).is_some_and(|b| weight.len() >= b)
            && bias.len() / 4 >= out_dim;
        consistent.then(|| Layer {
            w: weight.as_ptr(),
            bias,
            slope,
            in_dim,
            out_dim,
            stride,
            src: src.as_ptr(),
            dst: dst.as_mut_ptr(),
            n,
        })
    }

    /// Row `j < out_dim` (for the weights' `W::SIZE`).
    #[inline(always)]
    fn row<W: FloatWeights>(&self, j: usize) -> *const u8 {
        // SAFETY: row `j < out_dim` starts at `j · in_dim · W::SIZE`, within
        // the weights (the contract); callers pass `j < out_dim`.
        unsafe { self.w.add(j * self.in_dim * W::SIZE) }
    }

    /// Input `s < n`.
    #[inline(always)]
    fn x(&self, s: usize) -> *const f32 {
        // SAFETY: input `s < n` starts at `s · stride`, within `src`.
        unsafe { self.src.add(s * self.stride) }
    }

    /// Output `j` of input `s < n`.
    #[inline(always)]
    fn y(&self, s: usize, j: usize) -> *mut f32 {
        // SAFETY: `s · stride + j` with `s < n`, `j < out_dim ≤ stride`, within `dst`.
        unsafe { self.dst.add(s * self.stride + j) }
    }

    /// Bias `j` (NaN past the end, which the contract rules out).
    #[inline(always)]
    fn bias(&self, j: usize) -> f32 {
        self.bias.get(4 * j..4 * j + 4).map_or(f32::NAN, super::f32_le)
    }
}

/// [`float_layer`]'s body.
///
/// # Safety
/// AVX, F16C and FMA3 must be available; `l` must satisfy [`Layer`]'s
/// contract.
#[target_feature(enable = "avx,f16c,fma")]
unsafe fn float_layer_avx<W: FloatWeights>(l: &Layer<'_>) {
    let (slope, in_dim, out_dim, n) = (l.slope, l.in_dim, l.out_dim, l.n);
    let (row, x, y, bias_at) = (|j| l.row::<W>(j), |s| l.x(s), |s, j| l.y(s, j), |j| l.bias(j));
    let mut b0 = 0;
    while b0 < n {
        let b1 = n.min(b0 + SUPER);
        let mut j = 0;
        while j < out_dim {
            let nr = (out_dim - j).min(2);
            let mut s = b0;
            while s < b1 {
                let ns = (b1 - s).min(4);
                // SAFETY: rows j..j + nr < out_dim, inputs s..s + ns < n.
                unsafe {
                    if ns == 4 && nr == 2 {
                        block::<W, 2, 4>(
                            [row(j), row(j + 1)],
                            [x(s), x(s + 1), x(s + 2), x(s + 3)],
                            in_dim,
                            [bias_at(j), bias_at(j + 1)],
                            slope,
                            [y(s, j), y(s + 1, j), y(s + 2, j), y(s + 3, j)],
                        );
                    } else if ns == 4 {
                        block::<W, 1, 4>(
                            [row(j)],
                            [x(s), x(s + 1), x(s + 2), x(s + 3)],
                            in_dim,
                            [bias_at(j)],
                            slope,
                            [y(s, j), y(s + 1, j), y(s + 2, j), y(s + 3, j)],
                        );
                    } else if nr == 2 {
                        for s in s..s + ns {
                            block::<W, 2, 1>(
                                [row(j), row(j + 1)],
                                [x(s)],
                                in_dim,
                                [bias_at(j), bias_at(j + 1)],
                                slope,
                                [y(s, j)],
                            );
                        }
                    } else {
                        for s in s..s + ns {
                            block::<W, 1, 1>([row(j)], [x(s)], in_dim, [bias_at(j)], slope, [y(s, j)]);
                        }
                    }
                }
                s += ns;
            }
            j += nr;
        }
        b0 = b1;
    }
}

/// One register block of [`float_layer_avx`]: `R` rows × `S` inputs of
/// `n` elements, `ys[s][r] = (row_r · x_s) + bias[r]` in the module docs'
/// order. With `S = 4` the four reductions and the tails run across the
/// inputs in one SSE register: the 4 × 4 transpose of the `lo + hi` halves
/// gives `t_k` = lane k of each, and `(t0 + t2) + (t1 + t3)` is the fixed
/// reduction `((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7))` per input.
///
/// # Safety
/// AVX and F16C must be available; each row must hold `n · W::SIZE`
/// readable bytes, each input `n` readable f32, each output `R` writable f32.
#[target_feature(enable = "avx,f16c,fma")]
#[inline]
unsafe fn block<W: FloatWeights, const R: usize, const S: usize>(
    rows: [*const u8; R],
    xs: [*const f32; S],
    n: usize,
    bias: [f32; R],
    slope: Option<f32>,
    ys: [*mut f32; S],
) {
    let chunks = n / LANES;
    // SAFETY: chunk `c < chunks` lies within the lengths the caller
    // guarantees; unaligned loads.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); S]; R];
        for c in 0..chunks {
            let mut xv = [_mm256_setzero_ps(); S];
            for (v, x) in xv.iter_mut().zip(&xs) {
                *v = _mm256_loadu_ps(x.add(c * LANES));
            }
            for (acc_r, row) in acc.iter_mut().zip(&rows) {
                let p = row.add(c * LANES * W::SIZE);
                let w = if W::SIZE == 4 {
                    _mm256_loadu_ps(p.cast())
                } else if W::IEEE_HALF {
                    _mm256_cvtph_ps(_mm_loadu_si128(p.cast()))
                } else {
                    let [lo, hi] = load_bf16(p);
                    _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1)
                };
                for (a, x) in acc_r.iter_mut().zip(&xv) {
                    *a = _mm256_fmadd_ps(w, *x, *a);
                }
            }
        }
        finish_block::<W, R, S>(acc, rows, xs, n, bias, slope, ys);
    }
}

/// The end of a register block ([`block`], `block_512`): from the 8-lane
/// partial sums `acc[r][s]` of row r · input s over the first `8 ⌊n/8⌋`
/// elements, the fixed reduction, the tail elements in order, the bias and
/// the PReLU, stored to `ys[s][r]`.
///
/// # Safety
/// As [`block`].
#[target_feature(enable = "avx,f16c,fma")]
#[inline]
unsafe fn finish_block<W: FloatWeights, const R: usize, const S: usize>(
    acc: [[__m256; S]; R],
    rows: [*const u8; R],
    xs: [*const f32; S],
    n: usize,
    bias: [f32; R],
    slope: Option<f32>,
    ys: [*mut f32; S],
) {
    let body = n / LANES * LANES;
    // SAFETY: the tail elements `body..n` of each row and input, and `R`
    // values of each output, lie within the caller's lengths.
    unsafe {
        if S == 4 {
            // The tail inputs across the four inputs, gathered once for all rows.
            let mut xt = [_mm_setzero_ps(); LANES - 1];
            for (i, v) in xt.iter_mut().enumerate().take(n - body) {
                *v = _mm_set_ps(*xs[3].add(body + i), *xs[2].add(body + i), *xs[1].add(body + i), *xs[0].add(body + i));
            }
            let mut sums = [_mm_setzero_ps(); R];
            for (((sum, acc_r), row), b) in sums.iter_mut().zip(&acc).zip(&rows).zip(bias) {
                let v: [__m128; 4] = core::array::from_fn(|s| {
                    _mm_add_ps(_mm256_castps256_ps128(acc_r[s]), _mm256_extractf128_ps(acc_r[s], 1))
                });
                let (t0, t1) = (_mm_unpacklo_ps(v[0], v[1]), _mm_unpacklo_ps(v[2], v[3]));
                let (t2, t3) = (_mm_unpackhi_ps(v[0], v[1]), _mm_unpackhi_ps(v[2], v[3]));
                let (c0, c1) = (_mm_movelh_ps(t0, t1), _mm_movehl_ps(t1, t0));
                let (c2, c3) = (_mm_movelh_ps(t2, t3), _mm_movehl_ps(t3, t2));
                let mut acc = _mm_add_ps(_mm_add_ps(c0, c2), _mm_add_ps(c1, c3));
                let tail = core::slice::from_raw_parts(row.add(body * W::SIZE), (n - body) * W::SIZE);
                for (wb, x) in tail.chunks_exact(W::SIZE).zip(&xt) {
                    acc = _mm_fmadd_ps(_mm_set1_ps(W::one(wb)), *x, acc);
                }
                *sum = prelu4(_mm_add_ps(acc, _mm_set1_ps(b)), slope);
            }
            if R == 2 {
                // Rows j, j + 1 of each input are adjacent: one 8-byte store each.
                let (lo, hi) = (_mm_unpacklo_ps(sums[0], sums[1]), _mm_unpackhi_ps(sums[0], sums[1]));
                let (lo, hi) = (_mm_castps_pd(lo), _mm_castps_pd(hi));
                _mm_storel_pd(ys[0].cast(), lo);
                _mm_storeh_pd(ys[1].cast(), lo);
                _mm_storel_pd(ys[2].cast(), hi);
                _mm_storeh_pd(ys[3].cast(), hi);
            } else {
                for (r, v) in sums.iter().enumerate() {
                    let mut out = [0.0f32; 4];
                    _mm_storeu_ps(out.as_mut_ptr(), *v);
                    for (y, o) in ys.iter().zip(out) {
                        *y.add(r) = o;
                    }
                }
            }
        } else {
            for (r, ((acc_r, row), b)) in acc.iter().zip(&rows).zip(bias).enumerate() {
                let tail = core::slice::from_raw_parts(row.add(body * W::SIZE), (n - body) * W::SIZE);
                for (a, (x, y)) in acc_r.iter().zip(xs.iter().zip(&ys)) {
                    let s = reduce([_mm256_castps256_ps128(*a), _mm256_extractf128_ps(*a, 1)]);
                    let x_tail = core::slice::from_raw_parts(x.add(body), n - body);
                    *y.add(r) = prelu1(add_tail_fma::<W>(s, tail, x_tail) + b, slope);
                }
            }
        }
    }
}

/// [`float_layer_avx`] with AVX-512 register blocks of 4 rows × 8 (or 4)
/// inputs (`block_512`) where they fit, the AVX blocks for the rest; same
/// bits.
///
/// # Safety
/// As [`float_layer_avx`], with AVX-512 F available.
#[cfg(ddaebm_avx512)]
#[target_feature(enable = "avx512f,avx,f16c,fma")]
unsafe fn float_layer_avx512<W: FloatWeights>(l: &Layer<'_>) {
    let (slope, in_dim, out_dim, n) = (l.slope, l.in_dim, l.out_dim, l.n);
    let (row, x, y, bias_at) = (|j| l.row::<W>(j), |s| l.x(s), |s, j| l.y(s, j), |j| l.bias(j));
    // IEEE-half rows of up to `WIDEN_MAX` inputs are widened to f32 once per
    // group of 4 rows and block of `WIDEN_SUPER` inputs (exact, so the same
    // bits), instead of once per register block: the conversions were the
    // f16 kernel's bottleneck (measured: 0.72× libtorch before, see
    // docs/performance.md).
    let widen = W::IEEE_HALF && in_dim <= WIDEN_MAX;
    let mut wide = [0.0f32; 4 * WIDEN_MAX];
    let mut b0 = 0;
    while b0 < n {
        let b1 = n.min(b0 + if widen { WIDEN_SUPER } else { SUPER });
        let mut j = 0;
        while j < out_dim {
            let nr = (out_dim - j).min(4);
            if widen && nr == 4 {
                // SAFETY: rows j..j + 4 < out_dim hold `in_dim` halves each;
                // `wide` holds 4 · WIDEN_MAX ≥ 4 · in_dim f32.
                unsafe {
                    for r in 0..4 {
                        widen_halves(row(j + r), in_dim, wide.as_mut_ptr().add(r * in_dim));
                    }
                    let rows: [*const u8; 4] = core::array::from_fn(|r| wide.as_ptr().add(r * in_dim).cast());
                    let mut s = b0;
                    while s < b1 {
                        let ns = if b1 - s >= 8 { 8 } else { 4.min(b1 - s) };
                        let xs8 = core::array::from_fn(|i| x(if s + i < n { s + i } else { s }));
                        let ys8 = core::array::from_fn(|i| y(if s + i < n { s + i } else { s }, j));
                        let bias4 = core::array::from_fn(|r| bias_at(j + r));
                        match ns {
                            8 => block_512::<F32W, 8>(rows, xs8, in_dim, bias4, slope, ys8),
                            4 => block_512::<F32W, 4>(rows, xs8, in_dim, bias4, slope, ys8),
                            _ => {
                                for s in s..s + ns {
                                    block::<F32W, 4, 1>(rows, [x(s)], in_dim, bias4, slope, [y(s, j)]);
                                }
                            }
                        }
                        s += ns;
                    }
                }
                j += 4;
                continue;
            }
            let mut s = b0;
            while s < b1 {
                let ns = match b1 - s {
                    k if k >= 8 => 8,
                    k => k.min(4),
                };
                // Inputs s.. (unused slots repeat input s; never read).
                let xs8 = |s: usize| core::array::from_fn(|i| x(if s + i < n { s + i } else { s }));
                let ys8 = |s: usize, j: usize| core::array::from_fn(|i| y(if s + i < n { s + i } else { s }, j));
                let xs4 = |s: usize| [x(s), x(s + 1), x(s + 2), x(s + 3)];
                let ys4 = |s: usize, j: usize| [y(s, j), y(s + 1, j), y(s + 2, j), y(s + 3, j)];
                // SAFETY: rows j..j + nr < out_dim, inputs s..s + ns < n.
                unsafe {
                    if ns == 8 && nr == 4 {
                        block_512::<W, 8>(
                            core::array::from_fn(|r| row(j + r)),
                            xs8(s),
                            in_dim,
                            core::array::from_fn(|r| bias_at(j + r)),
                            slope,
                            ys8(s, j),
                        );
                    } else if ns == 4 && nr == 4 {
                        block_512::<W, 4>(
                            core::array::from_fn(|r| row(j + r)),
                            xs8(s),
                            in_dim,
                            core::array::from_fn(|r| bias_at(j + r)),
                            slope,
                            ys8(s, j),
                        );
                    } else {
                        for r in j..j + nr {
                            if ns == 4 {
                                block::<W, 1, 4>([row(r)], xs4(s), in_dim, [bias_at(r)], slope, ys4(s, r));
                            } else {
                                for s in s..s + ns {
                                    block::<W, 1, 1>([row(r)], [x(s)], in_dim, [bias_at(r)], slope, [y(s, r)]);
                                }
                            }
                        }
                    }
                }
                s += ns;
            }
            j += nr;
        }
        b0 = b1;
    }
}

/// Widest IEEE-half rows [`float_layer_avx512`] widens to f32 up front
/// (4 rows of them are 16 KB of stack).
#[cfg(ddaebm_avx512)]
const WIDEN_MAX: usize = 1024;

/// Inputs per block when the rows are widened up front: each widening
/// serves this many inputs (their activations, 64 · 304 · 4 bytes at width
/// 300, stay in L2).
#[cfg(ddaebm_avx512)]
const WIDEN_SUPER: usize = 64;

/// `n` IEEE halves at `src` widened exactly to f32 at `dst`, 16 at a time
/// (`vcvtph2ps`, masked for the last ones).
///
/// # Safety
/// AVX-512 F must be available; `src` must hold `2n` readable bytes and
/// `dst` `n` writable f32.
#[cfg(ddaebm_avx512)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
#[inline]
unsafe fn widen_halves(src: *const u8, n: usize, dst: *mut f32) {
    let mut i = 0;
    // SAFETY: each step reads and writes the `min(16, n − i)` elements its
    // mask selects (masked-off lanes are not accessed).
    unsafe {
        while i < n {
            let m: __mmask16 = if n - i >= 16 { 0xffff } else { (1u16 << (n - i)) - 1 };
            let h = _mm256_maskz_loadu_epi16(m, src.add(2 * i).cast());
            _mm512_mask_storeu_ps(dst.add(i), m, _mm512_cvtph_ps(h));
            i += 16;
        }
    }
}

/// An AVX-512 register block: 4 rows × `S` inputs (`S` ≤ 8), each 512-bit
/// accumulator holding the 8 partial sums of two outputs (rows 2p and
/// 2p + 1 for one input, lanes 0–7 and 8–15): the two rows' chunks side by
/// side, the input's chunk broadcast to both halves (a load, no shuffle),
/// one `vfmadd231ps` per accumulator, so each half computes exactly what
/// [`block`] does. Per input, `h = z + (z with its 128-bit lanes swapped
/// in pairs)` puts each output's `v = a[0..4] + a[4..8]` in lanes 0–3 /
/// 8–11, one `vpermt2ps` transposes the four rows' `v` into `t_k` = lane k
/// of each, and `(t0 + t2) + (t1 + t3)` is the fixed reduction; then the
/// tail (`vfmadd231ps` across the rows, in order), the bias, the PReLU, and
/// one 16-byte store of the input's 4 adjacent outputs.
///
/// # Safety
/// As [`block`] (`ys[s]` for `s < S` must hold 4 writable f32), with
/// AVX-512 F available.
#[cfg(ddaebm_avx512)]
#[target_feature(enable = "avx512f,avx,f16c,fma")]
#[inline]
unsafe fn block_512<W: FloatWeights, const S: usize>(
    rows: [*const u8; 4],
    xs: [*const f32; 8],
    n: usize,
    bias: [f32; 4],
    slope: Option<f32>,
    ys: [*mut f32; 8],
) {
    let chunks = n / LANES;
    let body = chunks * LANES;
    // SAFETY: chunk `c < chunks` and the tail `body..n` of every row and of
    // inputs `0..S` lie within the lengths the caller guarantees; unaligned
    // loads.
    unsafe {
        let pair = |a: __m256, b: __m256| {
            _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(a)), _mm256_castps_pd(b), 1))
        };
        let load = |p: *const u8| {
            if W::SIZE == 4 {
                _mm256_loadu_ps(p.cast())
            } else if W::IEEE_HALF {
                _mm256_cvtph_ps(_mm_loadu_si128(p.cast()))
            } else {
                let [lo, hi] = load_bf16(p);
                _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1)
            }
        };
        let mut acc = [[_mm512_setzero_ps(); 2]; S];
        for c in 0..chunks {
            let o = c * LANES * W::SIZE;
            let w =
                [pair(load(rows[0].add(o)), load(rows[1].add(o))), pair(load(rows[2].add(o)), load(rows[3].add(o)))];
            for (acc_s, x) in acc.iter_mut().zip(&xs) {
                let xb = _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_loadu_pd(x.add(c * LANES).cast())));
                acc_s[0] = _mm512_fmadd_ps(w[0], xb, acc_s[0]);
                acc_s[1] = _mm512_fmadd_ps(w[1], xb, acc_s[1]);
            }
        }
        // The tail weights across the 4 rows, gathered once for all inputs.
        let mut wt = [_mm_setzero_ps(); LANES - 1];
        for (i, v) in wt.iter_mut().enumerate().take(n - body) {
            let e = |r: usize| W::one(core::slice::from_raw_parts(rows[r].add((body + i) * W::SIZE), W::SIZE));
            *v = _mm_set_ps(e(3), e(2), e(1), e(0));
        }
        let b = _mm_loadu_ps(bias.as_ptr());
        // Lane 4k + i of the transpose takes v_i[k]: v0 = h0[0..4], v1 = h0[8..12], v2 = h1[0..4], v3 = h1[8..12].
        let idx = _mm512_setr_epi32(0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27);
        for ((acc_s, x), y) in acc.iter().zip(&xs).zip(&ys) {
            let h0 = _mm512_add_ps(acc_s[0], _mm512_shuffle_f32x4(acc_s[0], acc_s[0], 0b10_11_00_01));
            let h1 = _mm512_add_ps(acc_s[1], _mm512_shuffle_f32x4(acc_s[1], acc_s[1], 0b10_11_00_01));
            let t = _mm512_permutex2var_ps(h0, idx, h1); // [t0 | t1 | t2 | t3]
            let u = _mm512_add_ps(t, _mm512_shuffle_f32x4(t, t, 0b01_00_11_10)); // [t0+t2 | t1+t3 | …]
            let mut v = _mm_add_ps(_mm512_castps512_ps128(u), _mm512_extractf32x4_ps(u, 1));
            for (i, w) in wt.iter().enumerate().take(n - body) {
                v = _mm_fmadd_ps(*w, _mm_set1_ps(*x.add(body + i)), v);
            }
            _mm_storeu_ps(*y, prelu4(_mm_add_ps(v, b), slope));
        }
    }
}

/// A whole int8 layer for a batch (as [`float_layer`], the same bits as
/// the portable `matvec_i8` per input, then the PReLU), on AVX2: per block
/// of [`SUPER`] inputs and of [`QBLOCK`] elements, each input is quantised
/// once (its own scale, [`quant_scale`](super::quant_scale)), then register
/// blocks of 2 rows × 4 inputs add `vpmaddwd` products into i32 lanes
/// (exact; the order of integer additions does not matter), each block sum
/// is converted to f32 and added in block order, and the outputs are scaled
/// `(sx · scale) · acc + b`. `false` (nothing written) when AVX2 is not in
/// use or a length is inconsistent.
#[allow(clippy::too_many_arguments)]
pub(crate) fn int8_layer(
    weight: &[u8],
    scale: &[u8],
    bias: &[u8],
    slope: Option<f32>,
    in_dim: usize,
    out_dim: usize,
    stride: usize,
    src: &[f32],
    dst: &mut [f32],
) -> bool {
    if !has_avx2() || scale.len() / 4 < out_dim {
        return false;
    }
    let Some(Layer { n, .. }) = Layer::new(weight, 1, bias, slope, in_dim, out_dim, stride, src, dst) else {
        return false;
    };
    let mut bufs = [[0i16; QBLOCK]; SUPER];
    let mut b0 = 0;
    while b0 < n {
        let b1 = n.min(b0 + SUPER);
        let xs = |s: usize| src.get(s * stride..s * stride + in_dim).unwrap_or(&[]);
        let q: [Option<(f32, f32)>; SUPER] =
            core::array::from_fn(|i| if b0 + i < b1 { super::quant_scale(xs(b0 + i)) } else { None });
        for s in b0..b1 {
            if let Some(y) = dst.get_mut(s * stride..s * stride + out_dim) {
                y.iter_mut().for_each(|v| *v = 0.0);
            }
        }
        let mut start = 0;
        while start < in_dim {
            let len = (in_dim - start).min(QBLOCK);
            for (i, (buf, qs)) in bufs.iter_mut().zip(&q).enumerate().take(b1 - b0) {
                let inv = qs.map_or(0.0, |q| q.1);
                let x = xs(b0 + i).get(start..start + len).unwrap_or(&[]);
                #[cfg(ddaebm_avx512)]
                if has_avx512() {
                    // SAFETY: AVX-512 F / BW / VL are available (`has_avx512`).
                    unsafe { quantise_512(x, inv, buf) };
                    continue;
                }
                for (b, &v) in buf.iter_mut().zip(x) {
                    *b = super::quantise(v, inv);
                }
            }
            // SAFETY: AVX2 is available (`has_avx2`); rows are read at
            // `j · in_dim + start .. + len` for `j < out_dim`, within the
            // checked weight length; outputs at `s · stride + j`, `s < n`,
            // `j < out_dim ≤ stride`, within `dst`.
            unsafe {
                let blocks = I8Blocks {
                    w: weight.as_ptr().add(start),
                    row_stride: in_dim,
                    rows: out_dim,
                    bufs: &bufs,
                    len,
                    ns: b1 - b0,
                    y: dst.as_mut_ptr().add(b0 * stride),
                    stride,
                };
                #[cfg(ddaebm_avx512)]
                if has_avx512() {
                    int8_blocks_avx512(&blocks);
                } else {
                    int8_blocks_avx2(&blocks);
                }
                #[cfg(not(ddaebm_avx512))]
                int8_blocks_avx2(&blocks);
            };
            start += len;
        }
        for (i, qs) in q.iter().enumerate().take(b1 - b0) {
            let Some(y) = dst.get_mut((b0 + i) * stride..(b0 + i) * stride + out_dim) else { continue };
            match qs {
                #[cfg(ddaebm_avx512)]
                // SAFETY: AVX-512 F is available (`has_avx512`).
                Some((sx, _)) if has_avx512() => unsafe { scale_512(y, *sx, scale, bias, slope) },
                Some((sx, _)) => {
                    for ((yj, sj), bj) in y.iter_mut().zip(scale.chunks_exact(4)).zip(bias.chunks_exact(4)) {
                        *yj = prelu1((sx * super::f32_le(sj)) * *yj + super::f32_le(bj), slope);
                    }
                }
                None => y.iter_mut().for_each(|v| *v = f32::NAN),
            }
        }
        b0 = b1;
    }
    true
}

/// [`quantise`](super::quantise) of `x` into `buf` (`min` of their
/// lengths), 16 at a time: `t = x · inv`, `t ± 0.5` (the sign of `t`; `t −
/// 0.5` is `t + (−0.5)` exactly), truncated, clamped to ±32767. The same
/// bits for every finite `t`; a NaN `t` (only from a non-finite input, whose
/// layer outputs are NaN whatever the quantised values) would give −32767
/// here and 0 there.
///
/// # Safety
/// AVX-512 F, BW and VL must be available.
#[cfg(ddaebm_avx512)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn quantise_512(x: &[f32], inv: f32, buf: &mut [i16]) {
    let n = x.len().min(buf.len());
    // SAFETY: each step reads and writes the `k ≤ n − i` elements its mask
    // selects (masked-off lanes are not accessed).
    unsafe {
        let (inv, half, mhalf) = (_mm512_set1_ps(inv), _mm512_set1_ps(0.5), _mm512_set1_ps(-0.5));
        let (lo, hi) = (_mm512_set1_epi32(-32767), _mm512_set1_epi32(32767));
        let mut i = 0;
        while i < n {
            let m: __mmask16 = if n - i >= 16 { 0xffff } else { (1u16 << (n - i)) - 1 };
            let t = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x.as_ptr().add(i)), inv);
            let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(t, _mm512_setzero_ps());
            let q = _mm512_cvttps_epi32(_mm512_add_ps(t, _mm512_mask_blend_ps(neg, half, mhalf)));
            _mm512_mask_cvtepi32_storeu_epi16(
                buf.as_mut_ptr().add(i).cast(),
                m,
                _mm512_min_epi32(_mm512_max_epi32(q, lo), hi),
            );
            i += 16;
        }
    }
}

/// The int8 layer's output step, 16 at a time: `y = (sx · scale) · y + b`
/// (two multiplies then an add, each rounded, as the portable kernel), then
/// the PReLU (`y · slope` where `y < 0`).
///
/// # Safety
/// AVX-512 F must be available.
#[cfg(ddaebm_avx512)]
#[target_feature(enable = "avx512f")]
unsafe fn scale_512(y: &mut [f32], sx: f32, scale: &[u8], bias: &[u8], slope: Option<f32>) {
    let n = y.len().min(scale.len() / 4).min(bias.len() / 4);
    // SAFETY: each step reads and writes the `k ≤ n − i` elements its mask
    // selects of `y`, `scale` and `bias` (f32, little-endian, unaligned).
    unsafe {
        let sx = _mm512_set1_ps(sx);
        let mut i = 0;
        while i < n {
            let m: __mmask16 = if n - i >= 16 { 0xffff } else { (1u16 << (n - i)) - 1 };
            let sc = _mm512_maskz_loadu_ps(m, scale.as_ptr().add(4 * i).cast());
            let b = _mm512_maskz_loadu_ps(m, bias.as_ptr().add(4 * i).cast());
            let mut v =
                _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(sx, sc), _mm512_maskz_loadu_ps(m, y.as_ptr().add(i))), b);
            if let Some(k) = slope {
                // y < 0 (false for NaN and −0): y · slope.
                let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, _mm512_setzero_ps());
                v = _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(k));
            }
            _mm512_mask_storeu_ps(y.as_mut_ptr().add(i), m, v);
            i += 16;
        }
    }
}

/// One [`QBLOCK`] block of [`int8_layer`]'s operands: `rows` weight rows
/// `row_stride` bytes apart at `w` (`len` of each read), the quantised
/// inputs `bufs[..ns]` (`len` of each), the outputs `y[s · stride + j]`.
/// Contract: `w` points to `(rows − 1) · row_stride + len` readable bytes
/// (`len ≤ row_stride` when `rows > 1`), `y` to `(ns − 1) · stride + rows`
/// writable f32; `len ≤ QBLOCK`, `ns ≤ SUPER`.
struct I8Blocks<'b> {
    w: *const u8,
    row_stride: usize,
    rows: usize,
    bufs: &'b [[i16; QBLOCK]; SUPER],
    len: usize,
    ns: usize,
    y: *mut f32,
    stride: usize,
}

impl I8Blocks<'_> {
    /// Row `j < rows`.
    #[inline(always)]
    fn row(&self, j: usize) -> *const u8 {
        // SAFETY: row `j < rows` starts at `j · row_stride`, within the
        // contract's bytes; callers pass `j < rows`.
        unsafe { self.w.add(j * self.row_stride) }
    }

    /// Output `j` of input `s < ns`.
    #[inline(always)]
    fn out(&self, s: usize, j: usize) -> *mut f32 {
        // SAFETY: `s · stride + j` with `s < ns`, `j < rows`, within `y`.
        unsafe { self.y.add(s * self.stride + j) }
    }

    /// The register blocks, in order: `block(j, nr, s, quad)` for rows
    /// `j..j + nr` (4 while `four_rows` and 4 are left, else 2, then 1)
    /// and inputs `s..s + 4` (`quad`) or input `s` alone, covering every
    /// row and input once.
    #[inline(always)]
    fn for_each(&self, four_rows: bool, mut block: impl FnMut(usize, usize, usize, bool)) {
        let mut j = 0;
        while j < self.rows {
            let left = self.rows - j;
            let nr = if four_rows && left >= 4 { 4 } else { left.min(2) };
            let mut s = 0;
            while s < self.ns {
                let quad = self.ns - s >= 4;
                block(j, nr, s, quad);
                s += if quad { 4 } else { 1 };
            }
            j += nr;
        }
    }
}

/// One [`QBLOCK`] block of [`int8_layer`] on AVX2: `y[s · stride + j] +=
/// (Σ_i w[j · row_stride + i] · bufs[s][i]) as f32` for every row `j <
/// rows` and input `s < ns`, the sums over `i < len` exact in i32;
/// register blocks of 2 rows × 4 inputs.
///
/// # Safety
/// AVX2 must be available; `b` must satisfy [`I8Blocks`]'s contract.
#[target_feature(enable = "avx2")]
unsafe fn int8_blocks_avx2(b: &I8Blocks<'_>) {
    let len = b.len;
    let wide = len / 16;
    let k = len % 16;
    // The last k elements as one more group of 16 (when len ≥ 16): the
    // row's last 16 bytes against 16 − k zeros then the input's last k
    // values, so the overlap adds exact zeros.
    let xt: [[i16; 16]; SUPER] = core::array::from_fn(|s| {
        core::array::from_fn(|i| if k == 0 || len < 16 || i < 16 - k { 0 } else { b.bufs[s][len - 16 + i] })
    });
    let tail = k > 0 && len >= 16;
    let body = if len < 16 { 0 } else { len };
    b.for_each(false, |j, nr, s, quad| {
        let x = |s: usize| (&b.bufs[s], &xt[s]);
        // SAFETY: rows j..j + nr < rows, inputs s..s + 4 (or s) < ns.
        unsafe {
            match (nr, quad) {
                (2, true) => i8_block::<2, 4>(
                    [b.row(j), b.row(j + 1)],
                    core::array::from_fn(|i| x(s + i)),
                    wide,
                    tail,
                    len,
                    body,
                    core::array::from_fn(|i| b.out(s + i, j)),
                ),
                (_, true) => i8_block::<1, 4>(
                    [b.row(j)],
                    core::array::from_fn(|i| x(s + i)),
                    wide,
                    tail,
                    len,
                    body,
                    core::array::from_fn(|i| b.out(s + i, j)),
                ),
                (2, false) => i8_block::<2, 1>([b.row(j), b.row(j + 1)], [x(s)], wide, tail, len, body, [b.out(s, j)]),
                _ => i8_block::<1, 1>([b.row(j)], [x(s)], wide, tail, len, body, [b.out(s, j)]),
            }
        }
    });
}

/// `R` rows × `S` inputs of [`int8_blocks_avx2`]: `wide` groups of 16, the
/// overlapping tail group (`tail`), then the scalar rest `body..len` (only
/// when `len < 16`), each sum added to its output as f32.
///
/// # Safety
/// AVX2 must be available; each row must hold `len` readable bytes, each
/// output `R` writable f32; `16 · wide ≤ len ≤ QBLOCK`.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn i8_block<const R: usize, const S: usize>(
    rows: [*const u8; R],
    xs: [(&[i16; QBLOCK], &[i16; 16]); S],
    wide: usize,
    tail: bool,
    len: usize,
    body: usize,
    ys: [*mut f32; S],
) {
    // SAFETY: groups `g < wide` and the tail group (`len − 16 .. len`,
    // `len ≥ 16`) lie within every row and buffer; unaligned loads.
    unsafe {
        let mut acc = [[_mm256_setzero_si256(); S]; R];
        for g in 0..wide {
            let xv: [__m256i; S] = core::array::from_fn(|s| _mm256_loadu_si256(xs[s].0.as_ptr().add(16 * g).cast()));
            for (acc_r, row) in acc.iter_mut().zip(&rows) {
                let wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(row.add(16 * g).cast()));
                for (a, x) in acc_r.iter_mut().zip(&xv) {
                    *a = _mm256_add_epi32(*a, _mm256_madd_epi16(wv, *x));
                }
            }
        }
        if tail {
            let xv: [__m256i; S] = core::array::from_fn(|s| _mm256_loadu_si256(xs[s].1.as_ptr().cast()));
            for (acc_r, row) in acc.iter_mut().zip(&rows) {
                let wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(row.add(len - 16).cast()));
                for (a, x) in acc_r.iter_mut().zip(&xv) {
                    *a = _mm256_add_epi32(*a, _mm256_madd_epi16(wv, *x));
                }
            }
        }
        for (r, (acc_r, row)) in acc.iter().zip(&rows).enumerate() {
            for ((a, x), y) in acc_r.iter().zip(&xs).zip(&ys) {
                let v = _mm_add_epi32(_mm256_castsi256_si128(*a), _mm256_extracti128_si256(*a, 1));
                let v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0b00_00_11_10));
                let mut sum = _mm_cvtsi128_si32(_mm_add_epi32(v, _mm_shuffle_epi32(v, 0b00_00_00_01)));
                for i in body..len {
                    sum += i32::from(*row.add(i) as i8) * i32::from(x.0[i]);
                }
                *y.add(r) += sum as f32;
            }
        }
    }
}

/// [`int8_blocks_avx2`] on AVX-512: groups of 32 elements, each row's 32
/// bytes sign-extended by one `vpmovsxbw` and `vpdpwssd` adding the 32
/// products pairwise into sixteen i32 lanes (exact, no saturation: the
/// `QBLOCK` bound holds); the last `len % 32` elements through masked loads
/// (the masked-off bytes are not read); register blocks of 4 rows × 4
/// inputs.
///
/// # Safety
/// AVX-512 F, BW, VL and VNNI must be available; `b` must satisfy
/// [`I8Blocks`]'s contract.
#[cfg(ddaebm_avx512)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn int8_blocks_avx512(b: &I8Blocks<'_>) {
    let wide = b.len / 32;
    let mask: __mmask32 = (1u32 << (b.len % 32)) - 1;
    b.for_each(true, |j, nr, s, quad| {
        let x = |s: usize| b.bufs[s].as_ptr();
        let x4 = || core::array::from_fn(|i| x(s + i));
        let y4 = || core::array::from_fn(|i| b.out(s + i, j));
        // SAFETY: rows j..j + nr < rows, inputs s..s + 4 (or s) < ns.
        unsafe {
            match (nr, quad) {
                (4, true) => i8_block_512::<4, 4>(core::array::from_fn(|r| b.row(j + r)), x4(), wide, mask, y4()),
                (4, false) => {
                    i8_block_512::<4, 1>(core::array::from_fn(|r| b.row(j + r)), [x(s)], wide, mask, [b.out(s, j)])
                }
                (2, true) => i8_block_512::<2, 4>([b.row(j), b.row(j + 1)], x4(), wide, mask, y4()),
                (_, true) => i8_block_512::<1, 4>([b.row(j)], x4(), wide, mask, y4()),
                (2, false) => i8_block_512::<2, 1>([b.row(j), b.row(j + 1)], [x(s)], wide, mask, [b.out(s, j)]),
                _ => i8_block_512::<1, 1>([b.row(j)], [x(s)], wide, mask, [b.out(s, j)]),
            }
        }
    });
}

/// `R` rows × `S` inputs of [`int8_blocks_avx512`]: `wide` groups of 32,
/// then the masked last group (`mask` = its elements), each sum added to
/// its output as f32.
///
/// # Safety
/// AVX-512 F, BW, VL and VNNI must be available; each row must hold `32 ·
/// wide + popcount(mask)` readable bytes and each input as many i16; each
/// output `R` writable f32.
#[cfg(ddaebm_avx512)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
unsafe fn i8_block_512<const R: usize, const S: usize>(
    rows: [*const u8; R],
    xs: [*const i16; S],
    wide: usize,
    mask: __mmask32,
    ys: [*mut f32; S],
) {
    // SAFETY: groups `g < wide` and the masked group lie within every row
    // and input (the caller's contract); masked-off elements are not read.
    unsafe {
        let mut acc = [[_mm512_setzero_si512(); S]; R];
        for g in 0..wide {
            let xv: [__m512i; S] = core::array::from_fn(|s| _mm512_loadu_si512(xs[s].add(32 * g).cast()));
            for (acc_r, row) in acc.iter_mut().zip(&rows) {
                let wv = _mm512_cvtepi8_epi16(_mm256_loadu_si256(row.add(32 * g).cast()));
                for (a, x) in acc_r.iter_mut().zip(&xv) {
                    *a = _mm512_dpwssd_epi32(*a, wv, *x);
                }
            }
        }
        if mask != 0 {
            let xv: [__m512i; S] = core::array::from_fn(|s| _mm512_maskz_loadu_epi16(mask, xs[s].add(32 * wide)));
            for (acc_r, row) in acc.iter_mut().zip(&rows) {
                let wv = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mask, row.add(32 * wide).cast()));
                for (a, x) in acc_r.iter_mut().zip(&xv) {
                    *a = _mm512_dpwssd_epi32(*a, wv, *x);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            if S == 4 {
                // The four sums at once, converted as `i32 as f32` (round to nearest).
                let mut sums = [0.0f32; 4];
                _mm_storeu_ps(sums.as_mut_ptr(), _mm_cvtepi32_ps(hsum4(acc_r[0], acc_r[1], acc_r[2], acc_r[3])));
                for (y, v) in ys.iter().zip(sums) {
                    *y.add(r) += v;
                }
            } else {
                for (a, y) in acc_r.iter().zip(&ys) {
                    *y.add(r) += _mm512_reduce_add_epi32(*a) as f32;
                }
            }
        }
    }
}

/// The sums of the sixteen i32 lanes of each of `a`, `b`, `c`, `d` (exact
/// integers, so the order of the additions does not matter), as one vector.
#[cfg(ddaebm_avx512)]
#[target_feature(enable = "avx512f")]
#[inline]
fn hsum4(a: __m512i, b: __m512i, c: __m512i, d: __m512i) -> __m128i {
    // In each 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3], then [a, b, c, d] partial sums.
    let ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    let cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    let v = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
    // Across the four 128-bit lanes.
    let v = _mm512_add_epi32(v, _mm512_shuffle_i32x4(v, v, 0b01_00_11_10));
    let v = _mm512_add_epi32(v, _mm512_shuffle_i32x4(v, v, 0b10_11_00_01));
    _mm512_castsi512_si128(v)
}

/// Σ q[i]·xq[i] over the first `len` (≤ `QBLOCK`) bytes of each of `R`
/// rows against each of `S` quantised inputs, exact in i32.
#[inline(always)]
pub(crate) fn dots_i8<const R: usize, const S: usize>(
    rows: [&[u8]; R],
    xq: [&[i16; QBLOCK]; S],
    len: usize,
) -> [[i32; S]; R] {
    dots_i8_on::<R, S>(rows, xq, len, has_avx2())
}

/// [`dots_i8`] on AVX2 (`avx2`, which must then be available) or SSE2.
#[inline(always)]
fn dots_i8_on<const R: usize, const S: usize>(
    rows: [&[u8]; R],
    xq: [&[i16; QBLOCK]; S],
    len: usize,
    avx2: bool,
) -> [[i32; S]; R] {
    let len = len.min(QBLOCK).min(rows.iter().map(|r| r.len()).min().unwrap_or(0));
    let wide = len / 16;
    // SAFETY: row loads read bytes `< 16 · wide ≤ len ≤ row.len()`, input
    // loads i16 `< 16 · wide ≤ QBLOCK`; AVX2 only when `avx2` (the caller's
    // contract); loadu has no alignment requirement.
    let mut acc = unsafe {
        if avx2 {
            body_i8_avx2::<R, S>(rows, xq, wide)
        } else {
            let mut acc = [[_mm_setzero_si128(); S]; R];
            for g in 0..wide {
                let xv: [[__m128i; 2]; S] = core::array::from_fn(|s| {
                    let p = xq[s].as_ptr().add(16 * g);
                    [_mm_loadu_si128(p.cast()), _mm_loadu_si128(p.add(8).cast())]
                });
                for (acc_r, row) in acc.iter_mut().zip(&rows) {
                    let (lo, hi) = ext_i8(_mm_loadu_si128(row.as_ptr().add(16 * g).cast()));
                    for (a, x) in acc_r.iter_mut().zip(&xv) {
                        *a = _mm_add_epi32(*a, _mm_add_epi32(_mm_madd_epi16(lo, x[0]), _mm_madd_epi16(hi, x[1])));
                    }
                }
            }
            acc
        }
    };
    let k = len % 16;
    if k == 0 || len < 16 {
        return finish_i8(acc, rows, xq, wide * 16, len);
    }
    // The last k elements as one more group of 16: the row's last 16 bytes
    // (in bounds) against the input's last k values preceded by 16 − k
    // zeros, so the overlap adds exact zeros.
    let xt: [[i16; 16]; S] =
        core::array::from_fn(|s| core::array::from_fn(|i| if i < 16 - k { 0 } else { xq[s][len - 16 + i] }));
    // SAFETY: `len ≥ 16`, so bytes `len − 16 .. len` lie within every row;
    // `xt` holds 16 i16.
    unsafe {
        for (acc_r, row) in acc.iter_mut().zip(&rows) {
            let (lo, hi) = ext_i8(_mm_loadu_si128(row.as_ptr().add(len - 16).cast()));
            for (a, x) in acc_r.iter_mut().zip(&xt) {
                let (x0, x1) = (_mm_loadu_si128(x.as_ptr().cast()), _mm_loadu_si128(x.as_ptr().add(8).cast()));
                *a = _mm_add_epi32(*a, _mm_add_epi32(_mm_madd_epi16(lo, x0), _mm_madd_epi16(hi, x1)));
            }
        }
    }
    finish_i8(acc, rows, xq, len, len)
}

/// Sign-extends the 16 bytes of `v` to two vectors of eight i16.
#[inline(always)]
fn ext_i8(v: __m128i) -> (__m128i, __m128i) {
    // SAFETY: register-only SSE2 operations.
    unsafe { (_mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8), _mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8)) }
}

/// Horizontal sums of the i32 lanes plus the elements `body..len` (scalar).
#[inline(always)]
fn finish_i8<const R: usize, const S: usize>(
    acc: [[__m128i; S]; R],
    rows: [&[u8]; R],
    xq: [&[i16; QBLOCK]; S],
    body: usize,
    len: usize,
) -> [[i32; S]; R] {
    let mut out = [[0i32; S]; R];
    for ((out_r, acc_r), row) in out.iter_mut().zip(acc).zip(&rows) {
        for ((o, a), x) in out_r.iter_mut().zip(acc_r).zip(&xq) {
            // SAFETY: register-only SSE2 operations.
            let mut s = unsafe {
                let v = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0b00_00_11_10));
                _mm_cvtsi128_si32(_mm_add_epi32(v, _mm_shuffle_epi32(v, 0b00_00_00_01)))
            };
            for (&w, &q) in row.iter().zip(x.iter()).take(len).skip(body) {
                s += i32::from(w as i8) * i32::from(q);
            }
            *o = s;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{portable::dots as portable, Bf16W, FloatWeights, F16W, F32W};
    use super::*;

    struct XorShift(u32);
    impl XorShift {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 17;
            self.0 ^= self.0 << 5;
            self.0
        }
    }

    /// The AVX + FMA3 kernel (where the CPU has it) against the portable
    /// kernel (`libm::fmaf`), bit for bit, on random bytes: every half bit
    /// pattern (subnormals, zeros, infinities, NaNs), all lengths 0..=40,
    /// 3 rows × 2 inputs.
    fn check<W: FloatWeights>(rng: &mut XorShift, special_every: u32) {
        for n in 0..=40usize {
            let mut w = [0u8; 3 * 40 * 4];
            for (i, b) in w.chunks_exact_mut(2).enumerate() {
                let mut h = rng.next() as u16;
                if W::SIZE == 2 && special_every > 0 && rng.next() % special_every != 0 {
                    // Mostly finite halves with an occasional special one.
                    h &= 0xbfff;
                }
                if W::SIZE == 4 && i % 2 == 1 {
                    h = (h & 0xc0ff) | 0x3c00; // finite f32 of moderate size
                }
                b.copy_from_slice(&h.to_le_bytes());
            }
            let xs: [[f32; 40]; 2] =
                core::array::from_fn(|_| core::array::from_fn(|_| (rng.next() as i32 as f32) * 1e-9));
            let rows: [&[u8]; 3] = core::array::from_fn(|r| &w[W::SIZE * n * r..W::SIZE * n * (r + 1)]);
            let xr = [&xs[0][..n], &xs[1][..n]];
            let want = portable::<W, 3, 2>(rows, xr);
            let Some(got) = dots::<W, 3, 2>(rows, xr) else {
                assert!(!has_avx(), "declined n={n}");
                continue;
            };
            for r in 0..3 {
                for s in 0..2 {
                    let (g, e) = (got[r][s], want[r][s]);
                    assert!(g.to_bits() == e.to_bits() || (g.is_nan() && e.is_nan()), "n={n} r={r} s={s}: {g} vs {e}");
                }
            }
        }
    }

    #[test]
    fn simd_float_kernels_match_portable() {
        let mut rng = XorShift(12345);
        for _ in 0..20 {
            check::<F32W>(&mut rng, 0);
            check::<Bf16W>(&mut rng, 0);
            check::<F16W>(&mut rng, 0);
            check::<F16W>(&mut rng, 50);
        }
    }

    /// Every half through `vcvtph2ps` equals the portable conversion.
    #[test]
    fn half_widening_exact() {
        if !has_avx() {
            return;
        }
        for base in (0..=u16::MAX).step_by(8) {
            let mut b = [0u8; 16];
            for (k, c) in b.chunks_exact_mut(2).enumerate() {
                c.copy_from_slice(&(base + k as u16).to_le_bytes());
            }
            let mut out = [0.0f32; 8];
            // SAFETY: F16C available; 16 readable bytes, 8 writable f32.
            unsafe { cvt8(b.as_ptr(), out.as_mut_ptr()) };
            for (k, o) in out.iter().enumerate() {
                let want = super::super::f16_bits_portable(base + k as u16);
                assert_eq!(o.to_bits(), want.to_bits(), "vcvtph2ps {:#06x}", base + k as u16);
            }
        }
    }

    #[target_feature(enable = "avx,f16c,fma")]
    unsafe fn cvt8(p: *const u8, out: *mut f32) {
        // SAFETY: forwarded from the caller.
        unsafe { _mm256_storeu_ps(out, _mm256_cvtph_ps(_mm_loadu_si128(p.cast()))) }
    }

    /// The int8 SSE2 dot products equal plain i64 sums (which fit i32).
    #[test]
    fn int8_dots_exact() {
        let mut rng = XorShift(99);
        for len in (0..=64).chain([255, 256, 511, 512]) {
            let w: [[u8; QBLOCK]; 3] = core::array::from_fn(|_| core::array::from_fn(|_| rng.next() as u8));
            let q: [[i16; QBLOCK]; 2] =
                core::array::from_fn(|_| core::array::from_fn(|_| (rng.next() % 65535) as i32 as i16));
            let q = q.map(|b| b.map(|v| v.clamp(-32767, 32767)));
            for avx2 in [false, has_avx2()] {
                let got = dots_i8_on::<3, 2>([&w[0][..len], &w[1][..len], &w[2][..len]], [&q[0], &q[1]], len, avx2);
                for r in 0..3 {
                    for s in 0..2 {
                        let want: i64 = (0..len).map(|i| i64::from(w[r][i] as i8) * i64::from(q[s][i])).sum();
                        assert_eq!(i64::from(got[r][s]), want, "len={len} avx2={avx2} r={r} s={s}");
                    }
                }
            }
        }
    }
}
