//! The energy as an anomaly score (docs/training.md, departure 9): after a
//! short run with the trainer's defaults on a 2-D Gaussian, −f(x, 0)
//! through the exported model and the runtime ranks a ring 4–6 σ out above
//! fresh Gaussian points, and f(·, 0) falls along every ray far from the
//! data. docs/algorithm.md as written (`energy_base: false`) fails the first
//! check on this kind of data (AUROC 0.003 in the issue that led to the
//! base measure).

use std::fmt::Write;

use ddaebm_export::model_file::{DeployModel, Precision};
use ddaebm_host::checkpoint::Checkpoint;
use ddaebm_host::detection::auroc;
use ddaebm_runtime::{Model, Rng};
use ddaebm_trainer::fit::{self, FitConfig, RunOptions};

#[test]
fn energy_ranks_a_far_ring_above_the_data_and_falls_along_rays() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(3);
    // Raw units: mean (5, −2), std (2, 0.5), so the normalisation matters.
    let (mean, std) = ([5.0f32, -2.0], [2.0f32, 0.5]);
    let mut csv = String::from("a,b\n");
    for _ in 0..1000 {
        writeln!(csv, "{},{}", mean[0] + std[0] * rng.normal(), mean[1] + std[1] * rng.normal()).unwrap();
    }
    let path = dir.path().join("gauss.csv");
    std::fs::write(&path, csv).unwrap();
    let config = FitConfig {
        data: Some(path.display().to_string()),
        iters: 300,
        trunk: vec![64, 64],
        checkpoint_every: 0,
        ..FitConfig::default()
    };
    let report = fit::fit(config, None, &RunOptions::quiet_cpu(dir.path().join("run"))).unwrap();
    let ckpt = Checkpoint::load(&report.checkpoint).unwrap();
    let bytes = DeployModel::from_checkpoint(&ckpt).unwrap().to_bytes(Precision::F32);
    let model = Model::from_bytes(&bytes).unwrap();
    assert!(model.has_energy_base());
    let mut scratch = vec![0f32; model.scratch_len()];
    let mut score = |z: [f32; 2]| -> f64 {
        let x = [mean[0] + std[0] * z[0], mean[1] + std[1] * z[1]];
        -model.energy(&x, 0, &mut scratch).unwrap() as f64
    };

    let mut scores = Vec::new();
    let mut labels = Vec::new();
    for _ in 0..500 {
        scores.push(score([rng.normal(), rng.normal()]));
        labels.push(false);
        let (r, a) = (4.0 + 2.0 * rng.uniform(), std::f32::consts::TAU * rng.uniform());
        scores.push(score([r * a.cos(), r * a.sin()]));
        labels.push(true);
    }
    let auc = auroc(&scores, &labels);
    eprintln!("energy AUROC, Gaussian vs ring at 4-6 sigma: {auc:.4}");
    assert!(auc >= 0.99, "AUROC {auc}");

    // Along 32 rays from the mean, from 3 σ out, −f rises with the radius.
    for k in 0..32 {
        let a = std::f32::consts::TAU * k as f32 / 32.0;
        let mut last = f64::NEG_INFINITY;
        for r in [3.0f32, 4.0, 6.0, 9.0, 14.0, 20.0, 30.0, 50.0, 100.0] {
            let s = score([r * a.cos(), r * a.sin()]);
            assert!(s > last, "ray {k}: −f fell from {last} to {s} at radius {r} σ");
            last = s;
        }
    }
}
