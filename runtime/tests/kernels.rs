//! The fast kernels (blocked, SIMD on the host; the MCU loops are checked
//! bit for bit against the host by the firmware parity test) against plain
//! reference kernels written here straight from the documented arithmetic
//! (docs/model-format.md, "Arithmetic"), on random shapes: every output
//! must be identical to the bit. Also: `energy_batch` equals `energy`, and
//! the error the int8 path's i16 activations add over f32 activations.

use crate::common::*;
use ddaebm_runtime::{Model, Rng};

/// The documented float dot product: 8 interleaved partial sums, each step
/// a fused multiply–add (std's `mul_add`, correctly rounded), a fixed
/// reduction tree, the tail in order.
fn ref_dot(w: &[f32], x: &[f32]) -> f32 {
    let body = x.len() - x.len() % 8;
    let mut a = [0.0f32; 8];
    for i in 0..body {
        a[i % 8] = w[i].mul_add(x[i], a[i % 8]);
    }
    let mut s = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
    for i in body..x.len() {
        s = w[i].mul_add(x[i], s);
    }
    s
}

/// The documented int8 layer: i16 activations with one scale per vector,
/// exact integer sums per block of 512 inputs, block sums added in f32.
fn ref_int8(q: &[i8], scale: &[f32], x: &[f32], bias: &[f32]) -> Vec<f32> {
    let n = x.len();
    let m = x.iter().fold(0.0f32, |m, v| if v.abs() > m { v.abs() } else { m });
    let (sx, inv) = if m < 2f32.powi(-100) { (0.0, 0.0) } else { (m / 32767.0, 32767.0 / m) };
    let xq: Vec<i32> = x
        .iter()
        .map(|&v| {
            let t = v * inv;
            let r = if t < 0.0 { t - 0.5 } else { t + 0.5 };
            (r as i32).clamp(-32767, 32767)
        })
        .collect();
    (0..bias.len())
        .map(|j| {
            let mut acc = 0.0f32;
            for b in (0..n).step_by(512) {
                let part: i64 = (b..n.min(b + 512)).map(|i| q[j * n + i] as i64 * xq[i] as i64).sum();
                acc += part as i32 as f32;
            }
            (sx * scale[j]) * acc + bias[j]
        })
        .collect()
}

/// A layer chain in f32 with the reference kernels and the weights as
/// stored for `wt`.
fn ref_forward(layers: &[LayerSpec], t: usize, x: &[f32], wt: Wt) -> Vec<f32> {
    let mut h = x.to_vec();
    for l in layers {
        let bias = if l.per_step { &l.b[t * l.out..(t + 1) * l.out] } else { &l.b[..] };
        let mut y: Vec<f32> = match wt {
            Wt::Int8 => {
                let (q, s) = quantise_i8(&l.w, l.out, l.inp);
                ref_int8(&q, &s, &h, bias)
            }
            _ => {
                let w: Vec<f32> =
                    l.w.iter()
                        .map(|&w| match wt {
                            Wt::F16 => round_f16(w),
                            Wt::Bf16 => round_bf16(w),
                            _ => w,
                        })
                        .collect();
                (0..l.out).map(|j| ref_dot(&w[j * l.inp..(j + 1) * l.inp], &h) + bias[j]).collect()
            }
        };
        if let Some(p) = l.prelu {
            for v in &mut y {
                if *v < 0.0 {
                    *v *= p;
                }
            }
        }
        h = y;
    }
    h
}

fn normalise(spec: &Spec, x: &[f32]) -> Vec<f32> {
    x.iter().enumerate().map(|(i, &v)| (v - spec.mean[i]) * spec.inv_std[i]).collect()
}

/// Random shapes: widths around the 8-lane, 4-row and 16-byte boundaries,
/// and (int8) past one 512-input block.
fn shapes() -> Vec<(usize, usize, Vec<usize>)> {
    let mut rng = Rng::new(77);
    let mut out = vec![(2, 2, vec![300, 300]), (3, 1, vec![600, 9]), (1, 0, vec![8]), (9, 7, vec![1, 16])];
    for _ in 0..12 {
        let r = |rng: &mut Rng, n: u32| (rng.next_u32() % n) as usize;
        let d = 1 + r(&mut rng, 20);
        let nz = r(&mut rng, 6);
        let widths = (0..1 + r(&mut rng, 3)).map(|_| 1 + r(&mut rng, 70)).collect();
        out.push((d, nz, widths));
    }
    out
}

#[test]
fn every_kernel_matches_the_reference_bit_for_bit() {
    for (k, (d, nz, widths)) in shapes().into_iter().enumerate() {
        let spec = random_spec_dims(500 + k as u64, d, nz, 3, &widths);
        for wt in Wt::ALL {
            let bytes = spec.build(wt);
            let model = Model::from_bytes(&bytes).unwrap();
            let mut scratch = scratch_for(&model);
            let mut rng = Rng::new(k as u64);
            for t in 0..3 {
                let x: Vec<f32> = (0..d).map(|_| 2.0 * rng.normal()).collect();
                let f = model.energy(&x, t, &mut scratch).unwrap();
                let want = ref_forward(&spec.energy, t, &normalise(&spec, &x), wt)[0];
                assert_eq!(f.to_bits(), want.to_bits(), "{wt:?} shape {k} {widths:?} t={t}: {f} vs {want}");
                let z: Vec<f32> = (0..nz).map(|_| rng.normal()).collect();
                let mut x0 = vec![0.0f32; d];
                model.generate(&x, &z, t, &mut x0, &mut scratch).unwrap();
                let input: Vec<f32> = x.iter().chain(&z).copied().collect();
                let want = ref_forward(&spec.generator, t, &input, wt);
                let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&x0), bits(&want), "{wt:?} shape {k} {widths:?} t={t} generator");
            }
        }
    }
}

#[test]
fn energy_batch_equals_energy() {
    for (k, (d, nz, widths)) in shapes().into_iter().enumerate().take(8) {
        let spec = random_spec_dims(900 + k as u64, d, nz, 2, &widths);
        for wt in Wt::ALL {
            let bytes = spec.build(wt);
            let model = Model::from_bytes(&bytes).unwrap();
            let mut rng = Rng::new(k as u64);
            for n in [0usize, 1, 3, 4, 5, 9, 17] {
                let xs: Vec<f32> = (0..n * d).map(|_| 2.0 * rng.normal()).collect();
                let mut out = vec![0.0f32; n];
                let mut big = vec![0.0f32; model.batch_scratch_len(n)];
                model.energy_batch(&xs, 1, &mut out, &mut big).unwrap();
                let mut scratch = scratch_for(&model);
                for (b, o) in out.iter().enumerate() {
                    let f = model.energy(&xs[b * d..(b + 1) * d], 1, &mut scratch).unwrap();
                    assert_eq!(o.to_bits(), f.to_bits(), "{wt:?} shape {k} n={n} b={b}");
                }
            }
        }
    }
    // Argument checks.
    let spec = random_spec(3);
    let bytes = spec.build(Wt::F32);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut out = [0.0f32; 2];
    let mut big = vec![0.0f32; model.batch_scratch_len(2)];
    assert!(model.energy_batch(&[0.0; 3], 0, &mut out, &mut big).is_err());
    assert!(model.energy_batch(&[0.0; 4], 9, &mut out, &mut big).is_err());
    assert!(model.energy_batch(&[0.0; 4], 0, &mut out, &mut big[1..]).is_err());
    assert!(model.energy_batch(&[f32::NAN, 0.0, 0.0, 0.0], 0, &mut out, &mut big).is_err());
}

/// What the int8 path's i16 activations cost: the energy with the kernel's
/// quantised activations against the same int8 weights with f32
/// activations (the pre-SMLAD arithmetic), relative to the energies' RMS,
/// on 300-wide nets like the quickstart model. Printed; bound 1e-3.
#[test]
fn int8_activation_quantisation_error() {
    let mut worst = 0.0f64;
    for seed in 0..4 {
        let spec = random_spec_dims(40 + seed, 2, 2, 4, &[32, 300, 300]);
        let bytes = spec.build(Wt::Int8);
        let model = Model::from_bytes(&bytes).unwrap();
        let mut scratch = scratch_for(&model);
        let mut rng = Rng::new(seed);
        let (mut got, mut want) = (Vec::new(), Vec::new());
        for _ in 0..64 {
            let x: Vec<f32> = (0..2).map(|_| 2.0 * rng.normal()).collect();
            got.push(model.energy(&x, 0, &mut scratch).unwrap() as f64);
            want.push(
                reference_forward(
                    &spec.energy,
                    0,
                    &normalise(&spec, &x).iter().map(|&v| v as f64).collect::<Vec<_>>(),
                    Wt::Int8,
                )[0],
            );
        }
        let rms = (want.iter().map(|v| v * v).sum::<f64>() / want.len() as f64).sqrt();
        let max = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        worst = worst.max(max / rms);
    }
    eprintln!("int8: i16 activations vs f32 activations, max |Δ| / rms over 256 energies: {worst:.2e}");
    assert!(worst < 1e-3, "{worst:e}");
}
