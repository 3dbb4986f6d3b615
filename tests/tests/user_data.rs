//! The user's own data end to end: a CSV in raw units → `trainer fit`
//! (standardised internally) → export → the runtime takes raw units in and
//! gives raw units out.

use std::fmt::Write;

use ddaebm_export::model_file::{DeployModel, Precision};
use ddaebm_host::checkpoint::Checkpoint;
use ddaebm_runtime::{Model, Rng};
use ddaebm_trainer::fit::{self, FitConfig, RunOptions};
use ddaebm_trainer::model::Ddaebm;
use tch::{Device, Tensor};

#[test]
fn csv_in_raw_units_round_trips_through_export_and_runtime() {
    let dir = tempfile::tempdir().unwrap();
    // Three columns with very different scales: a ~ 10 ± 2, b = a/2 ± 1, c ~ U(100, 200).
    let mut rng = Rng::new(1);
    let mut csv = String::from("a,b,c\n");
    let mut rows = Vec::new();
    for _ in 0..400 {
        let a = 10.0 + 2.0 * rng.normal();
        let b = 0.5 * a + rng.normal();
        let c = 100.0 + 100.0 * rng.uniform();
        writeln!(csv, "{a},{b},{c}").unwrap();
        rows.push([a, b, c]);
    }
    let path = dir.path().join("readings.csv");
    std::fs::write(&path, csv).unwrap();

    let config = FitConfig {
        data: Some(path.display().to_string()),
        holdout: 0.25,
        iters: 40,
        checkpoint_every: 0,
        ..FitConfig::default()
    };
    let out = dir.path().join("run");
    let opts = RunOptions::quiet_cpu(&out);
    let report = fit::fit(config, None, &opts).unwrap();
    let ckpt = Checkpoint::load(&report.checkpoint).unwrap();
    let norm = &ckpt.meta.normalisation;
    assert_eq!(ckpt.meta.arch.data_dim, 3);
    assert!((norm.mean[0] - 10.0).abs() < 0.5 && (norm.std[2] - 28.9).abs() < 3.0, "{norm:?}");

    // Raw units into the runtime = standardised units into libtorch.
    let torch = Ddaebm::from_checkpoint(&ckpt, Device::Cpu).unwrap();
    let bytes = DeployModel::from_checkpoint(&ckpt).unwrap().to_bytes(Precision::F32);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = vec![0f32; model.scratch_len()];
    for raw in rows.iter().take(20) {
        let z: Vec<f32> = (0..3).map(|j| ((raw[j] as f64 - norm.mean[j]) / norm.std[j]) as f32).collect();
        let f_t = tch::no_grad(|| {
            torch.energy.forward(&Tensor::from_slice(&z).view([1, 3]), &Tensor::from_slice(&[0i64])).double_value(&[0])
        });
        let f_r = model.energy(raw, 0, &mut scratch).unwrap() as f64;
        assert!((f_r - f_t).abs() <= 1e-4 * (1.0 + f_t.abs()), "runtime {f_r} vs libtorch {f_t}");
    }

    // Samples come back in raw units: column c centres near 150, not 0.
    let mut sum = [0f64; 3];
    for seed in 0..200 {
        let mut x = [0f32; 3];
        model.sample(&mut Rng::new(seed), &mut x, &mut scratch).unwrap();
        for j in 0..3 {
            sum[j] += x[j] as f64 / 200.0;
        }
    }
    assert!((sum[2] - 150.0).abs() < 60.0 && (sum[0] - 10.0).abs() < 5.0, "sample means {sum:?}");
    assert!(out.join("metrics.csv").exists() && out.join("curves.png").exists());
}
