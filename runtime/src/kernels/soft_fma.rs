//! `fma(a, b, c)` = `a·b + c` rounded once (IEEE 754 fusedMultiplyAdd,
//! round to nearest, ties to even) in integer arithmetic, for the targets
//! without a floating-point unit (Cortex-M0, M3, RISC-V rv32imac), where
//! the float kernels' multiply–accumulate runs in software.
//!
//! Why not `libm::fmaf`: it widens to f64 (three conversions, an f64
//! multiply and add, all emulated there), which cost 310 instructions per
//! MAC on the Cortex-M3 against 152 for the separate f32 multiply and add it
//! replaced, and ≈ 2.5 KB of f64 routines in flash. Here the 24 × 24-bit
//! product is one 64-bit integer multiply and the sum, normalisation and
//! rounding are shifts and adds on 64-bit integers (SoftFloat's
//! `f32_mulAdd` method: both operands in a 64-bit frame with the product's
//! 48 bits exact, the smaller one shifted right with a sticky bit).
//!
//! Accuracy: exact (correctly rounded), the same bits as a hardware FMA for
//! every finite result, zero, infinity and subnormal; NaN results are NaN
//! (their payload is not part of the contract). Checked against the host's
//! `f32::mul_add` on random and edge-case operands (the tests below).

/// `a · b + c` rounded once (round to nearest, ties to even).
#[inline(never)]
pub(crate) fn fmaf(a: f32, b: f32, c: f32) -> f32 {
    let (ua, ub, uc) = (a.to_bits(), b.to_bits(), c.to_bits());
    let (ea, eb, ec) = ((ua >> 23) & 0xff, (ub >> 23) & 0xff, (uc >> 23) & 0xff);
    if ea == 0xff || eb == 0xff {
        // An infinite or NaN factor: the product is infinite or NaN however
        // it is rounded, so the f32 operations give the fused result.
        return a * b + c;
    }
    if ec == 0xff {
        // A finite product plus an infinity or NaN is that (quieted).
        return c + c;
    }
    if ua << 1 == 0 || ub << 1 == 0 {
        // A zero factor: the product (a signed zero) is exact.
        return a * b + c;
    }
    if uc << 1 == 0 {
        // c = ±0: the exact sum is the (nonzero) product, rounded once; a
        // product that rounds to zero keeps its sign.
        let p = a * b;
        return if p == 0.0 { p } else { p + c };
    }
    let sign_p = (ua ^ ub) >> 31;
    let sign_c = uc >> 31;
    let (ma, xa) = unpack(ua, ea);
    let (mb, xb) = unpack(ub, eb);
    let (mc, xc) = unpack(uc, ec);
    // Significands with the leading bit at bit 23: value = m · 2^(x − 150).
    // Both operands go into one 64-bit frame, leading bit at bit 61:
    // value = M · 2^(X − 188). c: M = mc << 38, X = xc. The product (47 or
    // 48 bits, exact) moved to [2^47, 2^48), then << 14: X = xa + xb − 126
    // (− 1 when it was moved up).
    let mut mp = u64::from(ma) * u64::from(mb); // in [2^46, 2^48)
    let mut xp = xa + xb - 126;
    if mp < 1 << 47 {
        mp <<= 1;
        xp -= 1;
    }
    let mp = mp << 14;
    let mc = u64::from(mc) << 38;
    // The larger operand first; the smaller one aligned to its exponent
    // (shifted right with a sticky bit: the frame's 14 or more zero low
    // bits keep every shift by up to 14 exact, and a larger one leaves the
    // result at most one bit of cancellation).
    let (mut big, small, x, sign_big, sign_small) =
        if xp > xc || (xp == xc && mp >= mc) { (mp, mc, xp, sign_p, sign_c) } else { (mc, mp, xc, sign_c, sign_p) };
    let small = shift_right_jam(small, (xp - xc).unsigned_abs());
    let mut m = if sign_big == sign_small {
        big += small; // ≤ 2^63: no overflow (both < 2^62)
        big
    } else {
        big - small // big ≥ small: same exponent compares the frames, else big > small
    };
    if m == 0 {
        // Exact cancellation: +0 in round to nearest.
        return 0.0;
    }
    // Normalise to the leading bit at bit 62; the 24 bits 62..39 are then
    // the result's significand q with value q · 2^(e − 150).
    let lz = m.leading_zeros() as i32; // m < 2^63, so lz ≥ 1
    m <<= lz - 1;
    let mut e = x + 2 - lz;
    // Round to 24 bits: keep bits 62..39, the rest decides.
    if e <= 0 {
        // Subnormal (or zero) result: 1 − e more bits go (sticky kept).
        m = shift_right_jam(m, (1 - e) as u32);
        e = 0;
    }
    let rest = m & ((1 << 39) - 1);
    let mut q = (m >> 39) as u32; // up to 24 bits
    if rest > 1 << 38 || (rest == 1 << 38 && q & 1 == 1) {
        q += 1; // may carry into bit 24: the exponent field takes it
    }
    // q has its leading bit at bit 23 for normal results (the field adds it
    // to the exponent); for e = 0 a carry into bit 23 gives the smallest
    // normal, as the encoding intends.
    let bits = if e == 0 { q } else { ((e as u32 - 1) << 23) + q };
    if bits >= 0x7f80_0000 {
        return f32::from_bits((sign_big << 31) | 0x7f80_0000); // overflow
    }
    f32::from_bits((sign_big << 31) | bits)
}

/// The significand (leading bit at bit 23) and exponent (biased, as a
/// normal number's: value = m · 2^(x − 150)) of a finite nonzero f32 with
/// exponent field `e`.
#[inline(always)]
fn unpack(u: u32, e: u32) -> (u32, i32) {
    let f = u & 0x7f_ffff;
    if e != 0 {
        (f | 0x80_0000, e as i32)
    } else {
        // Subnormal: normalise (f ≠ 0 here).
        let s = f.leading_zeros() - 8;
        (f << s, 1 - s as i32)
    }
}

/// `m >> d` with the bits shifted out ORed into bit 0 (a sticky bit).
#[inline(always)]
fn shift_right_jam(m: u64, d: u32) -> u64 {
    if d == 0 {
        m
    } else if d < 64 {
        (m >> d) | u64::from(m << (64 - d) != 0)
    } else {
        u64::from(m != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::fmaf;

    fn check(a: f32, b: f32, c: f32) {
        let want = a.mul_add(b, c);
        let got = fmaf(a, b, c);
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "fma({a:e} [{:#010x}], {b:e} [{:#010x}], {c:e} [{:#010x}]) = {got:e} [{:#010x}], want {want:e} [{:#010x}]",
            a.to_bits(),
            b.to_bits(),
            c.to_bits(),
            got.to_bits(),
            want.to_bits()
        );
    }

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// Random bit patterns (every class), and operands whose exponents make
    /// the product and `c` overlap, cancel, or fall into the subnormals.
    #[test]
    fn matches_hardware_fma_on_random_operands() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for i in 0..2_000_000u32 {
            let r = rng.next();
            let (a, b) = (f32::from_bits(r as u32), f32::from_bits((r >> 32) as u32));
            let c = match i % 4 {
                0 => f32::from_bits(rng.next() as u32),
                // c near −a·b: cancellation.
                1 => -(a * b) * (1.0 + (rng.next() % 64) as f32 * f32::EPSILON),
                // c of the product's size with random low bits.
                2 => f32::from_bits((a * b).to_bits() ^ (rng.next() as u32 & 0x00ff_ffff)),
                _ => f32::from_bits((rng.next() as u32 & 0x807f_ffff) | ((rng.next() as u32 % 60) << 23)),
            };
            check(a, b, c);
        }
    }

    /// Operands of moderate size (the kernels' range) and small ones whose
    /// products land among the subnormals, with every sign.
    #[test]
    fn matches_hardware_fma_in_range_and_near_underflow() {
        let mut rng = XorShift(12345);
        let val = |r: u64, lo: u32, span: u32| {
            let e = lo + (r >> 40) as u32 % span;
            f32::from_bits(((r as u32) & 0x807f_ffff) | (e << 23))
        };
        for _ in 0..2_000_000 {
            let (a, b, c) = (val(rng.next(), 100, 50), val(rng.next(), 100, 50), val(rng.next(), 90, 70));
            check(a, b, c);
            let (a, b, c) = (val(rng.next(), 20, 60), val(rng.next(), 20, 60), val(rng.next(), 0, 40));
            check(a, b, c);
        }
    }

    #[test]
    fn edge_cases() {
        let specials = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            f32::from_bits(1),
            f32::from_bits(0x8000_0001),
            f32::from_bits(0x007f_ffff),
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            0.5,
            1.5,
            3.0,
            1.0 + f32::EPSILON,
            1.0 - f32::EPSILON / 2.0,
            1e-20,
            1e20,
        ];
        for &a in &specials {
            for &b in &specials {
                for &c in &specials {
                    check(a, b, c);
                }
            }
        }
        // Ties: (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46, minus 1 + 2^-22 → exactly 2^-46.
        let a = 1.0 + f32::EPSILON;
        check(a, a, -(1.0 + 2.0 * f32::EPSILON));
        check(a, a, -1.0);
        check(a, -a, 1.0);
    }
}
