//! The no_std runtime computes what the trainer's libtorch networks compute,
//! on the same checkpoint: energy f(x, t), generator G(x_{t+1}, z, t), one
//! posterior step with the same noise, and a whole T-step sample with the
//! runtime's own draws replayed through libtorch. Also checks the model
//! file's coefficients against the independently computed golden values.
//!
//! This is also the constant-folding equivalence test: libtorch runs the
//! unfolded networks (time embedding → time encoder → added to the first
//! trunk layer, BatchNorm in inference mode), the runtime runs the folded
//! f32 file (per-step bias, BatchNorm inside the weights); they agree to
//! 1e-5 relative.

use std::sync::Mutex;

use ddaebm_export::model_file::{DeployModel, Precision};
use ddaebm_host::checkpoint::Checkpoint;
use ddaebm_runtime::{Model, Rng};
use ddaebm_trainer::fit::{self, FitConfig, RunOptions};
use ddaebm_trainer::model::Ddaebm;
use tch::{Device, Kind, Tensor};

static TORCH: Mutex<()> = Mutex::new(());

/// Error of `got` against `want`, relative to the RMS of `want`
/// (an elementwise relative error is meaningless at zero crossings).
fn rel_err(got: &[f32], want: &[f32]) -> f64 {
    let rms = (want.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / want.len() as f64).sqrt();
    let max = got.iter().zip(want).map(|(a, b)| (*a as f64 - *b as f64).abs()).fold(0.0, f64::max);
    max / rms.max(1e-12)
}

fn host(t: &Tensor) -> Vec<f32> {
    ddaebm_trainer::model::to_host(t).data
}

/// A briefly trained checkpoint: weights and BatchNorm statistics away from their initial values.
fn checkpoint(dir: &std::path::Path) -> Checkpoint {
    let config = FitConfig { iters: 60, seed: 9, checkpoint_every: 0, ..FitConfig::default() };
    let opts = RunOptions::quiet_cpu(dir);
    let report = fit::fit(config, None, &opts).unwrap();
    Checkpoint::load(&report.checkpoint).unwrap()
}

struct Case {
    n: usize,
    x: Vec<f32>,
    z: Vec<f32>,
    eps: Vec<f32>,
    t: Vec<i64>,
}

fn case(d: usize, nz: usize, steps: usize) -> Case {
    let n = 96;
    let mut rng = Rng::new(42);
    let mut draw = |k: usize, scale: f32| (0..k).map(|_| scale * rng.normal()).collect::<Vec<f32>>();
    let x = draw(n * d, 1.5);
    let z = draw(n * nz, 1.0);
    let eps = draw(n * d, 1.0);
    let t = (0..n).map(|i| (i % steps) as i64).collect();
    Case { n, x, z, eps, t }
}

struct Errors {
    energy: f64,
    generator: f64,
    step: f64,
    sample: f64,
}

fn compare(ckpt: &Checkpoint, precision: Precision) -> Errors {
    let torch = Ddaebm::from_checkpoint(ckpt, Device::Cpu).unwrap();
    let bytes = DeployModel::from_checkpoint(ckpt).unwrap().to_bytes(precision);
    let model = Model::from_bytes(&bytes).unwrap();
    let (d, nz, steps) = (model.data_dim(), model.nz(), model.steps());
    assert_eq!((d, nz, steps), (2, 2, 4));
    let mut scratch = vec![0f32; model.scratch_len()];
    let c = case(d, nz, steps);
    let n = c.n as i64;
    let xs = Tensor::from_slice(&c.x).view([n, d as i64]);
    let zs = Tensor::from_slice(&c.z).view([n, nz as i64]);
    let es = Tensor::from_slice(&c.eps).view([n, d as i64]);
    let ts = Tensor::from_slice(&c.t);

    let (f_t, g_t, step_t) = tch::no_grad(|| {
        let f = torch.energy.forward(&xs, &ts);
        let g = torch.generator.forward_t(&xs, &zs, &ts, false);
        let step = torch.diffusion.posterior_sample_with(&g, &xs, &ts, &es);
        (host(&f), host(&g), host(&step))
    });
    let mut f_r = Vec::new();
    let mut g_r = Vec::new();
    let mut step_r = Vec::new();
    for i in 0..c.n {
        let (x, z, e, t) = (&c.x[i * d..][..d], &c.z[i * nz..][..nz], &c.eps[i * d..][..d], c.t[i] as usize);
        f_r.push(model.energy(x, t, &mut scratch).unwrap());
        let mut g = vec![0f32; d];
        model.generate(x, z, t, &mut g, &mut scratch).unwrap();
        g_r.extend(g);
        let mut s = x.to_vec();
        model.denoise_step(&mut s, z, e, t, &mut scratch).unwrap();
        step_r.extend(s);
    }

    // Whole samples: replay the runtime's documented draw order in libtorch.
    let mut samples_r = Vec::new();
    let mut samples_t = Vec::new();
    for seed in 0..16u64 {
        let mut out = vec![0f32; d];
        model.sample(&mut Rng::new(seed), &mut out, &mut scratch).unwrap();
        samples_r.extend(out);
        let mut rng = Rng::new(seed);
        let mut draw =
            |k: usize| Tensor::from_slice(&(0..k).map(|_| rng.normal()).collect::<Vec<f32>>()).view([1, k as i64]);
        let mut x = draw(d);
        tch::no_grad(|| {
            for t in (0..steps).rev() {
                let tt = Tensor::from_slice(&[t as i64]);
                let z = draw(nz);
                let eps = if t > 0 { draw(d) } else { Tensor::zeros([1, d as i64], (Kind::Float, Device::Cpu)) };
                let x0 = torch.generator.forward_t(&x, &z, &tt, false);
                x = torch.diffusion.posterior_sample_with(&x0, &x, &tt, &eps);
            }
        });
        samples_t.extend(host(&x)); // identity normalisation for built-in data
    }

    // The file's schedule is the checkpoint's, rounded to f32.
    for t in 0..steps {
        assert_eq!(model.coef1(t).unwrap(), ckpt.meta.schedule.coef1[t] as f32);
        assert_eq!(model.coef2(t).unwrap(), ckpt.meta.schedule.coef2[t] as f32);
        assert_eq!(model.posterior_std(t).unwrap(), ckpt.meta.schedule.posterior_var[t].sqrt() as f32);
    }
    Errors {
        energy: rel_err(&f_r, &f_t),
        generator: rel_err(&g_r, &g_t),
        step: rel_err(&step_r, &step_t),
        sample: rel_err(&samples_r, &samples_t),
    }
}

#[test]
fn folded_runtime_model_matches_unfolded_libtorch_networks() {
    let _g = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let ckpt = checkpoint(dir.path());

    let e = compare(&ckpt, Precision::F32);
    eprintln!(
        "f32 parity (max |Δ| / rms): energy {:.2e}, generator {:.2e}, step {:.2e}, sample {:.2e}",
        e.energy, e.generator, e.step, e.sample
    );
    for (what, err) in [("energy", e.energy), ("generator", e.generator), ("step", e.step), ("sample", e.sample)] {
        assert!(err <= 1e-5, "f32 {what}: relative error {err:e} > 1e-5");
    }

    // f16 weights: rounding each weight to 11 significant bits. Bound: 1e-2
    // of the output RMS (measured values are printed; see the closing note).
    let e = compare(&ckpt, Precision::F16);
    eprintln!(
        "f16 parity (max |Δ| / rms): energy {:.2e}, generator {:.2e}, step {:.2e}, sample {:.2e}",
        e.energy, e.generator, e.step, e.sample
    );
    for (what, err) in [("energy", e.energy), ("generator", e.generator), ("step", e.step), ("sample", e.sample)] {
        assert!(err <= 1e-2, "f16 {what}: relative error {err:e} > 1e-2");
    }

    // bf16 weights (8 significant bits) and int8 weights (per-row symmetric
    // scales, 255 levels) against libtorch f32. Bounds, relative to the
    // output RMS: about 3× the worst measured values (BF16_BOUND, INT8_BOUND).
    for (p, bound) in [(Precision::Bf16, BF16_BOUND), (Precision::Int8, INT8_BOUND)] {
        let e = compare(&ckpt, p);
        eprintln!(
            "{} parity (max |Δ| / rms): energy {:.2e}, generator {:.2e}, step {:.2e}, sample {:.2e}",
            p.name(),
            e.energy,
            e.generator,
            e.step,
            e.sample
        );
        for (what, err) in [("energy", e.energy), ("generator", e.generator), ("step", e.step), ("sample", e.sample)] {
            assert!(err <= bound, "{} {what}: relative error {err:e} > {bound:e}", p.name());
        }
    }

    // File sizes of this model per precision.
    let model = DeployModel::from_checkpoint(&ckpt).unwrap();
    let sizes: Vec<(Precision, usize)> = [Precision::F32, Precision::F16, Precision::Bf16, Precision::Int8]
        .into_iter()
        .map(|p| (p, model.to_bytes(p).len()))
        .collect();
    eprintln!(
        "model file sizes: {}",
        sizes.iter().map(|(p, n)| format!("{} {n} B", p.name())).collect::<Vec<_>>().join(", ")
    );
    // f32 > f16 ≈ bf16 (same data, header differs by dtype names) > int8.
    let n = |i: usize| sizes[i].1;
    assert!(n(0) > n(1) && n(1).abs_diff(n(2)) <= 64 && n(2) > n(3), "{sizes:?}");
}

/// bf16 bound (max |Δ| / output RMS). Measured: energy 3.8e-3, generator
/// 1.5e-2, step 9.2e-3, sample 1.5e-2.
const BF16_BOUND: f64 = 5e-2;
/// int8 bound (max |Δ| / output RMS). Measured: energy 8.1e-3, generator
/// 2.5e-2, step 1.6e-2, sample 2.4e-2.
const INT8_BOUND: f64 = 8e-2;

#[test]
fn model_file_coefficients_match_golden_values() {
    let _g = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    // Default schedule: vp, β 0.1..20, T = 4 (tests/golden/schedule.py).
    let coef1 = [1.0, 0.6657783649594312, 0.2691908894418878, 0.05782154211779916];
    let coef2 = [0.0, 0.2015762766841574, 0.19300080886168874, 0.11185234299502522];
    let var = [0.0f64, 0.4408191478631758, 0.8842024435666054, 0.9840607148182405];
    let dir = tempfile::tempdir().unwrap();
    let config = FitConfig { iters: 1, checkpoint_every: 0, ..FitConfig::default() };
    let opts = RunOptions::quiet_cpu(dir.path());
    let report = fit::fit(config, None, &opts).unwrap();
    let ckpt = Checkpoint::load(&report.checkpoint).unwrap();
    let bytes = DeployModel::from_checkpoint(&ckpt).unwrap().to_bytes(Precision::F16);
    let model = Model::from_bytes(&bytes).unwrap();
    for t in 0..4 {
        let close = |a: f32, b: f64| (a as f64 - b).abs() <= 1e-7 * (1.0 + b.abs());
        assert!(close(model.coef1(t).unwrap(), coef1[t]), "coef1[{t}]");
        assert!(close(model.coef2(t).unwrap(), coef2[t]), "coef2[{t}]");
        assert!(close(model.posterior_std(t).unwrap(), var[t].sqrt()), "posterior_std[{t}]");
    }
}

/// A mixture base (4 Gaussians on 25gaussians): the runtime's energy, base
/// included, matches libtorch's at every step.
#[test]
fn mixture_base_runtime_matches_libtorch() {
    let _g = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let config = FitConfig { iters: 40, seed: 9, checkpoint_every: 0, base_components: 4, ..FitConfig::default() };
    let report = fit::fit(config, None, &RunOptions::quiet_cpu(dir.path())).unwrap();
    let ckpt = Checkpoint::load(&report.checkpoint).unwrap();
    let base = ckpt.gaussian_base().unwrap().unwrap();
    assert_eq!(base.components(), 4);
    let e = compare(&ckpt, Precision::F32);
    eprintln!("mixture base, f32 parity (max |Δ| / rms): energy {:.2e}", e.energy);
    assert!(e.energy <= 1e-5, "f32 energy with a mixture base: relative error {:.2e} > 1e-5", e.energy);
    let bytes = DeployModel::from_checkpoint(&ckpt).unwrap().to_bytes(Precision::F32);
    assert_eq!(Model::from_bytes(&bytes).unwrap().base_components(), 4);
}
