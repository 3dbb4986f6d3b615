//! The Gaussian-mixture base measure (`base.mean` [T, K, D] and
//! `base.log_weight` [T, K], K = 2..=16): the energy against an f64
//! reference and the documented f32 order bit for bit, the batch path, the
//! reduction to the single Gaussian, and the refusal of malformed mixtures.
// The f32 references index as the documented order is written.
#![allow(clippy::needless_range_loop)]

use crate::common::*;
use ddaebm_runtime::{Error, Model, Rng, TensorName, MAX_BASE_COMPONENTS};

/// A small model (D = 5, nz = 2, T = 4, one hidden layer of 6) with a
/// `k`-component mixture base.
fn mixture_spec(seed: u64, k: usize) -> Spec {
    let mut s = random_spec_dims(seed, 5, 2, 4, &[6]);
    s.base = Some(BaseSpec::mixture(seed + 1000, s.d, s.steps, k));
    s
}

/// Raw inputs: random ones, plus each component's mean at step `t` (in raw
/// units), where the components compete.
fn inputs(s: &Spec, t: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    let mut xs: Vec<Vec<f32>> = (0..8).map(|_| (0..s.d).map(|_| 2.0 * rng.normal()).collect()).collect();
    let m = s.base.as_ref().unwrap().mixture.as_ref().unwrap();
    for k in 0..m.k {
        let mean = &m.mean[(t * m.k + k) * s.d..(t * m.k + k + 1) * s.d];
        xs.push((0..s.d).map(|i| mean[i] * s.std[i] + s.mean[i]).collect());
    }
    xs
}

fn normalised_f64(s: &Spec, x: &[f32]) -> Vec<f64> {
    x.iter().enumerate().map(|(i, &v)| (v as f64 - s.mean[i] as f64) * s.inv_std[i] as f64).collect()
}

#[test]
fn mixture_energy_matches_f64_reference() {
    for (seed, k) in [(1u64, 2usize), (2, 3), (3, 3)] {
        let s = mixture_spec(seed, k);
        for wt in [Wt::F32, Wt::F16] {
            let file = s.build(wt);
            let model = Model::from_bytes(&file).unwrap();
            assert_eq!(model.base_components(), k);
            let mut scratch = scratch_for(&model);
            for t in [0, s.steps - 1] {
                for x in inputs(&s, t, seed) {
                    let xn = normalised_f64(&s, &x);
                    let r = reference_forward(&s.energy, t, &xn, wt)[0];
                    let want = s.base.as_ref().unwrap().reference(r, &xn, t);
                    let got = model.energy(&x, t, &mut scratch).unwrap();
                    assert!(close(got as f64, want, 1e-5), "K = {k}, {wt:?}, t = {t}: {got} vs f64 {want}");
                }
            }
        }
    }
}

/// The base's part in the documented f32 order, written out literally
/// (docs/model-format.md; the subtraction inside the j loop gives the same
/// value as the runtime's once-per-component one).
fn documented_order(b: &BaseSpec, x: &[f32], t: usize) -> f32 {
    let m = b.mixture.as_ref().unwrap();
    let (k, d) = (m.k, x.len());
    let mut l = [0.0f32; 16];
    for c in 0..k {
        let mut q = 0.0f32;
        for j in 0..d {
            let mut p = 0.0f32;
            for i in 0..d {
                p += b.basis[(c * d + j) * d + i] * (x[i] - m.mean[(t * k + c) * d + i]);
            }
            q += (p * p) * b.inv_var[t * k * d + c * d + j];
        }
        l[c] = m.log_weight[t * k + c] - 0.5 * q;
    }
    let mut max = l[0];
    for &lc in &l[1..k] {
        if lc > max {
            max = lc;
        }
    }
    let mut s = 0.0f32;
    for &lc in &l[..k] {
        s += libm::expf(lc - max);
    }
    max + libm::logf(s)
}

/// With the network's output exactly 0 (last layer all zeros), f is the
/// base alone: bit for bit the documented order, at every step.
#[test]
fn mixture_follows_the_documented_f32_order_bit_for_bit() {
    for (seed, k) in [(4u64, 2usize), (5, 3), (6, MAX_BASE_COMPONENTS)] {
        let mut s = mixture_spec(seed, k);
        let last = s.energy.last_mut().unwrap();
        last.w.iter_mut().for_each(|w| *w = 0.0);
        last.b.iter_mut().for_each(|b| *b = 0.0);
        let file = s.build(Wt::F32);
        let model = Model::from_bytes(&file).unwrap();
        let mut scratch = scratch_for(&model);
        let mut rng = Rng::new(seed);
        for t in 0..s.steps {
            for _ in 0..16 {
                let x: Vec<f32> = (0..s.d).map(|_| 1.5 * rng.normal()).collect();
                let got = model.energy_normalised(&x, t, &mut scratch).unwrap();
                let want = documented_order(s.base.as_ref().unwrap(), &x, t);
                assert_eq!(got.to_bits(), want.to_bits(), "K = {k}, t = {t}: {got} vs {want}");
            }
        }
    }
}

/// A K = 1 file (no `base.mean` / `base.log_weight`) keeps the single
/// Gaussian's documented order, bit for bit: −0.5 · Σ_k (p_k · p_k) · inv_var.
#[test]
fn single_gaussian_keeps_its_documented_order_bit_for_bit() {
    let mut s = random_spec_dims(20, 5, 2, 4, &[6]);
    s.base = Some(BaseSpec::random(200, s.d, s.steps));
    let last = s.energy.last_mut().unwrap();
    last.w.iter_mut().for_each(|w| *w = 0.0);
    last.b.iter_mut().for_each(|b| *b = 0.0);
    let file = s.build(Wt::F32);
    let model = Model::from_bytes(&file).unwrap();
    let b = s.base.as_ref().unwrap();
    let mut scratch = scratch_for(&model);
    let mut rng = Rng::new(20);
    for t in 0..s.steps {
        for _ in 0..16 {
            let x: Vec<f32> = (0..s.d).map(|_| 1.5 * rng.normal()).collect();
            let mut q = 0.0f32;
            for k in 0..s.d {
                let mut p = 0.0f32;
                for i in 0..s.d {
                    p += b.basis[k * s.d + i] * x[i];
                }
                q += (p * p) * b.inv_var[t * s.d + k];
            }
            let got = model.energy_normalised(&x, t, &mut scratch).unwrap();
            assert_eq!(got.to_bits(), (-0.5 * q).to_bits(), "t = {t}");
        }
    }
}

#[test]
fn mixture_batch_is_bit_identical_to_single_rows() {
    let n = 21;
    for (seed, k) in [(7u64, 2usize), (8, 3)] {
        let s = mixture_spec(seed, k);
        for wt in Wt::ALL {
            let file = s.build(wt);
            let model = Model::from_bytes(&file).unwrap();
            let mut scratch = vec![0.0f32; model.scratch_len().max(model.batch_scratch_len(n))];
            let mut rng = Rng::new(seed);
            let xs: Vec<f32> = (0..n * s.d).map(|_| 2.0 * rng.normal()).collect();
            for t in [0, s.steps - 1] {
                let mut batch = vec![0.0f32; n];
                model.energy_batch(&xs, t, &mut batch, &mut scratch).unwrap();
                for (b, x) in batch.iter().zip(xs.chunks_exact(s.d)) {
                    let single = model.energy(x, t, &mut scratch).unwrap();
                    assert_eq!(b.to_bits(), single.to_bits(), "K = {k}, {wt:?}, t = {t}");
                    if t == 0 {
                        let score = model.anomaly_score(x, &mut scratch).unwrap();
                        assert_eq!(score.to_bits(), (-single).to_bits());
                    }
                }
            }
        }
    }
}

/// Two identical components, each weighted ½ · e^c, are the single
/// Gaussian (means 0) plus c.
#[test]
fn identical_components_give_the_single_gaussian_plus_constant() {
    let mut single = random_spec_dims(9, 4, 1, 3, &[5]);
    single.base = Some(BaseSpec::random(90, single.d, single.steps));
    let one = Model::from_bytes(&single.build(Wt::F32)).map(|m| m.base_components());
    assert_eq!(one, Ok(1));
    let (d, steps) = (single.d, single.steps);
    let b = single.base.clone().unwrap();
    for c in [0.0f32, 3.7, -12.5] {
        let mut doubled = single.clone();
        let mut inv_var = Vec::new();
        for t in 0..steps {
            for _ in 0..2 {
                inv_var.extend_from_slice(&b.inv_var[t * d..(t + 1) * d]);
            }
        }
        doubled.base = Some(BaseSpec {
            basis: [b.basis.clone(), b.basis.clone()].concat(),
            inv_var,
            bound: b.bound,
            mixture: Some(MixtureSpec {
                k: 2,
                mean: vec![0.0; steps * 2 * d],
                log_weight: vec![(0.5f64.ln() + c as f64) as f32; steps * 2],
            }),
        });
        let (f1, f2) = (single.build(Wt::F32), doubled.build(Wt::F32));
        let (m1, m2) = (Model::from_bytes(&f1).unwrap(), Model::from_bytes(&f2).unwrap());
        assert_eq!(m2.base_components(), 2);
        let mut scratch = scratch_for(&m1);
        let mut rng = Rng::new(c.to_bits() as u64);
        for t in 0..steps {
            for _ in 0..16 {
                let x: Vec<f32> = (0..d).map(|_| 3.0 * rng.normal()).collect();
                let e1 = m1.energy(&x, t, &mut scratch).unwrap() as f64;
                let e2 = m2.energy(&x, t, &mut scratch).unwrap() as f64;
                assert!(close(e2, e1 + c as f64, 1e-5), "c = {c}, t = {t}: {e2} vs {e1} + {c}");
            }
        }
    }
}

#[test]
fn base_components_accessor() {
    let plain = random_spec(11);
    assert_eq!(Model::from_bytes(&plain.build(Wt::F32)).unwrap().base_components(), 0);
    let mut single = plain.clone();
    single.base = Some(BaseSpec::random(12, single.d, single.steps));
    let file = single.build(Wt::F32);
    let model = Model::from_bytes(&file).unwrap();
    assert!(model.has_energy_base());
    assert_eq!(model.base_components(), 1);
    for k in [2, 5, MAX_BASE_COMPONENTS] {
        let file = mixture_spec(13, k).build(Wt::F32);
        let model = Model::from_bytes(&file).unwrap();
        assert!(model.has_energy_base());
        assert_eq!(model.base_components(), k);
    }
}

/// Non-finite and huge readings are errors, not panics.
#[test]
fn mixture_with_non_finite_or_huge_input_is_an_error() {
    let s = mixture_spec(14, 3);
    let file = s.build(Wt::F32);
    let model = Model::from_bytes(&file).unwrap();
    let mut scratch = scratch_for(&model);
    for v in [f32::NAN, f32::INFINITY, -f32::INFINITY, 1e30] {
        let x = vec![v; s.d];
        assert_eq!(model.energy(&x, 0, &mut scratch), Err(Error::NonFiniteOutput), "x = {v}");
        let mut out = [0.0f32; 2];
        let xs = [x.clone(), x].concat();
        let mut batch_scratch = vec![0.0f32; model.batch_scratch_len(2)];
        assert_eq!(model.energy_batch(&xs, 0, &mut out, &mut batch_scratch), Err(Error::NonFiniteOutput));
    }
}

/// A file built from `s` after editing its tensors.
fn edited(s: &Spec, edit: impl FnOnce(&mut Vec<Tensor>)) -> Vec<u8> {
    let meta = s.metadata(Wt::F32);
    let mut tensors = s.tensors(Wt::F32);
    edit(&mut tensors);
    assemble(&meta, &tensors, 8)
}

fn load(bytes: &[u8]) -> Result<usize, Error> {
    Model::from_bytes(bytes).map(|m| m.base_components())
}

fn tensor<'t>(t: &'t mut [Tensor], name: &str) -> &'t mut Tensor {
    t.iter_mut().find(|t| t.name == name).expect(name)
}

/// Replaces tensor `name` by an F32 one of `shape` filled with `value`.
fn reshaped(s: &Spec, name: &str, shape: &[usize], value: f32) -> Vec<u8> {
    let n: usize = shape.iter().product();
    edited(s, |t| *tensor(t, name) = f32_tensor(name, shape, &vec![value; n]))
}

#[test]
fn malformed_mixtures_are_refused() {
    let s = mixture_spec(15, 3);
    let (d, steps, k) = (s.d, s.steps, 3);
    assert_eq!(load(&s.build(Wt::F32)), Ok(3));
    let (mean, weight) = (TensorName::BaseMean, TensorName::BaseLogWeight);

    // The two together, and only with the rest of the base.
    let without = |names: &[&str]| edited(&s, |t| t.retain(|t| !names.contains(&t.name.as_str())));
    assert_eq!(load(&without(&["base.log_weight"])), Err(Error::MissingTensor(weight)));
    assert_eq!(load(&without(&["base.mean"])), Err(Error::MissingTensor(mean)));
    let lone = without(&["base.basis", "base.inv_var", "base.bound"]);
    assert_eq!(load(&lone), Err(Error::MissingTensor(TensorName::BaseBasis)));
    let lone = without(&["base.basis", "base.inv_var", "base.bound", "base.log_weight"]);
    assert_eq!(load(&lone), Err(Error::MissingTensor(TensorName::BaseBasis)));
    assert_eq!(load(&without(&["base.bound"])), Err(Error::MissingTensor(TensorName::BaseBound)));

    // K = 1 with them (a single Gaussian has the plain layout).
    let mut one = s.clone();
    one.base = Some(BaseSpec::mixture(16, d, steps, 1));
    assert_eq!(load(&one.build(Wt::F32)), Err(Error::ShapeMismatch(weight)));
    // K above 16, everything else consistent.
    let mut many = s.clone();
    many.base = Some(BaseSpec::mixture(17, d, steps, MAX_BASE_COMPONENTS + 1));
    assert_eq!(load(&many.build(Wt::F32)), Err(Error::ShapeMismatch(weight)));
    // A K past the address space (its bytes are not there).
    let huge = edited(&s, |t| {
        let w = tensor(t, "base.log_weight");
        w.shape = vec![steps as u64, u64::MAX];
    });
    assert!(matches!(load(&huge), Err(Error::TensorSizeMismatch(_) | Error::ShapeMismatch(_))), "{:?}", load(&huge));

    // Shapes that do not match D, T and K.
    for (name, shape, want) in [
        ("base.log_weight", vec![steps + 1, k], weight),
        ("base.log_weight", vec![steps * k], weight),
        ("base.log_weight", vec![steps, k, 1], weight),
        ("base.mean", vec![steps, k, d + 1], mean),
        ("base.mean", vec![steps, k, d - 1], mean),
        ("base.mean", vec![steps, k + 1, d], mean),
        ("base.mean", vec![steps + 1, k, d], mean),
        ("base.mean", vec![steps, k * d], mean),
        ("base.mean", vec![steps, k, d, 1], mean),
        ("base.basis", vec![d, d], TensorName::BaseBasis),
        ("base.basis", vec![(k + 1) * d, d], TensorName::BaseBasis),
        ("base.basis", vec![k * d, d + 1], TensorName::BaseBasis),
        ("base.basis", vec![k, d, d], TensorName::BaseBasis),
        ("base.inv_var", vec![steps, d], TensorName::BaseInvVar),
        ("base.inv_var", vec![steps, k, d], TensorName::BaseInvVar),
        ("base.inv_var", vec![steps + 1, k * d], TensorName::BaseInvVar),
    ] {
        let bytes = reshaped(&s, name, &shape, 0.5);
        assert_eq!(load(&bytes), Err(Error::ShapeMismatch(want)), "{name} {shape:?}");
    }

    // Dtypes other than F32.
    for name in ["base.mean", "base.log_weight"] {
        let bytes = edited(&s, |t| {
            let t = tensor(t, name);
            t.dtype = "F16".into();
            t.data.truncate(t.data.len() / 2);
        });
        let want = if name == "base.mean" { mean } else { weight };
        assert_eq!(load(&bytes), Err(Error::WrongDtype(want)), "{name}");
    }

    // Non-finite values; negative precisions.
    for (name, want) in [
        ("base.mean", mean),
        ("base.log_weight", weight),
        ("base.basis", TensorName::BaseBasis),
        ("base.inv_var", TensorName::BaseInvVar),
    ] {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let bytes = edited(&s, |t| {
                let t = tensor(t, name);
                let at = t.data.len() - 4;
                t.data[at..].copy_from_slice(&bad.to_le_bytes());
            });
            assert_eq!(load(&bytes), Err(Error::NonFiniteParameter(want)), "{name} {bad}");
        }
    }
    let neg = edited(&s, |t| {
        let t = tensor(t, "base.inv_var");
        let at = t.data.len() - 4;
        t.data[at..].copy_from_slice(&(-0.5f32).to_le_bytes());
    });
    assert_eq!(load(&neg), Err(Error::InvalidParameter(TensorName::BaseInvVar)));

    // A version-1 file carries no base at all.
    let v1 = {
        let mut meta = s.metadata(Wt::F32);
        meta.iter_mut().filter(|(k, _)| k == "format_version").for_each(|(_, v)| *v = "1".into());
        assemble(&meta, &s.tensors(Wt::F32), 8)
    };
    assert_eq!(load(&v1), Err(Error::UnexpectedTensor(TensorName::BaseBasis)));

    // Duplicate entries of the new names are caught like the others'.
    let dup = edited(&s, |t| {
        let w = tensor(t, "base.log_weight").clone();
        t.push(w);
    });
    assert!(matches!(load(&dup), Err(Error::DuplicateKey { .. })));

    assert_eq!(TensorName::BaseMean.to_string(), "base.mean");
    assert_eq!(TensorName::BaseLogWeight.to_string(), "base.log_weight");
    assert!(Error::ShapeMismatch(weight).to_string().contains("base.log_weight"));
}

/// A runtime that predates mixtures ignores `base.mean` / `base.log_weight`
/// (names it does not know) and so reads the file as a single Gaussian:
/// `base.basis` [K·D, D] is then the wrong shape, and the load fails. This
/// runtime takes the same path when the two names are hidden.
#[test]
fn a_runtime_without_mixtures_refuses_them_on_the_basis_shape() {
    let s = mixture_spec(18, 2);
    let hidden = edited(&s, |t| {
        for t in t.iter_mut().filter(|t| t.name == "base.mean" || t.name == "base.log_weight") {
            t.name = format!("{}_unknown", t.name);
        }
    });
    assert_eq!(load(&hidden), Err(Error::ShapeMismatch(TensorName::BaseBasis)));
}

/// Single-byte corruptions of a mixture file's header and data: loads or
/// errors, never panics; what loads runs.
#[test]
fn corrupted_mixture_files_never_panic() {
    let s = {
        let mut s = random_spec_dims(19, 2, 1, 2, &[3]);
        s.base = Some(BaseSpec::mixture(190, 2, 2, 2));
        s
    };
    let file = s.build(Wt::F32);
    let header_end = 8 + u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let mut f = file.clone();
    let x = [0.5f32; 2];
    let mut loaded = 0;
    for i in 0..file.len() {
        let original = file[i];
        let values = [original ^ 0xFF, original ^ 0x01, b'0', b'9', b'"', b','];
        let values = if i < header_end { &values[..] } else { &values[..1] };
        for &v in values {
            f[i] = v;
            if let Ok(model) = Model::from_bytes(&f) {
                loaded += 1;
                let mut scratch = vec![0.0f32; model.scratch_len().max(model.batch_scratch_len(2))];
                if model.data_dim() == 2 {
                    for t in 0..model.steps() {
                        let _ = model.energy(&x, t, &mut scratch);
                        let mut out = [0.0f32; 2];
                        let _ = model.energy_batch(&[x, x].concat(), t, &mut out, &mut scratch);
                    }
                }
            }
        }
        f[i] = original;
    }
    assert!(loaded > 0);
}
