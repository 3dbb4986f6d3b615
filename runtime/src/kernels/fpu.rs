//! Bare-metal hard-float Arm (`ddaebm_fpu`: Cortex-M4F, M7, M33, M55) float
//! loops: `VLDM` loads eight weights or inputs
//! in one instruction and `VFMA.F32` (fused: `acc + w · x` rounded once,
//! exactly as the portable `fma(w, x, acc)`) accumulates the eight
//! partial sums of two rows at once in s16–s31, so each input chunk is
//! loaded once per row pair. The reduction and the tail are the portable
//! code. Bit-identical to the portable kernel (firmware parity test).

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
            "vfma.f32 s16, s0, s8",
            "vfma.f32 s17, s1, s9",
            "vfma.f32 s18, s2, s10",
            "vfma.f32 s19, s3, s11",
            "vfma.f32 s20, s4, s12",
            "vfma.f32 s21, s5, s13",
            "vfma.f32 s22, s6, s14",
            "vfma.f32 s23, s7, s15",
            "vldmia {w1}!, {{s8-s15}}",
            "vfma.f32 s24, s0, s8",
            "vfma.f32 s25, s1, s9",
            "vfma.f32 s26, s2, s10",
            "vfma.f32 s27, s3, s11",
            "vfma.f32 s28, s4, s12",
            "vfma.f32 s29, s5, s13",
            "vfma.f32 s30, s6, s14",
            "vfma.f32 s31, s7, s15",
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
            "vfma.f32 s16, s0, s1",
            "vfma.f32 s24, s0, s2",
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
            "vfma.f32 s16, s0, s8",
            "vfma.f32 s17, s1, s12",
            "vfma.f32 s18, s2, s9",
            "vfma.f32 s19, s3, s13",
            "vfma.f32 s20, s4, s10",
            "vfma.f32 s21, s5, s14",
            "vfma.f32 s22, s6, s11",
            "vfma.f32 s23, s7, s15",
            "vldmia {w1}!, {{s8-s11}}",
            "vcvtt.f32.f16 s12, s8",
            "vcvtb.f32.f16 s8, s8",
            "vcvtt.f32.f16 s13, s9",
            "vcvtb.f32.f16 s9, s9",
            "vcvtt.f32.f16 s14, s10",
            "vcvtb.f32.f16 s10, s10",
            "vcvtt.f32.f16 s15, s11",
            "vcvtb.f32.f16 s11, s11",
            "vfma.f32 s24, s0, s8",
            "vfma.f32 s25, s1, s12",
            "vfma.f32 s26, s2, s9",
            "vfma.f32 s27, s3, s13",
            "vfma.f32 s28, s4, s10",
            "vfma.f32 s29, s5, s14",
            "vfma.f32 s30, s6, s11",
            "vfma.f32 s31, s7, s15",
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
            "vfma.f32 s16, s0, s1",
            "vfma.f32 s24, s0, s2",
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

/// Their initial value (+0.0).
static ZERO_LANES: Lanes = Lanes([0.0; LANES]);

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
            // Copied from a static zero block through `black_box`: LLVM would
            // otherwise clear it with `__aeabi_memclr4`, 174 bytes of flash
            // linked for this slow path alone (scripts/runtime-flash.sh).
            let mut acc = Lanes(core::hint::black_box(&ZERO_LANES).0);
            let body = chunks * LANES;
            let mut s = 0.0;
            for (i, (w, xi)) in r0.chunks_exact(size).zip(x).enumerate() {
                let w = elem(dtype, w);
                if i < body {
                    let a = &mut acc.0[i % LANES];
                    *a = vfma(w, *xi, *a);
                    if i + 1 == body {
                        s = reduce(acc.0);
                    }
                } else {
                    s = vfma(w, *xi, s);
                }
            }
            *y0 = s + f32_le(b0);
            continue;
        }
        let second = if row_bytes == 0 { None } else { rows.next().zip(outs.next()) };
        let r1 = second.as_ref().map_or(r0, |(r, _)| *r);
        let a =
            if dtype == Dtype::F16 { f16_rows2(r0, r1, x, chunks, tail) } else { f32_rows2(r0, r1, x, chunks, tail) };
        *y0 = a[0] + f32_le(b0);
        if let Some((_, (y1, b1))) = second {
            *y1 = a[1] + f32_le(b1);
        }
    }
}

/// `a · b + c` rounded once, with the FPU's `VFMA.F32` (every FPU these
/// targets have, FPv4 and later, implements it).
#[inline]
#[allow(unsafe_code)]
pub(super) fn vfma(a: f32, b: f32, c: f32) -> f32 {
    let out: u32;
    // SAFETY: moves the operands into FP registers s13–s15, computes s15 =
    // s15 + s13 · s14 with VFMA.F32 and moves the result back; s13–s15 are
    // declared clobbered, no memory, stack or flags are touched (only
    // FPSCR's sticky exception bits), and every target this cfg selects
    // has the instruction.
    unsafe {
        core::arch::asm!(
            "vmov s13, {a}",
            "vmov s14, {b}",
            "vmov s15, {c}",
            "vfma.f32 s15, s13, s14",
            "vmov {out}, s15",
            a = in(reg) a.to_bits(),
            b = in(reg) b.to_bits(),
            c = in(reg) c.to_bits(),
            out = lateout(reg) out,
            out("s13") _, out("s14") _, out("s15") _,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    f32::from_bits(out)
}

/// IEEE half → f32, exact, with the FPU's `VCVTB.F32.F16` (one instruction).
/// Bare-metal hard-float Arm targets (Cortex-M4F/M7/M33, FPv4 and later)
/// all implement it. The conversion is exact for every half value, so
/// results stay bit-identical to the portable path (the firmware parity test
/// checks this under QEMU).
#[inline]
#[allow(unsafe_code)]
pub(super) fn f16_bits_to_f32(bits: u16) -> f32 {
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
