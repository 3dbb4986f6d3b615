//! The Armv7E-M DSP extension's int8 path (`ddaebm_dsp`, set by build.rs for
//! `thumbv7em-*` targets; stable Rust does not expose `target_feature =
//! "dsp"` as a cfg): `SXTB16` sign-extends bytes 0 and 2 (or, rotated, 1
//! and 3) of a weight word into two i16 lanes and `SMLAD` adds both 16 × 16
//! products to an i32 accumulator in one instruction. The activations are
//! stored in the matching pair order: word `2g` = (xq[4g], xq[4g+2]), word
//! `2g+1` = (xq[4g+1], xq[4g+3]). The sum is exact, so it equals the
//! portable `dot_i8` bit for bit.

use super::{f32_word, matvec_i8_elementwise, quant_scale, QBLOCK};
use core::mem::MaybeUninit;

/// Quantises `x` (at most `QBLOCK` values, a multiple of 4: a partial
/// last group is not written) into SMLAD pair order, as
/// [`quantise`](super::quantise) without its clamp: with `inv = 32767 /
/// max|x|` (or 0) every `|x · inv|` is at most `32767 + 2⁻⁹` after
/// rounding, so `trunc(x · inv ± 0.5)` already lies in −32767..=32767 and
/// the clamp never changes a value (same bits as the portable path).
#[inline]
pub(super) fn quantise_block(x: &[f32], inv: f32, buf: &mut [MaybeUninit<u32>; QBLOCK / 2]) {
    let q = |v: f32| {
        let t = v * inv;
        let r = if t < 0.0 { t - 0.5 } else { t + 0.5 };
        (r as i32) as u32
    };
    for (g, w) in x.chunks_exact(4).zip(buf.chunks_exact_mut(2)) {
        if let ([a, b, c, d], [w0, w1]) = (g, w) {
            w0.write((q(*a) & 0xffff) | (q(*c) << 16));
            w1.write((q(*b) & 0xffff) | (q(*d) << 16));
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
    buf: &[MaybeUninit<u32>; QBLOCK / 2],
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
    // `buf` (≤ QBLOCK / 2) from its start (those `quantise_block` wrote;
    // the asm reads them as plain bits), 2 scales and 2 biases, and
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

/// As the portable [`matvec_i8`], on the Armv7E-M DSP path (SMLAD).
pub(crate) fn matvec_i8(weight: &[u8], scale: &[u8], x: &[f32], bias: &[u8], y: &mut [f32]) {
    matvec_i8_act(weight, scale, x, bias, y, None);
}

/// [`matvec_i8`] followed by [`prelu`] with `slope` (if any), on the DSP
/// path. Layers of at most [`QBLOCK`] inputs, a multiple of 4, with
/// word-aligned weights, scales and biases (every layer of `export`'s files
/// but a first layer whose input size is not a multiple of 4) run in
/// [`rows`]: two rows per pass over the quantised input, scale, bias and
/// PReLU applied in the same loop. Others run one row at a time, one element
/// at a time (slow, small code). Same bits either way.
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
        // Not cleared: `rows` reads only the `n / 2` words written here.
        let mut buf = QBuf([MaybeUninit::uninit(); QBLOCK / 2]);
        let buf = &mut buf.0;
        quantise_block(x, inv, buf);
        let pairs = m / 2;
        if pairs > 0 {
            rows(weight, n, pairs, false, buf, scale, bias, y, sx, slope);
        }
        if m % 2 == 1 {
            // The odd last row, paired with itself.
            let k = m - 1;
            let (s, b) = (f32_word(scale, k), f32_word(bias, k));
            let mut out = [0.0f32; 2];
            let (s2, b2) = (pair_bytes(s), pair_bytes(b));
            rows(weight.get(k * n..).unwrap_or(&[]), n, 1, true, buf, &s2.0, &b2.0, &mut out, sx, slope);
            if let Some(yk) = y.get_mut(k) {
                *yk = out[0];
            }
        }
        return;
    }
    matvec_i8_elementwise(weight, scale, x, bias, y, sx, inv, slope);
}

/// The quantised activations of the DSP path, 8-byte aligned.
#[repr(C, align(8))]
struct QBuf([MaybeUninit<u32>; QBLOCK / 2]);

/// 8 bytes at a word-aligned address.
#[repr(align(4))]
struct Aligned8([u8; 8]);

/// `[v, v]` as little-endian f32 bytes, word-aligned.
fn pair_bytes(v: f32) -> Aligned8 {
    let b = v.to_le_bytes();
    Aligned8([b[0], b[1], b[2], b[3], b[0], b[1], b[2], b[3]])
}
