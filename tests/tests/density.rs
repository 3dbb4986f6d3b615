//! The learned density on a multimodal table: glass (bench/anomaly/data/,
//! 5 glass types normal, tableware the anomaly), trained with the
//! `trainer fit --data` defaults at the benchmark's size (width 64, 2,000
//! iterations), scored through the runtime. A single Gaussian ranks these
//! anomalies at AUROC ≈ 0.64; the energy must do much better.
//!
//! The split is the test's own (a seeded shuffle of the normal rows: 60 %
//! train, the other 40 % and every anomaly test), not the benchmark's.

use std::path::Path;

use ddaebm_export::model_file::{DeployModel, Precision};
use ddaebm_host::checkpoint::Checkpoint;
use ddaebm_host::detection::auroc;
use ddaebm_runtime::Model;
use ddaebm_trainer::fit::{self, FitConfig, RunOptions};

/// splitmix64: a seeded shuffle without another dependency.
fn shuffle(n: usize, seed: u64) -> Vec<usize> {
    let mut state = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut idx: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    idx
}

/// Energy AUROC of one seed with `config` (its data, seed and size are set here).
fn glass_auroc(config: &FitConfig, seed: u64, dir: &Path) -> f64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/anomaly/data/glass.csv");
    let table = ddaebm_host::table::read(&path).unwrap();
    let label = table.columns.iter().position(|c| c == "label").unwrap();
    let d = table.dim - 1;
    let features = |i: usize| -> Vec<f32> {
        (0..table.dim).filter(|&j| j != label).map(|j| table.data[i * table.dim + j]).collect()
    };
    let normal: Vec<usize> = (0..table.rows).filter(|&i| table.data[i * table.dim + label] == 0.0).collect();
    let anomalous: Vec<usize> = (0..table.rows).filter(|&i| table.data[i * table.dim + label] != 0.0).collect();
    let order = shuffle(normal.len(), seed);
    let n_train = normal.len() * 6 / 10;
    let names: Vec<&str> = table.columns.iter().filter(|c| *c != "label").map(String::as_str).collect();
    let mut csv = names.join(",") + "\n";
    for &k in &order[..n_train] {
        let row: Vec<String> = features(normal[k]).iter().map(|v| v.to_string()).collect();
        csv += &(row.join(",") + "\n");
    }
    let train = dir.join(format!("glass-train-{seed}.csv"));
    std::fs::write(&train, csv).unwrap();
    let out = dir.join(format!("run-{seed}"));
    let c = FitConfig { data: Some(train.display().to_string()), seed, ..config.clone() };
    let report = fit::fit(c, None, &RunOptions::quiet_cpu(&out)).unwrap();
    let ckpt = Checkpoint::load(&report.checkpoint).unwrap();
    let bytes = DeployModel::from_checkpoint(&ckpt).unwrap().to_bytes(Precision::F32);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = vec![0f32; model.scratch_len()];
    let mut scores = Vec::new();
    let mut labels = Vec::new();
    for (rows, is_anomaly) in
        [(order[n_train..].iter().map(|&k| normal[k]).collect::<Vec<_>>(), false), (anomalous, true)]
    {
        for i in rows {
            let x = features(i);
            assert_eq!(x.len(), d);
            scores.push(model.anomaly_score(&x, &mut scratch).unwrap() as f64);
            labels.push(is_anomaly);
        }
    }
    auroc(&scores, &labels)
}

/// The `trainer fit --data` defaults at the benchmark's size.
fn defaults() -> FitConfig {
    FitConfig {
        residual_bound: FitConfig::residual_bound_for(true),
        nce_weight: FitConfig::nce_weight_for(true),
        select: FitConfig::select_for(true),
        base_components: FitConfig::base_components_for(true),
        trunk: vec![64, 64],
        iters: 2000,
        checkpoint_every: 0,
        eval_every: 0,
        log_every: 500,
        ..FitConfig::default()
    }
}

#[test]
fn glass_energy_ranks_tableware_far_above_a_gaussian() {
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<f64> = (0..3).map(|seed| glass_auroc(&defaults(), seed, dir.path())).collect();
    let mean = runs.iter().sum::<f64>() / runs.len() as f64;
    eprintln!("glass energy AUROC, seeds 0-2: {runs:?}, mean {mean:.4}");
    // Measured: 0.870, 0.846, 0.824 (mean 0.846; with one Gaussian as the
    // base 0.865); the previous defaults 0.829, 0.790, 0.775 (mean 0.798, the
    // ignored test below).
    assert!(mean >= 0.83, "glass energy AUROC {runs:?}, mean {mean:.4} < 0.83");
}

/// The defaults before the held-out choice (B 2, NCE weight 1, no rows set
/// aside), for comparison: `cargo test --release -p ddaebm-e2e --test
/// density -- --ignored --nocapture`.
#[test]
#[ignore]
fn glass_with_the_previous_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let before = FitConfig { residual_bound: 2.0, nce_weight: 1.0, select: 0.0, base_components: 1, ..defaults() };
    let runs: Vec<f64> = (0..3).map(|seed| glass_auroc(&before, seed, dir.path())).collect();
    eprintln!("glass energy AUROC with the previous defaults, seeds 0-2: {runs:?}");
}
