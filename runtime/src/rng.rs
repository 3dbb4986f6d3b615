//! A small seeded PRNG and normal draws, identical on every target.
//!
//! * Generator: xoshiro128++ (Blackman & Vigna), 128-bit state, 32-bit
//!   outputs; fast on 32-bit MCUs and good enough for sampling.
//! * Seeding: the 64-bit seed runs splitmix64 twice; each output's low then
//!   high 32 bits fill the state words 0..4 (an all-zero state, which
//!   xoshiro cannot leave, is replaced by a fixed non-zero one).
//! * Uniform: the top 24 bits of [`Rng::next_u32`] times 2⁻²⁴, in `[0, 1)`.
//! * Normal: the Marsaglia polar method in f32, using `libm::logf` and
//!   `libm::sqrtf`. `libm` is a pure-Rust port of musl's correctly
//!   behaving routines, so the same seed gives bit-identical draws on the
//!   host and on the MCU. (Fast approximations such as `micromath`'s would
//!   differ between targets and are several percent off.)
//!
//! The polar method produces normals in pairs: [`Rng::normal`] returns the
//! first and keeps the second, which the next call to `normal` returns.
//! [`Rng::next_u32`] and [`Rng::uniform`] do not touch the kept value.

/// A seeded pseudo-random number generator (xoshiro128++) with normal draws.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: [u32; 4],
    /// The second normal of the last polar pair, as f32 bits.
    spare: Option<u32>,
}

/// One splitmix64 step.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator seeded from `seed`; the same seed always gives the same stream.
    #[inline(always)]
    pub fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let a = splitmix64(&mut sm);
        let b = splitmix64(&mut sm);
        let mut state = [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32];
        if state == [0; 4] {
            state = [0x9E37_79B9, 0x7F4A_7C15, 0xF39C_C060, 0x5CED_C834];
        }
        Rng { state, spare: None }
    }

    /// The next 32 random bits (one xoshiro128++ step).
    pub fn next_u32(&mut self) -> u32 {
        let [s0, s1, s2, s3] = self.state;
        let result = s0.wrapping_add(s3).rotate_left(7).wrapping_add(s0);
        let t = s1 << 9;
        let s2 = s2 ^ s0;
        let s3 = s3 ^ s1;
        let s1 = s1 ^ s2;
        let s0 = s0 ^ s3;
        let s2 = s2 ^ t;
        let s3 = s3.rotate_left(11);
        self.state = [s0, s1, s2, s3];
        result
    }

    /// A uniform draw in `[0, 1)`: `(next_u32() >> 8) · 2⁻²⁴`, so every
    /// value is a multiple of 2⁻²⁴ and exactly representable.
    pub fn uniform(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }

    /// A standard normal draw (Marsaglia polar method, f32).
    ///
    /// If a value is kept from the previous pair it is returned. Otherwise:
    /// repeat `u = 2·uniform() − 1`, `v = 2·uniform() − 1`, `s = u² + v²`
    /// until `0 < s < 1` (π/4 of the tries succeed); then
    /// `m = sqrtf(−2·logf(s) / s)`, keep `v·m` and return `u·m`.
    pub fn normal(&mut self) -> f32 {
        if let Some(bits) = self.spare.take() {
            return f32::from_bits(bits);
        }
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let m = sqrtf(-2.0 * libm::logf(s) / s);
                self.spare = Some((v * m).to_bits());
                return u * m;
            }
        }
    }
}

/// The correctly rounded square root: `libm::sqrtf`, or on hard-float
/// bare-metal Arm (FPv4 and later) the FPU's `VSQRT.F32`, which IEEE 754
/// also requires to be correctly rounded, so both give the same bits for
/// every input this file passes (positive, finite) and the MCU links no
/// software square root.
#[inline]
fn sqrtf(x: f32) -> f32 {
    #[cfg(ddaebm_fpu)]
    #[allow(unsafe_code)]
    {
        let out: u32;
        // SAFETY: moves `x` into s15, VSQRT.F32 in place, moves the result
        // back; s15 is declared clobbered; no memory, stack or flags are
        // touched (only FPSCR's sticky exception bits), and every hard-float
        // bare-metal Arm target this cfg selects has an FPU with VSQRT.
        unsafe {
            core::arch::asm!(
                "vmov s15, {inp}",
                "vsqrt.f32 s15, s15",
                "vmov {out}, s15",
                inp = in(reg) x.to_bits(),
                out = lateout(reg) out,
                out("s15") _,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        f32::from_bits(out)
    }
    #[cfg(not(ddaebm_fpu))]
    {
        libm::sqrtf(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro128pp_reference() {
        // Reference values of xoshiro128++ from state [1, 2, 3, 4]
        // (computed with the authors' C reference implementation).
        let mut rng = Rng { state: [1, 2, 3, 4], spare: None };
        let expected = [641, 1_573_767, 3_222_811_527, 3_517_856_514, 836_907_274];
        for e in expected {
            assert_eq!(rng.next_u32(), e);
        }
    }

    #[test]
    fn splitmix64_reference() {
        // First outputs of splitmix64 from state 0 (Vigna's reference).
        let mut s = 0u64;
        assert_eq!(splitmix64(&mut s), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut s), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn uniform_range() {
        let mut rng = Rng::new(7);
        for _ in 0..10_000 {
            let u = rng.uniform();
            assert!((0.0..1.0).contains(&u));
        }
    }

    #[test]
    fn normal_pairs_and_determinism() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..1001 {
            assert_eq!(a.normal().to_bits(), b.normal().to_bits());
        }
        assert_eq!(a, b);
        let mut c = Rng::new(43);
        let mut a = Rng::new(42);
        assert_ne!(a.normal(), c.normal());
    }
}
