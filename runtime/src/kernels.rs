//! Numeric kernels: matrix–vector product and PReLU.
//!
//! Plain loops, written for clarity. All arithmetic is f32 with separate
//! multiplies and adds (Rust never fuses them into FMAs on its own), in a
//! fixed order, so results are bit-identical on every IEEE-754 target (host
//! and Cortex-M4F alike).
//!
//! Tensor bytes come straight from the model file and are not guaranteed to
//! be aligned, so elements are decoded from little-endian bytes one by one.

use crate::format::Dtype;

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

/// IEEE half → f32, exact. Portable: `half`'s bit manipulation.
#[cfg(not(all(target_arch = "arm", target_os = "none", target_abi = "eabihf")))]
#[inline]
fn f16_bits_to_f32(bits: u16) -> f32 {
    half::f16::from_bits(bits).to_f32()
}

/// IEEE half → f32, exact, with the FPU's `VCVTB.F32.F16` (one instruction;
/// `half`'s software conversion costs ≈ 3.5× more per multiply–accumulate
/// on a Cortex-M4F). Bare-metal hard-float Arm targets (Cortex-M4F/M7/M33,
/// FPv4 and later) all implement it. The conversion is exact for every half
/// value, so results stay bit-identical to the portable path (the firmware
/// parity test checks this under QEMU).
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

/// Decodes a signed 8-bit integer from a 1-byte chunk into f32 (exact; NaN
/// for any other length, which `chunks_exact(1)` rules out).
#[inline]
pub(crate) fn i8_le(bytes: &[u8]) -> f32 {
    match *bytes {
        [a] => f32::from(i8::from_le_bytes([a])),
        _ => f32::NAN,
    }
}

/// The `i`-th f32 of a little-endian F32 tensor's bytes.
#[inline]
pub(crate) fn f32_at(bytes: &[u8], i: usize) -> Option<f32> {
    bytes.chunks_exact(4).nth(i).map(f32_le)
}

/// `y = W x + b` for a row-major `W` of shape `[y.len(), x.len()]` stored as
/// `dtype` bytes, and an F32 bias `b` of `y.len()` elements.
///
/// Accumulation order, for each output j: `acc = 0.0`, then
/// `acc += W[j][i] * x[i]` for i = 0, 1, …, in−1, then `y[j] = acc + b[j]`.
///
/// For [`Dtype::I8`] weights `W[j][i] = scale[j] · q[j][i]`, with `scale` an
/// F32 vector of `y.len()` elements: `acc += q[j][i] * x[i]` (q converted to
/// f32 exactly), then `y[j] = scale[j] * acc + b[j]`. For the other dtypes
/// `scale` is not read.
///
/// The caller guarantees `weight.len() == y.len() * x.len() * dtype.size()`,
/// `bias.len() == 4 * y.len()` and, for I8, `scale.len() == 4 * y.len()`
/// (validated at load); with shorter inputs the loops stop early instead of
/// panicking.
pub(crate) fn matvec(weight: &[u8], dtype: Dtype, scale: &[u8], x: &[f32], bias: &[u8], y: &mut [f32]) {
    let row_bytes = x.len().saturating_mul(dtype.size()).max(1);
    let rows = y.iter_mut().zip(weight.chunks_exact(row_bytes)).zip(bias.chunks_exact(4));
    match dtype {
        Dtype::F32 => rows.for_each(|((yj, row), bj)| *yj = dot(row, x, 4, f32_le) + f32_le(bj)),
        Dtype::F16 => rows.for_each(|((yj, row), bj)| *yj = dot(row, x, 2, f16_le) + f32_le(bj)),
        Dtype::Bf16 => rows.for_each(|((yj, row), bj)| *yj = dot(row, x, 2, bf16_le) + f32_le(bj)),
        Dtype::I8 => {
            for (((yj, row), bj), sj) in rows.zip(scale.chunks_exact(4)) {
                *yj = f32_le(sj) * dot(row, x, 1, i8_le) + f32_le(bj);
            }
        }
    }
}

/// Σ decode(w_i) · x_i over one row of `width`-byte elements, accumulated in
/// f32 in input order from 0.0 (the order every host and MCU build shares).
#[inline(always)]
fn dot(row: &[u8], x: &[f32], width: usize, decode: impl Fn(&[u8]) -> f32) -> f32 {
    let mut acc = 0.0f32;
    for (w, xi) in row.chunks_exact(width).zip(x) {
        acc += decode(w) * *xi;
    }
    acc
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
        // int8: row 0 = 0.5 · [2, 4], row 1 = 0.25 · [-12, 2].
        let wq = [2i8, 4, -12, 2].map(|q| q.to_le_bytes()[0]);
        let mut s = [0u8; 8];
        for (c, v) in s.chunks_exact_mut(4).zip([0.5f32, 0.25]) {
            c.copy_from_slice(&v.to_le_bytes());
        }
        let mut yq = [0.0f32; 2];
        matvec(&wq, Dtype::I8, &s, &x, &b, &mut yq);
        assert_eq!(yq, y);
        // A missing scale stops the loop instead of panicking.
        let mut yq = [7.0f32; 2];
        matvec(&wq, Dtype::I8, &[], &x, &b, &mut yq);
        assert_eq!(yq, [7.0; 2]);
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
        for q in i8::MIN..=i8::MAX {
            assert_eq!(i8_le(&q.to_le_bytes()), f32::from(q));
        }
        assert!(i8_le(&[1, 2]).is_nan());
    }
}
