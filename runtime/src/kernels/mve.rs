//! Cortex-M55 / M85 Helium (M-profile vector extension) int8 layers
//! (`ddaebm_mve`, set by build.rs for `thumbv8m.main-*-eabihf` built with
//! `-C target-cpu=cortex-m55` or `cortex-m85`), in three tail-predicated
//! low-overhead loops (`DLSTP` / `LETP`: the last, partial vector is
//! predicated instead of run in scalar code):
//!
//! * the largest `|x|` as bits: per 4 inputs `VLDRW`, `VBIC` of the sign
//!   bit, `VMAXV.U32` (integer, so NaN and infinity are seen as in
//!   [`quant_scale`](super::quant_scale));
//! * the quantisation to i16 in natural order: per 4 inputs `VLDRW`,
//!   `VMUL` by `inv`, `VAND` + `VORR` for `copysign(0.5, t)`, `VADD`,
//!   `VCVT` (toward zero), `VSTRH.32`;
//! * the rows, 4 per pass: per 8 inputs one `VLDRH` of 8 activations, per
//!   row `VLDRB.S16` of 8 weights and `VMLADAVA.S16` into the row's i32
//!   accumulator (10 instructions per 32 MACs with the `LETP`); then the 4
//!   sums are converted with one vector `VCVT` and scaled, biased and
//!   PReLU'd with scalar FPU instructions, in the portable kernel's order.
//!
//! Why the vector float operations give the portable bits: MVE floating
//! point runs with the "standard FPSCR value" (subnormals flushed to zero,
//! default NaN, round to nearest even), the scalar FPU with the program's
//! FPSCR (no flushing). The quantisation is unaffected: its inputs are
//! finite (checked first), `inv` is normal or 0, and every value whose
//! rounding could see a subnormal quantises to 0 either way (`|x · inv|`
//! < 2⁻¹¹ for a subnormal `x`, since `inv` ≤ 32767 · 2¹⁰⁰; a subnormal
//! `t` gives `t ± 0.5` = ±0.5 → 0). `copysign(0.5, t)` instead of the
//! comparison `t < 0` only differs for `t` = −0.0 (−0.5 instead of 0.5,
//! both → 0). The clamp to ±32767 never binds (see `dsp::quantise_block`).
//! The i32 → f32 conversion is exact or rounds to nearest even in both,
//! and never meets a subnormal. Everything else (the scale, bias and
//! PReLU, where subnormals and NaN payloads can occur) is scalar.

use super::{matvec_i8_elementwise, quant_scale_bits, QBLOCK};
use core::mem::MaybeUninit;

/// `Σ_i q_r[i] · xq[i]` over the first `len` elements (at most [`QBLOCK`]
/// and the shortest row) of 4 rows, exact in i32: the inner product of the
/// portable multi-input kernel (`portable::matvec_i8_multi`, batched
/// scoring) on this target.
#[allow(unsafe_code)]
pub(super) fn dot4(rows: [&[u8]; 4], buf: &[i16; QBLOCK], len: usize) -> [i32; 4] {
    let len = rows.iter().fold(len.min(QBLOCK), |l, r| l.min(r.len()));
    let body = len & !7;
    let mut acc = [0i32; 4];
    if body > 0 {
        let (mut a0, mut a1, mut a2, mut a3) = (0i32, 0i32, 0i32, 0i32);
        // SAFETY: each iteration reads 8 i16 of `buf` and 8 bytes of each row
        // at offsets below `body`, which is at most `len`, itself at most
        // `QBLOCK` (the i16 count of `buf`) and every row's length; `body` is
        // a positive multiple of 8, so the loop ends exactly at it. MVE is
        // present on every target that sets `ddaebm_mve`; q0 and q1 (d0–d3)
        // are declared clobbered; no stack, flags are clobbered by SUBS.
        unsafe {
            core::arch::asm!(
                "2:",
                "vldrh.s16 q0, [{x}], #16",
                "vldrb.s16 q1, [r0], #8",
                "vmladava.s16 r8, q1, q0",
                "vldrb.s16 q1, [r1], #8",
                "vmladava.s16 r10, q1, q0",
                "vldrb.s16 q1, [r2], #8",
                "vmladava.s16 r12, q1, q0",
                "vldrb.s16 q1, [r3], #8",
                "vmladava.s16 lr, q1, q0",
                "subs {n}, {n}, #8",
                "bne 2b",
                x = inout(reg) buf.as_ptr() => _,
                n = inout(reg) body => _,
                // The widening byte loads take a low register as the base;
                // VMLADAVA's accumulator must be an even-numbered register.
                inout("r0") rows[0].as_ptr() => _,
                inout("r1") rows[1].as_ptr() => _,
                inout("r2") rows[2].as_ptr() => _,
                inout("r3") rows[3].as_ptr() => _,
                inout("r8") a0,
                inout("r10") a1,
                inout("r12") a2,
                inout("lr") a3,
                out("d0") _, out("d1") _, out("d2") _, out("d3") _,
                options(nostack, readonly),
            );
        }
        acc = [a0, a1, a2, a3];
    }
    for (a, row) in acc.iter_mut().zip(rows) {
        for (&w, &xq) in row.get(body..len).unwrap_or(&[]).iter().zip(buf.get(body..len).unwrap_or(&[])) {
            *a += i32::from(w as i8) * i32::from(xq);
        }
    }
    acc
}

/// [`matvec_i8`](super::matvec_i8) followed by [`prelu`](super::prelu)
/// with `slope` (if any), on Helium. Layers of 1 to [`QBLOCK`] inputs with
/// word-aligned scales and biases (every layer of `export`'s files) run in
/// the three vector loops of the module docs; others one element at a
/// time (`matvec_i8_elementwise`: slow, small code). Same bits either way.
#[allow(unsafe_code)]
pub(crate) fn matvec_i8_act(weight: &[u8], scale: &[u8], x: &[f32], bias: &[u8], y: &mut [f32], slope: Option<f32>) {
    let (n, m) = (x.len(), y.len());
    let Some((sx, inv)) = quant_scale_bits(max_abs_bits(x)) else {
        y.iter_mut().for_each(|v| *v = f32::NAN);
        return;
    };
    // No PReLU = slope 1.0, which leaves every value as it is (v · 1.0 == v).
    let slope = slope.unwrap_or(1.0);
    let word_aligned = |b: &[u8]| b.as_ptr() as usize % 4 == 0;
    let fits = weight.len() / n.max(1) >= m && scale.len() / 4 >= m && bias.len() / 4 >= m;
    if n == 0 || n > QBLOCK || !fits || !word_aligned(scale) || !word_aligned(bias) {
        matvec_i8_elementwise(weight, scale, x, bias, y, sx, inv, slope);
        return;
    }
    let mut buf = MaybeUninit::<[i16; QBLOCK]>::uninit();
    let q = buf.as_mut_ptr().cast::<i16>();
    // SAFETY: `x` holds `n` f32 (1 ≤ n ≤ QBLOCK), `q` has room for QBLOCK
    // i16, and `quantise` writes exactly `q[..n]`, which is all `rows4`
    // reads of it (below).
    unsafe { quantise(x.as_ptr(), n, inv, q) };
    let rows = |first: usize, stride: usize, groups: usize, s: &[u8], b: &[u8], out: &mut [f32]| {
        // Row k (k = 0..4·groups) starts at byte `first · n + k · stride`:
        // the bytes read end at `first · n + (4 · groups − 1) · stride + n`.
        let end = (first * n).saturating_add((4 * groups).saturating_sub(1).saturating_mul(stride)).saturating_add(n);
        if groups > 0 && end <= weight.len() && s.len() >= 16 * groups && b.len() >= 16 * groups && out.len() >= 4 * groups {
            // SAFETY: just checked: the rows read lie in `weight`, 4 · groups
            // scales and biases (word-aligned: checked above, or the local
            // arrays below) and outputs exist; `q[..n]` is written (above),
            // 1 ≤ n ≤ QBLOCK.
            unsafe { rows4(weight.as_ptr().wrapping_add(first * n), n, stride, groups, q, s, b, out, sx, slope) };
        }
    };
    let groups = m / 4;
    rows(0, n, groups, scale, bias, y);
    let k = m & !3;
    if m % 4 != 0 && m >= 4 {
        // The last m % 4 rows: the last 4 rows again (the outputs already
        // written get the same bits).
        let j = m - 4;
        rows(j, n, 1, scale.get(4 * j..).unwrap_or(&[]), bias.get(4 * j..).unwrap_or(&[]), y.get_mut(j..).unwrap_or(&mut []));
    } else {
        // Fewer than 4 rows: each row alone, 4 times (row stride 0).
        for j in k..m {
            let (s, b) = (word4(scale, j), word4(bias, j));
            let mut out = [0.0f32; 4];
            rows(j, 0, 1, &s.0, &b.0, &mut out);
            if let Some(yj) = y.get_mut(j) {
                *yj = out[0];
            }
        }
    }
}

/// 16 bytes at a word-aligned address.
#[repr(align(4))]
struct Aligned16([u8; 16]);

/// The `j`-th 4 bytes of `bytes` 4 times, word-aligned (zeros if out of
/// range, which the callers' length checks rule out).
fn word4(bytes: &[u8], j: usize) -> Aligned16 {
    let w = bytes.get(4 * j..).and_then(<[u8]>::first_chunk::<4>).copied().unwrap_or([0; 4]);
    Aligned16(core::array::from_fn(|i| w[i % 4]))
}

/// The largest `v.to_bits() & 0x7fff_ffff` over `x` (0 for an empty `x`).
#[allow(unsafe_code)]
fn max_abs_bits(x: &[f32]) -> u32 {
    let mut mb = 0u32;
    if !x.is_empty() {
        // SAFETY: the tail-predicated loop reads exactly the `x.len()` f32
        // of `x` (4-byte aligned, as VLDRW needs), 4 per iteration, the last
        // iteration's lanes past the end predicated off (not accessed).
        // Clobbers q0 (d0, d1), lr and the flags.
        unsafe {
            core::arch::asm!(
                "dlstp.32 lr, {n}",
                "2:",
                "vldrw.u32 q0, [{x}], #16",
                "vbic.i32 q0, #0x80000000",
                "vmaxv.u32 {m}, q0",
                "letp lr, 2b",
                x = inout(reg) x.as_ptr() => _,
                n = in(reg) x.len(),
                m = inout(reg) mb,
                out("lr") _, out("d0") _, out("d1") _,
                options(nostack, readonly),
            );
        }
    }
    mb
}

/// Quantises `n` f32 at `x` into `n` i16 at `q`: `trunc(t + copysign(0.5,
/// t))` with `t = x · inv` (the portable [`quantise`](super::quantise),
/// see the module docs for why the bits agree).
///
/// # Safety
///
/// `n` ≥ 1; `x` points to `n` readable f32 (4-byte aligned), `q` to `n`
/// writable i16 (2-byte aligned); all inputs finite.
#[allow(unsafe_code)]
unsafe fn quantise(x: *const f32, n: usize, inv: f32, q: *mut i16) {
    // SAFETY: per the contract above: the tail-predicated loop reads `n`
    // f32 from `x` and writes `n` i16 to `q`, 4 per iteration, the last
    // iteration's lanes past the end predicated off (not accessed).
    // Clobbers q0–q2 (d0–d5), lr and the flags.
    unsafe {
        core::arch::asm!(
            "vmov.i32 q2, #0x80000000",
            "dlstp.32 lr, {n}",
            "2:",
            "vldrw.u32 q0, [{x}], #16",
            "vmul.f32 q0, q0, {inv}",
            "vand q1, q0, q2",
            "vorr.i32 q1, #0x3f000000",
            "vadd.f32 q0, q0, q1",
            "vcvt.s32.f32 q0, q0",
            "vstrh.32 q0, [{q}], #8",
            "letp lr, 2b",
            x = inout(reg) x => _,
            q = inout(reg) q => _,
            n = in(reg) n,
            inv = in(reg) inv.to_bits(),
            out("lr") _, out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _,
            options(nostack),
        );
    }
}

/// One output of a group: `s = (sx · s) · acc + b`, then `s · slope` if
/// negative (`$s` scale → result, `$a` the sum as f32, `$b` the bias; sx in
/// s24, slope in s25).
#[rustfmt::skip]
macro_rules! out1 {
    ($s:literal, $a:literal, $b:literal) => {
        concat!(
            "vmul.f32 ", $s, ", s24, ", $s, "\n",
            "vmul.f32 ", $s, ", ", $s, ", ", $a, "\n",
            "vadd.f32 ", $s, ", ", $s, ", ", $b, "\n",
            "vcmp.f32 ", $s, ", #0\n",
            "vmrs APSR_nzcv, fpscr\n",
            "it mi\n",
            "vmulmi.f32 ", $s, ", ", $s, ", s25",
        )
    };
}

/// `groups` groups of 4 int8 rows of `n` bytes against the `n` quantised
/// inputs at `q`: row `k` starts at `w + k · stride` (`stride` = `n` for
/// consecutive rows, 0 for one row 4 times), output `k` is
/// `(sx · scale[k]) · Σ q_k[i]·xq[i] + bias[k]`, times `slope` when
/// negative, written to `y[k]` (k = 0..4·groups).
///
/// # Safety
///
/// 1 ≤ `n` ≤ QBLOCK and `q[..n]` written; `groups` ≥ 1; the bytes
/// `w[..(4·groups − 1)·stride + n]` readable; `scale` and `bias` word-
/// aligned with `16 · groups` bytes each; `y` with `4 · groups` f32.
#[allow(unsafe_code, clippy::too_many_arguments)]
#[inline(never)]
unsafe fn rows4(
    w: *const u8,
    n: usize,
    stride: usize,
    groups: usize,
    q: *const i16,
    scale: &[u8],
    bias: &[u8],
    y: &mut [f32],
    sx: f32,
    slope: f32,
) {
    // The loop's memory: scale, bias and output pointers, groups left, row
    // stride, activations, sx and slope.
    let mut ctx: [usize; 8] = [
        scale.as_ptr() as usize,
        bias.as_ptr() as usize,
        y.as_mut_ptr() as usize,
        groups,
        stride,
        q as usize,
        sx.to_bits() as usize,
        slope.to_bits() as usize,
    ];
    // SAFETY: per the contract above. Per group the asm reads `n` bytes of
    // each of its 4 rows (r0–r3, `VLDRB.S16` needs low base registers) and
    // `n` i16 of `q` (tail-predicated: lanes past `n` are not accessed, the
    // pointers only step past the end), 4 scales and 4 biases (`VLDM`,
    // word-aligned), and writes 4 outputs (`VSTM`), advancing the pointers
    // in `ctx` (a local array the asm reads and writes through the pointer
    // it gets, which it pushes on the stack and pops before the end).
    // `VMLADAVA` needs even accumulators (r4, r8, r10, r12); lr is the
    // loop counter. Clobbers only the declared registers (q0–q5 = d0–d11,
    // s24 and s25 = d12) and the flags.
    unsafe {
        core::arch::asm!(
            "push {{r0}}",
            "vldr s24, [r0, #24]",
            "vldr s25, [r0, #28]",
            "vmov.i32 q5, #0",
            "3:",
            // Row pointers and activations of this group; accumulators = 0.
            "ldr r0, [sp]",
            "ldr r4, [r0, #16]",
            "ldr r5, [r0, #20]",
            "mov r0, r9",
            "add r1, r0, r4",
            "add r2, r1, r4",
            "add r3, r2, r4",
            "add r9, r3, r4",
            "vmov r4, r8, s20, s21",
            "vmov r10, r12, s20, s21",
            "dlstp.16 lr, r11",
            "2:",
            "vldrh.u16 q0, [r5], #16",
            "vldrb.s16 q1, [r0], #8",
            "vmladava.s16 r4, q1, q0",
            "vldrb.s16 q1, [r1], #8",
            "vmladava.s16 r8, q1, q0",
            "vldrb.s16 q1, [r2], #8",
            "vmladava.s16 r10, q1, q0",
            "vldrb.s16 q1, [r3], #8",
            "vmladava.s16 r12, q1, q0",
            "letp lr, 2b",
            // The 4 sums → f32 (s8–s11), scales s12–s15, biases s16–s19.
            "vmov s8, s9, r4, r8",
            "vmov s10, s11, r10, r12",
            "vcvt.f32.s32 q2, q2",
            "ldr r0, [sp]",
            "ldm r0, {{r1, r2, r3, r4}}",
            "vldmia r1!, {{s12-s15}}",
            "vldmia r2!, {{s16-s19}}",
            out1!("s12", "s8", "s16"),
            out1!("s13", "s9", "s17"),
            out1!("s14", "s10", "s18"),
            out1!("s15", "s11", "s19"),
            "vstmia r3!, {{s12-s15}}",
            "subs r4, r4, #1",
            "stm r0, {{r1, r2, r3, r4}}",
            "bne 3b",
            "add sp, sp, #4",
            inout("r0") ctx.as_mut_ptr() => _,
            inout("r9") w => _,
            in("r11") n,
            out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
            out("r8") _, out("r10") _, out("r12") _, out("lr") _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _,
            out("d6") _, out("d7") _, out("d8") _, out("d9") _, out("d10") _, out("d11") _,
            out("d12") _,
        );
    }
    let _ = ctx;
}
