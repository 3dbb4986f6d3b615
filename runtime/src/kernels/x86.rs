//! x86-64 kernels with explicit SSE2 (part of the x86-64 baseline, so no
//! runtime detection and no `-C target-cpu`): the same arithmetic as the
//! portable kernels, bit for bit.
//!
//! * Float rows: the eight partial sums `a[0..8]` of the module docs are two
//!   SSE registers (`a[0..4]`, `a[4..8]`); each step is `_mm_mul_ps` then
//!   `_mm_add_ps` (separate roundings, as `acc += w * x`), the reduction
//!   `((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7))` is `v = lo + hi`, then
//!   `(v0+v2) + (v1+v3)`. `R` rows × `S` inputs are blocked so that each
//!   loaded input chunk serves `R` rows and each widened weight chunk `S`
//!   inputs.
//! * Halves are widened exactly by integer moves and one multiply:
//!   `sign | (exponent·mantissa << 13)` read as an f32 and multiplied by
//!   2¹¹² is the half's value for every finite half (subnormal halves become
//!   f32 subnormals first, which the multiply scales exactly: no flush to
//!   zero, the Rust default MXCSR). Infinities and NaNs would not be; a
//!   chunk containing one flags the call and the caller uses the portable
//!   kernel instead (same bits, slower; exported models have none).
//! * With AVX and F16C (detected once at run time with `cpuid` / `xgetbv`;
//!   no `-C target-cpu` needed) the same loop runs on 8-wide registers, one
//!   per accumulator set (lane k = `a[k]`), `vmulps` then `vaddps` (never
//!   FMA), and halves are widened by `vcvtph2ps` (exact for every half,
//!   NaNs quieted with their payload, as the portable conversion). The
//!   reduction is the SSE one on the two 128-bit halves.
//! * Int8: weights are sign-extended to i16 and `_mm_madd_epi16` adds
//!   products pairwise into i32 lanes; the sum is exact (the `QBLOCK` bound
//!   holds for every partial sum), so the order of the integer additions
//!   does not matter.
#![allow(unsafe_code)]
#![allow(unused_unsafe)] // intrinsics are safe to call from Rust 1.87 on; unsafe blocks keep 1.85 building

use core::arch::x86_64::*;
use core::sync::atomic::{AtomicU8, Ordering};

use super::{add_tail, Bf16W, F16W, F32W, FloatWeights, LANES, QBLOCK};

/// What the SSE / AVX float kernels need of a weight dtype (the supertrait
/// of [`FloatWeights`] on x86-64).
pub(crate) trait SseLoad {
    /// IEEE half (not bfloat16) elements.
    const IEEE_HALF: bool = false;
    /// `LANES` elements at `p` as two SSE vectors (lanes 0..4, 4..8); a
    /// nonzero value ORed into `special` means the portable path must run.
    ///
    /// # Safety
    /// `p` must be valid for reading `LANES · SIZE` bytes.
    unsafe fn load_sse(p: *const u8, special: &mut __m128i) -> [__m128; 2];
}

impl SseLoad for F32W {
    #[inline(always)]
    unsafe fn load_sse(p: *const u8, _: &mut __m128i) -> [__m128; 2] {
        // SAFETY: forwarded from the caller (32 readable bytes).
        unsafe { load_f32(p) }
    }
}

impl SseLoad for F16W {
    const IEEE_HALF: bool = true;
    #[inline(always)]
    unsafe fn load_sse(p: *const u8, special: &mut __m128i) -> [__m128; 2] {
        // SAFETY: forwarded from the caller (16 readable bytes).
        unsafe { load_f16(p, special) }
    }
}

impl SseLoad for Bf16W {
    #[inline(always)]
    unsafe fn load_sse(p: *const u8, _: &mut __m128i) -> [__m128; 2] {
        // SAFETY: forwarded from the caller (16 readable bytes).
        unsafe { load_bf16(p) }
    }
}

/// 2¹¹² (exponent offset between f32 and IEEE half).
const F16_SCALE: f32 = 5.192_297e33;

/// Eight F32 at `p` as two vectors.
///
/// # Safety
/// `p` must be valid for reading 32 bytes (no alignment needed).
#[inline(always)]
pub(super) unsafe fn load_f32(p: *const u8) -> [__m128; 2] {
    // SAFETY: the caller guarantees 32 readable bytes; loadu has no alignment requirement.
    unsafe { [_mm_loadu_ps(p.cast()), _mm_loadu_ps(p.add(16).cast())] }
}

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

/// Eight IEEE halves at `p` widened exactly to two f32 vectors; ORs a
/// nonzero value into `special` if any of them is an infinity or NaN (whose
/// lanes are then wrong).
///
/// # Safety
/// `p` must be valid for reading 16 bytes.
#[inline(always)]
pub(super) unsafe fn load_f16(p: *const u8, special: &mut __m128i) -> [__m128; 2] {
    // SAFETY: the caller guarantees 16 readable bytes; loadu has no alignment requirement.
    unsafe {
        let v = _mm_loadu_si128(p.cast());
        let e = _mm_set1_epi16(0x7c00);
        *special = _mm_or_si128(*special, _mm_cmpeq_epi16(_mm_and_si128(v, e), e));
        let z = _mm_setzero_si128();
        // h << 16 per 32-bit lane; an arithmetic shift by 3 puts the
        // exponent and mantissa at bit 13 and copies the sign into bits
        // 28..31, of which the mask keeps bit 31.
        let m = _mm_set1_epi32(0x8fff_ffff_u32 as i32);
        let lo = _mm_and_si128(_mm_srai_epi32(_mm_unpacklo_epi16(z, v), 3), m);
        let hi = _mm_and_si128(_mm_srai_epi32(_mm_unpackhi_epi16(z, v), 3), m);
        let k = _mm_set1_ps(F16_SCALE);
        [_mm_mul_ps(_mm_castsi128_ps(lo), k), _mm_mul_ps(_mm_castsi128_ps(hi), k)]
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

/// 0: not yet detected, 1: SSE2 only, 2: AVX + F16C usable, 3: and AVX2.
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

/// Whether the CPU and the OS support AVX and F16C.
#[inline]
pub(crate) fn has_avx() -> bool {
    level() >= 2
}

/// Whether the CPU and the OS support AVX2 (and AVX, F16C).
#[inline]
pub(crate) fn has_avx2() -> bool {
    level() >= 3
}

#[cold]
fn detect() -> u8 {
    // SAFETY: `cpuid` exists on every x86-64 CPU (leaf 7 answers zeros where unsupported).
    let (c, c7) = unsafe { (__cpuid(1), __cpuid_count(7, 0)) };
    let (osxsave, avx, f16c) = (c.ecx & (1 << 27) != 0, c.ecx & (1 << 28) != 0, c.ecx & (1 << 29) != 0);
    // SAFETY: OSXSAVE set means the OS enabled XSAVE, so `xgetbv` exists.
    if !(osxsave && avx && f16c && unsafe { xcr0() } & 0b110 == 0b110) {
        return 1; // no AVX, or the OS does not save YMM state
    }
    if c7.ebx & (1 << 5) != 0 {
        3
    } else {
        2
    }
}

/// # Safety
/// The CPU must support `xgetbv` (CPUID.1:ECX.OSXSAVE).
#[target_feature(enable = "xsave")]
unsafe fn xcr0() -> u64 {
    // SAFETY: forwarded (OSXSAVE checked by the caller).
    unsafe { _xgetbv(0) }
}

/// As `kernels::dots` (same bits): `R` rows × `S` inputs. `None` when a
/// length does not match (the portable kernel then answers, with NaN) or a
/// half weight is an infinity or NaN (the portable kernel then answers).
#[inline(always)]
pub(crate) fn dots<W: FloatWeights, const R: usize, const S: usize>(
    rows: [&[u8]; R],
    xs: [&[f32]; S],
) -> Option<[[f32; S]; R]> {
    if level() == 0 {
        return None; // forced: the portable kernel answers
    }
    dots_on::<W, R, S>(rows, xs, has_avx())
}

/// [`dots`] on AVX (`avx`, which must then be available) or SSE2.
#[inline(always)]
fn dots_on<W: FloatWeights, const R: usize, const S: usize>(
    rows: [&[u8]; R],
    xs: [&[f32]; S],
    avx: bool,
) -> Option<[[f32; S]; R]> {
    let n = xs.first().map_or(0, |x| x.len());
    if xs.iter().any(|x| x.len() != n) || rows.iter().any(|r| r.len() < n * W::SIZE) {
        return None;
    }
    let chunks = n / LANES;
    let body = chunks * LANES;
    if avx {
        // SAFETY: AVX and F16C are available (the caller's contract); the lengths
        // were checked above.
        let acc = unsafe { body_avx::<W, R, S>(rows, xs, chunks) };
        let mut out = [[0.0f32; S]; R];
        for ((out_r, acc_r), row) in out.iter_mut().zip(acc).zip(&rows) {
            let row_tail = row.get(body * W::SIZE..n * W::SIZE).unwrap_or(&[]);
            for ((o, a), x) in out_r.iter_mut().zip(acc_r).zip(&xs) {
                *o = add_tail::<W>(reduce(a), row_tail, x.get(body..).unwrap_or(&[]));
            }
        }
        return Some(out);
    }
    // SAFETY: every load below reads chunk `c < chunks` of a row (`LANES ·
    // W::SIZE` bytes at `c · LANES · W::SIZE`, within the `n · W::SIZE`
    // checked above) or of an input (8 f32 at `c · LANES`, within `n`).
    let acc = unsafe {
        let mut acc = [[[_mm_setzero_ps(); 2]; S]; R];
        let mut special = _mm_setzero_si128();
        for c in 0..chunks {
            let xv: [[__m128; 2]; S] = core::array::from_fn(|s| {
                let p = xs[s].as_ptr().add(c * LANES);
                [_mm_loadu_ps(p), _mm_loadu_ps(p.add(4))]
            });
            for (acc_r, row) in acc.iter_mut().zip(&rows) {
                let w = W::load_sse(row.as_ptr().add(c * LANES * W::SIZE), &mut special);
                for (a, x) in acc_r.iter_mut().zip(&xv) {
                    a[0] = _mm_add_ps(a[0], _mm_mul_ps(w[0], x[0]));
                    a[1] = _mm_add_ps(a[1], _mm_mul_ps(w[1], x[1]));
                }
            }
        }
        if _mm_movemask_epi8(special) != 0 {
            return None;
        }
        acc
    };
    let mut out = [[0.0f32; S]; R];
    for ((out_r, acc_r), row) in out.iter_mut().zip(acc).zip(&rows) {
        let row_tail = row.get(body * W::SIZE..n * W::SIZE).unwrap_or(&[]);
        for ((o, a), x) in out_r.iter_mut().zip(acc_r).zip(&xs) {
            *o = add_tail::<W>(reduce(a), row_tail, x.get(body..).unwrap_or(&[]));
        }
    }
    Some(out)
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
/// AVX registers, returned as two 4-lane halves each.
///
/// # Safety
/// AVX and F16C must be available; every row must hold `chunks · LANES ·
/// W::SIZE` bytes and every input `chunks · LANES` values.
#[target_feature(enable = "avx,f16c")]
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
                    *a = _mm256_add_ps(*a, _mm256_mul_ps(w, *x));
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

    /// SSE2 and (where the CPU has it) AVX against the portable kernel, bit
    /// for bit, on random bytes: every half bit pattern (subnormals, zeros,
    /// infinities, NaNs), all lengths 0..=40, 3 rows × 2 inputs.
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
            for avx in [false, true] {
                if avx && !has_avx() {
                    continue;
                }
                if let Some(got) = dots_on::<W, 3, 2>(rows, xr, avx) {
                    for r in 0..3 {
                        for s in 0..2 {
                            let (g, e) = (got[r][s], want[r][s]);
                            assert!(
                                g.to_bits() == e.to_bits() || (g.is_nan() && e.is_nan()),
                                "n={n} avx={avx} r={r} s={s}: {g} vs {e}"
                            );
                        }
                    }
                } else {
                    // Only a special half may make the fast kernel decline.
                    assert!(W::IEEE_HALF && !avx, "declined n={n} avx={avx}");
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

    /// Every half through both widening paths equals the portable conversion.
    #[test]
    fn half_widening_exact() {
        for base in (0..=u16::MAX).step_by(8) {
            let mut b = [0u8; 16];
            for (k, c) in b.chunks_exact_mut(2).enumerate() {
                c.copy_from_slice(&(base + k as u16).to_le_bytes());
            }
            // SAFETY: register-only SSE2.
            let mut special = unsafe { _mm_setzero_si128() };
            let mut out = [0.0f32; 8];
            // SAFETY: 16 readable bytes; 8 writable f32.
            unsafe {
                let [lo, hi] = load_f16(b.as_ptr(), &mut special);
                _mm_storeu_ps(out.as_mut_ptr(), lo);
                _mm_storeu_ps(out.as_mut_ptr().add(4), hi);
            }
            // SAFETY: register-only SSE2.
            let flagged = unsafe { _mm_movemask_epi8(special) } != 0;
            let mut any_special = false;
            for (k, o) in out.iter().enumerate() {
                let h = base + k as u16;
                let want = super::super::f16_bits_portable(h);
                if h & 0x7c00 == 0x7c00 {
                    any_special = true;
                } else {
                    assert_eq!(o.to_bits(), want.to_bits(), "{h:#06x}");
                }
            }
            assert_eq!(flagged, any_special, "{base:#06x}");
            if has_avx() {
                let mut out = [0.0f32; 8];
                // SAFETY: F16C available; 16 readable bytes, 8 writable f32.
                unsafe { cvt8(b.as_ptr(), out.as_mut_ptr()) };
                for (k, o) in out.iter().enumerate() {
                    let want = super::super::f16_bits_portable(base + k as u16);
                    assert_eq!(o.to_bits(), want.to_bits(), "vcvtph2ps {:#06x}", base + k as u16);
                }
            }
        }
    }

    #[target_feature(enable = "avx,f16c")]
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
