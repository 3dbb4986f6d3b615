//! The portable kernels: the reference. Float dot products in the fixed
//! summation order of the [module docs](super) (8 interleaved partial sums,
//! a fixed reduction, the tail in order), with the x86-64 SIMD kernel behind
//! [`fast_dots`] where there is one; the int8 product as exact i32 sums of
//! [`QBLOCK`] blocks. Every target-specific kernel (`x86`, `fpu`, `dsp`)
//! must give these bits (`runtime/tests/kernel_paths.rs` on the host, the
//! firmware parity tests on each MCU family).

use super::*;
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
                    *a = fma(*w, *x, *a);
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

/// [`dots`] through the target's SIMD kernel where there is one (x86-64
/// with AVX + FMA3), the portable code otherwise or when the SIMD kernel
/// declines. Same bits either way.
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

/// Rows processed together by the portable single-input float kernel: 4 on
/// the host (independent SIMD accumulator chains), 1 on 32-bit Arm, where
/// the aligned F32 / F16 rows take the `mcu` loops and the portable path
/// only serves BF16 and unaligned files (smaller code).
#[cfg(not(ddaebm_fpu))]
const HOST_ROWS: usize = if cfg!(target_arch = "arm") { 1 } else { 4 };

/// `y = W x + b` for float weights, portable: [`HOST_ROWS`] rows at a time.
#[cfg(not(ddaebm_fpu))]
pub(super) fn matvec_float<W: FloatWeights>(weight: &[u8], x: &[f32], bias: &[u8], y: &mut [f32]) {
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
/// (SSE2) and with Helium (`mve`), each input chunk loaded once for 4 rows;
/// 1 elsewhere.
#[cfg(not(ddaebm_dsp))]
const I8_ROWS: usize = if cfg!(any(target_arch = "x86_64", ddaebm_mve)) { 4 } else { 1 };

/// `R` rows × `S` quantised inputs, the first `len` (≤ `QBLOCK`) elements
/// of each, exact in i32.
#[cfg(not(ddaebm_dsp))]
#[inline(always)]
fn dots_i8<const R: usize, const S: usize>(rows: [&[u8]; R], bufs: [&[i16; QBLOCK]; S], len: usize) -> [[i32; S]; R] {
    #[cfg(target_arch = "x86_64")]
    if x86::level() > 0 {
        return x86::dots_i8::<R, S>(rows, bufs, len);
    }
    #[cfg(ddaebm_mve)]
    if let (Ok(rows4), [buf]) = (<[&[u8]; 4]>::try_from(&rows[..]), &bufs[..]) {
        let d = super::mve::dot4(rows4, buf, len);
        return core::array::from_fn(|r| core::array::from_fn(|_| d[r]));
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

