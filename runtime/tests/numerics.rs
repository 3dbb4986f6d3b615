//! The runtime's numbers against a plain f64 reference and hand-written
//! replications of the sampler.

use crate::common::*;
use ddaebm_runtime::{scratch_len_for, Model, Rng, WeightDtype};

/// Runtime vs f64 reference with the file's (rounded / dequantised)
/// weights: f32 rounding only (1e-5) for float weights; int8 layers also
/// quantise their input to i16 (±32767 over the layer's max |x|, 0.5 LSB
/// ≈ 1.5e-5 of the max per element; measured worst 5e-5 here), bound 5e-4.
fn tol(wt: Wt) -> f64 {
    if wt == Wt::Int8 {
        5e-4
    } else {
        1e-5
    }
}

/// Test inputs in raw units.
fn inputs(seed: u64, d: usize, n: usize) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| (0..d).map(|_| 3.0 * rng.normal()).collect()).collect()
}

fn normalised_f64(spec: &Spec, x: &[f32]) -> Vec<f64> {
    x.iter().enumerate().map(|(i, &v)| (v as f64 - spec.mean[i] as f64) * spec.inv_std[i] as f64).collect()
}

#[test]
fn accessors_and_scratch_len() {
    let spec = random_spec(1);
    let bytes = spec.build(Wt::F32);
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!((model.data_dim(), model.nz(), model.steps()), (2, 2, 3));
    assert_eq!(model.weight_dtype(), WeightDtype::F32);
    assert_eq!(model.max_width(), 7);
    assert_eq!(model.scratch_len(), 2 * 7 + 2);
    assert_eq!(model.scratch_len(), scratch_len_for(2, 2, model.max_width()));
    // When D + nz is wider than every layer, it sets the buffer width.
    let spec = random_spec_dims(2, 6, 3, 2, &[4]);
    let bytes = spec.build(Wt::F16);
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.weight_dtype(), WeightDtype::F16);
    assert_eq!(model.scratch_len(), 2 * 9 + 6);
    assert_eq!(model.scratch_len(), scratch_len_for(6, 3, model.max_width()));
    for t in 0..2 {
        assert_eq!(model.coef1(t), Ok(spec.coef1[t]));
        assert_eq!(model.coef2(t), Ok(spec.coef2[t]));
        assert_eq!(model.posterior_std(t), Ok(spec.post_std[t]));
    }
    assert!(format!("{model:?}").contains("data_dim: 6"));
    for (wt, dtype) in [
        (Wt::F32, WeightDtype::F32),
        (Wt::F16, WeightDtype::F16),
        (Wt::Bf16, WeightDtype::Bf16),
        (Wt::Int8, WeightDtype::Int8),
    ] {
        let bytes = spec.build(wt);
        let model = Model::from_bytes(&bytes).unwrap();
        assert_eq!(model.weight_dtype(), dtype);
        assert_eq!(dtype.as_str(), wt.meta());
        // Same dimensions and scratch for every precision.
        assert_eq!(model.scratch_len(), 2 * 9 + 6);
    }
}

/// A file whose weight matrices mix dtypes loads, computes each layer in
/// its own dtype, and reports F32.
#[test]
fn mixed_weight_dtypes() {
    let spec = random_spec(6);
    let mut meta = spec.metadata(Wt::Int8);
    meta.retain(|(k, _)| k != "weight_dtype");
    meta.push(("weight_dtype".into(), "f32".into()));
    // Energy in int8, generator layers in bf16 / f16 / f32 alternately.
    let mut tensors: Vec<Tensor> = spec
        .tensors(Wt::Int8)
        .into_iter()
        .filter(|t| t.name.starts_with("energy.") || !t.name.starts_with("generator."))
        .collect();
    let gen: Vec<Tensor> = spec.tensors(Wt::F32).into_iter().collect();
    let pick = |wt: Wt, name: &str| spec.tensors(wt).into_iter().find(|t| t.name == name).unwrap();
    for t in gen.into_iter().filter(|t| t.name.starts_with("generator.")) {
        tensors.push(match t.name.as_str() {
            "generator.0.weight" => pick(Wt::Bf16, "generator.0.weight"),
            "generator.1.weight" => pick(Wt::F16, "generator.1.weight"),
            _ => t,
        });
    }
    let bytes = assemble(&meta, &tensors, 8);
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.weight_dtype(), WeightDtype::F32);
    let mut scratch = scratch_for(&model);
    let x = [0.4f32, -1.1];
    let xn = normalised_f64(&spec, &x);
    let f = model.energy(&x, 1, &mut scratch).unwrap();
    let f_ref = reference_forward(&spec.energy, 1, &xn, Wt::Int8)[0];
    assert!(close(f as f64, f_ref, tol(Wt::Int8)), "{f} vs {f_ref}");
    let z = [0.2f32, 0.9];
    let mut x0 = [0.0f32; 2];
    model.generate(&x, &z, 1, &mut x0, &mut scratch).unwrap();
    let mut h: Vec<f64> = x.iter().chain(&z).map(|&v| v as f64).collect();
    for (l, wt) in spec.generator.iter().zip([Wt::Bf16, Wt::F16, Wt::F32]) {
        h = reference_forward(std::slice::from_ref(l), 1, &h, wt);
    }
    for (a, b) in x0.iter().zip(&h) {
        assert!(close(*a as f64, *b, 1e-5), "{a} vs {b}");
    }
}

/// Int8 edge cases: a row of zeros (scale 1, all q = 0) gives exactly the
/// bias; a row with a single ±max value quantises it exactly to ±127.
#[test]
fn int8_zero_rows_and_extremes() {
    let mut spec = random_spec(12);
    let inp = spec.energy[0].inp;
    for w in &mut spec.energy[0].w[..inp] {
        *w = 0.0;
    }
    spec.generator[2].w[0] = -3.0;
    let (q, s) = quantise_i8(&spec.energy[0].w, spec.energy[0].out, inp);
    assert_eq!(s[0], 1.0);
    assert!(q[..inp].iter().all(|&q| q == 0));
    let g = &spec.generator[2];
    let (q, s) = quantise_i8(&g.w, g.out, g.inp);
    assert_eq!(q[0], -127);
    assert!(q.iter().all(|&q| q != i8::MIN));
    assert_eq!(s[0], (3.0f64 / 127.0) as f32);
    let bytes = spec.build(Wt::Int8);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = scratch_for(&model);
    for x in inputs(3, 2, 10) {
        let xn = normalised_f64(&spec, &x);
        for t in 0..spec.steps {
            let f = model.energy(&x, t, &mut scratch).unwrap();
            let f_ref = reference_forward(&spec.energy, t, &xn, Wt::Int8)[0];
            assert!(close(f as f64, f_ref, tol(Wt::Int8)), "t={t}: {f} vs {f_ref}");
        }
    }
}

#[test]
fn energy_and_generate_match_f64_reference() {
    for seed in 0..20 {
        let spec = random_spec(seed);
        for wt in Wt::ALL {
            let bytes = spec.build(wt);
            let model = Model::from_bytes(&bytes).unwrap();
            let mut scratch = scratch_for(&model);
            for x in inputs(seed + 100, 2, 10) {
                let xn = normalised_f64(&spec, &x);
                for t in 0..spec.steps {
                    let f = model.energy(&x, t, &mut scratch).unwrap();
                    let f_ref = reference_forward(&spec.energy, t, &xn, wt)[0];
                    assert!(close(f as f64, f_ref, tol(wt)), "{wt:?} t={t}: {f} vs {f_ref}");

                    let z = [0.7f32, -1.3];
                    let mut x0 = [0.0f32; 2];
                    let x_next = [x[0] * 0.3, x[1] * -0.2];
                    model.generate(&x_next, &z, t, &mut x0, &mut scratch).unwrap();
                    let input: Vec<f64> = x_next.iter().chain(&z).map(|&v| v as f64).collect();
                    let g_ref = reference_forward(&spec.generator, t, &input, wt);
                    for (a, b) in x0.iter().zip(&g_ref) {
                        assert!(close(*a as f64, *b, tol(wt)), "{wt:?} t={t}: {a} vs {b}");
                    }
                }
                let score = model.anomaly_score(&x, &mut scratch).unwrap();
                assert_eq!(score, -model.energy(&x, 0, &mut scratch).unwrap());
            }
        }
    }
}

/// F16 weights against the unrounded f32 weights: the error is that of
/// rounding each weight to half precision (relative 2^-11 ≈ 4.9e-4 per
/// weight), here bounded by 5e-3 (relative, absolute below magnitude 1;
/// measured: 1.1e-3).
#[test]
fn f16_weights_close_to_f32_weights() {
    let worst = worst_energy_error_vs_f32(Wt::F16);
    eprintln!("worst f16-vs-f32 energy error: {worst:e}");
    assert!(worst < 5e-3, "{worst}");
}

/// BF16 and INT8 weights against the unrounded f32 weights. bf16 keeps 8
/// significant bits (relative rounding 2^-9 ≈ 2e-3 per weight); int8 rounds
/// each weight to within scale/2 = max|row|/254. Bounds (relative, absolute
/// below magnitude 1): bf16 4e-2, int8 1.5e-1, about 3× the measured worst
/// cases printed here (bf16 1.4e-2, int8 4.8e-2 on these tiny random nets).
#[test]
fn bf16_and_int8_weights_close_to_f32_weights() {
    for (wt, bound) in [(Wt::Bf16, 4e-2), (Wt::Int8, 1.5e-1)] {
        let worst = worst_energy_error_vs_f32(wt);
        eprintln!("worst {wt:?}-vs-f32 energy error: {worst:e}");
        assert!(worst < bound, "{wt:?}: {worst}");
    }
}

#[test]
fn energy_of_raw_x_is_f_of_normalised_x() {
    let spec = random_spec(5);
    let bytes = spec.build(Wt::F32);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = scratch_for(&model);
    for x in inputs(9, 2, 20) {
        let mut xn = [0.0f32; 2];
        model.normalise(&x, &mut xn).unwrap();
        // The runtime's normalisation is (x - mean) * inv_std in f32.
        for i in 0..2 {
            assert_eq!(xn[i], (x[i] - spec.mean[i]) * spec.inv_std[i]);
        }
        for t in 0..3 {
            let raw = model.energy(&x, t, &mut scratch).unwrap();
            let norm = model.energy_normalised(&xn, t, &mut scratch).unwrap();
            assert_eq!(raw.to_bits(), norm.to_bits());
        }
        let mut back = [0.0f32; 2];
        model.denormalise(&xn, &mut back).unwrap();
        for i in 0..2 {
            assert_eq!(back[i], xn[i] * spec.std[i] + spec.mean[i]);
            assert!((back[i] - x[i]).abs() <= 1e-5 * x[i].abs().max(1.0));
        }
    }
}

#[test]
fn denoise_step_is_the_posterior_formula() {
    let spec = random_spec(11);
    let bytes = spec.build(Wt::F32);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = scratch_for(&model);
    let z = [0.3f32, -0.9];
    let eps = [1.1f32, -0.4];
    for t in 0..3 {
        let x_in = [0.5f32, -1.25];
        let mut x0 = [0.0f32; 2];
        model.generate(&x_in, &z, t, &mut x0, &mut scratch).unwrap();
        let (c1, c2, s) = (spec.coef1[t], spec.coef2[t], spec.post_std[t]);
        let mut x = x_in;
        model.denoise_step(&mut x, &z, &eps, t, &mut scratch).unwrap();
        for i in 0..2 {
            let expected = if t > 0 { c1 * x0[i] + c2 * x_in[i] + s * eps[i] } else { c1 * x0[i] + c2 * x_in[i] };
            assert_eq!(x[i].to_bits(), expected.to_bits(), "t={t} i={i}");
            // And against the f64 reference.
            let input: Vec<f64> = x_in.iter().chain(&z).map(|&v| v as f64).collect();
            let g = reference_forward(&spec.generator, t, &input, Wt::F32)[i];
            let noise = if t > 0 { s as f64 * eps[i] as f64 } else { 0.0 };
            let r = c1 as f64 * g + c2 as f64 * x_in[i] as f64 + noise;
            assert!(close(x[i] as f64, r, 1e-5));
        }
    }
    // At t = 0 eps is not used.
    let mut a = [0.5f32, -1.25];
    let mut b = a;
    model.denoise_step(&mut a, &z, &eps, 0, &mut scratch).unwrap();
    model.denoise_step(&mut b, &z, &[f32::NAN; 2], 0, &mut scratch).unwrap();
    assert_eq!(a, b);
}

/// Replicates `sample` with the public pieces and the documented draw order.
fn replicate(model: &Model<'_>, spec: &Spec, seed: u64) -> Vec<f32> {
    let (d, nz) = (spec.d, spec.nz);
    let mut rng = Rng::new(seed);
    let mut scratch = scratch_for(model);
    let mut x: Vec<f32> = (0..d).map(|_| rng.normal()).collect();
    for t in (0..spec.steps).rev() {
        let z: Vec<f32> = (0..nz).map(|_| rng.normal()).collect();
        let mut x0 = vec![0.0f32; d];
        model.generate(&x, &z, t, &mut x0, &mut scratch).unwrap();
        let eps: Vec<f32> = if t > 0 { (0..d).map(|_| rng.normal()).collect() } else { vec![0.0; d] };
        for i in 0..d {
            x[i] = if t > 0 {
                spec.coef1[t] * x0[i] + spec.coef2[t] * x[i] + spec.post_std[t] * eps[i]
            } else {
                spec.coef1[t] * x0[i] + spec.coef2[t] * x[i]
            };
        }
    }
    (0..d).map(|i| x[i] * spec.std[i] + spec.mean[i]).collect()
}

#[test]
fn sample_reproduces_hand_replication() {
    for (seed, spec) in
        [(3, random_spec(3)), (4, random_spec_dims(4, 3, 0, 1, &[6])), (5, random_spec_dims(5, 5, 3, 7, &[9, 4, 6]))]
    {
        for wt in Wt::ALL {
            let bytes = spec.build(wt);
            let model = Model::from_bytes(&bytes).unwrap();
            let mut scratch = scratch_for(&model);
            for s in 0..10u64 {
                let mut out = vec![0.0f32; spec.d];
                model.sample(&mut Rng::new(seed * 1000 + s), &mut out, &mut scratch).unwrap();
                let expected = replicate(&model, &spec, seed * 1000 + s);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&out), bits(&expected));
            }
        }
    }
}

#[test]
fn sample_via_denoise_step_and_draw_count() {
    let spec = random_spec(8);
    let bytes = spec.build(Wt::F32);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = scratch_for(&model);
    let mut rng = Rng::new(77);
    let mut out = [0.0f32; 2];
    model.sample(&mut rng, &mut out, &mut scratch).unwrap();

    let mut rng2 = Rng::new(77);
    let mut x = [rng2.normal(), rng2.normal()];
    for t in (0..3).rev() {
        let z = [rng2.normal(), rng2.normal()];
        let eps = if t > 0 { [rng2.normal(), rng2.normal()] } else { [0.0; 2] };
        model.denoise_step(&mut x, &z, &eps, t, &mut scratch).unwrap();
    }
    let mut raw = [0.0f32; 2];
    model.denormalise(&x, &mut raw).unwrap();
    assert_eq!(out.map(f32::to_bits), raw.map(f32::to_bits));
    // D + T·nz + (T−1)·D = 2 + 6 + 4 = 12 draws: both generators are in the same state.
    assert_eq!(rng, rng2);
}

#[test]
fn sample_determinism() {
    let spec = random_spec(21);
    let bytes = spec.build(Wt::F16);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = scratch_for(&model);
    let draw = |seed: u64, scratch: &mut [f32]| {
        let mut out = [0.0f32; 2];
        model.sample(&mut Rng::new(seed), &mut out, scratch).unwrap();
        out.map(f32::to_bits)
    };
    let a = draw(1234, &mut scratch);
    // A dirty, longer scratch does not change anything.
    let mut big = vec![f32::NAN; 100];
    assert_eq!(draw(1234, &mut big), a);
    assert_ne!(draw(1235, &mut scratch), a);
    // Consecutive samples from one Rng differ.
    let mut rng = Rng::new(9);
    let (mut p, mut q) = ([0.0f32; 2], [0.0f32; 2]);
    model.sample(&mut rng, &mut p, &mut scratch).unwrap();
    model.sample(&mut rng, &mut q, &mut scratch).unwrap();
    assert_ne!(p, q);
}

#[test]
fn misaligned_data_is_fine() {
    for wt in Wt::ALL {
        let spec = random_spec(31);
        let aligned = spec.build(wt);
        let model = Model::from_bytes(&aligned).unwrap();
        let mut scratch = scratch_for(&model);
        let x = [0.25f32, -0.5];
        let f = model.energy(&x, 1, &mut scratch).unwrap();
        // No header padding, and the whole file at an odd address (int8
        // tensors also sit at odd offsets of the data buffer).
        let packed = assemble(&spec.metadata(wt), &spec.tensors(wt), 1);
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&packed);
        let model = Model::from_bytes(&shifted[1..]).unwrap();
        assert_eq!(model.energy(&x, 1, &mut scratch).unwrap().to_bits(), f.to_bits(), "{wt:?}");
    }
}

/// Worst energy error of `wt`-stored weights against the f64 reference with
/// the unrounded f32 weights, over 20 random nets (relative, absolute below 1).
fn worst_energy_error_vs_f32(wt: Wt) -> f64 {
    let mut worst = 0.0f64;
    for seed in 0..20 {
        let spec = random_spec(seed);
        let bytes = spec.build(wt);
        let model = Model::from_bytes(&bytes).unwrap();
        let mut scratch = scratch_for(&model);
        for x in inputs(seed + 200, 2, 10) {
            let xn = normalised_f64(&spec, &x);
            for t in 0..spec.steps {
                let f = model.energy(&x, t, &mut scratch).unwrap() as f64;
                let f_ref = reference_forward(&spec.energy, t, &xn, Wt::F32)[0];
                worst = worst.max((f - f_ref).abs() / f_ref.abs().max(1.0));
            }
        }
    }
    worst
}
