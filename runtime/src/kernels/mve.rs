//! Cortex-M55 / M85 Helium (M-profile vector extension) int8 dot products
//! (`ddaebm_mve`, set by build.rs for `thumbv8m.main-*-eabihf` built with
//! `-C target-cpu=cortex-m55` or `cortex-m85`). The layer around them is the
//! portable one (`portable::matvec_i8_multi`: quantise the input to i16 in
//! natural order, exact i32 block sums, the same scaling); only the integer
//! dot products run here: per 8 inputs, `VLDRH.S16` loads 8 quantised
//! activations once, and for each of 4 rows `VLDRB.S16` loads 8 weights
//! sign-extended to i16 and `VMLADAVA.S16` adds the 8 products to the row's
//! i32 accumulator. The sums are exact (the bound in the module docs rules
//! out overflow), so they equal the portable `dot_i8` bit for bit.

use super::QBLOCK;

/// `Σ_i q_r[i] · xq[i]` over the first `len` elements (at most [`QBLOCK`]
/// and the shortest row) of 4 rows, exact in i32.
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
