//! Training end to end: a short run on 25gaussians improves the samples,
//! the exported energy prefers data to off-data points (through the
//! runtime), and runs are deterministic and resumable bit for bit.
//!
//! libtorch's random generator is global, so the tests of this file take a
//! lock instead of running concurrently.

use std::path::Path;
use std::sync::Mutex;

use ddaebm_export::checkpoint::Checkpoint;
use ddaebm_export::model_file::{DeployModel, Precision};
use ddaebm_runtime::{Model, Rng};
use rand::SeedableRng;
use ddaebm_trainer::data::Toy;
use ddaebm_trainer::fit::{self, FitConfig, RunOptions};
use ddaebm_trainer::metrics;
use ddaebm_trainer::model::Ddaebm;
use tch::Device;

static TORCH: Mutex<()> = Mutex::new(());

fn opts(dir: &Path) -> RunOptions {
    RunOptions { out: dir.to_path_buf(), device: Device::Cpu, threads: 1, progress: false }
}

fn short(iters: u64, seed: u64) -> FitConfig {
    FitConfig { iters, seed, checkpoint_every: 0, log_every: 10, ..FitConfig::default() }
}

#[test]
fn short_run_improves_samples_and_energy_prefers_data() {
    let _g = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let config = short(1500, 3);
    let (arch, schedule) = (config.arch(2), ddaebm_trainer::diffusion::compute_schedule(config.schedule, config.beta_min, config.beta_max, config.steps).unwrap());
    let untrained = Ddaebm::new(arch, schedule, Device::Cpu, config.seed);
    let (mmd_init, floor) = fit::mmd_report(&untrained, Toy::Gaussians25, 1000, 11);

    let report = fit::fit(config, None, &opts(dir.path())).unwrap();
    let ckpt = Checkpoint::load(&report.checkpoint).unwrap();
    let trained = Ddaebm::from_checkpoint(&ckpt, Device::Cpu).unwrap();
    let (mmd_trained, _) = fit::mmd_report(&trained, Toy::Gaussians25, 1000, 11);
    eprintln!("MMD² untrained {mmd_init:.4}, trained {mmd_trained:.4}, floor {floor:.4}; {:.1} it/s", report.iters_per_sec);
    assert!(mmd_trained < 0.25 * mmd_init, "MMD² {mmd_trained} not well below its initial {mmd_init}");

    // The learned energy, through the exported model and the runtime.
    let bytes = DeployModel::from_checkpoint(&ckpt).unwrap().to_bytes(Precision::F32);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = vec![0f32; model.scratch_len()];
    // Fresh data points vs uniform points of the data's box that lie off
    // every mode (farther than 3σ from all centres).
    let (centres, sigma) = Toy::Gaussians25.mixture().unwrap();
    let mut rng = Rng::new(77);
    let data = Toy::Gaussians25.sample(500, &mut rand_chacha::ChaCha8Rng::seed_from_u64(77));
    let mut off = Vec::new();
    while off.len() < 1000 {
        let p = [2.0 * (2.0 * rng.uniform() - 1.0), 2.0 * (2.0 * rng.uniform() - 1.0)];
        if centres.iter().all(|c| (p[0] as f64 - c[0]).hypot(p[1] as f64 - c[1]) > 3.0 * sigma) {
            off.extend(p);
        }
    }
    let score = |pts: &[f32], scratch: &mut [f32]| -> Vec<f64> {
        pts.chunks(2).map(|x| model.anomaly_score(x, scratch).unwrap() as f64).collect()
    };
    let (s_data, s_off) = (score(&data, &mut scratch), score(&off, &mut scratch));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let labels: Vec<bool> = s_data.iter().map(|_| false).chain(s_off.iter().map(|_| true)).collect();
    let auroc = metrics::auroc(&[s_data.clone(), s_off.clone()].concat(), &labels);
    eprintln!("mean f(x, 0): data {:.3}, off-data {:.3}; AUROC of the anomaly score {auroc:.3}", -mean(&s_data), -mean(&s_off));
    assert!(mean(&s_data) < mean(&s_off), "energy does not prefer data");
    assert!(auroc > 0.8, "anomaly score separates data from off-data points poorly: AUROC {auroc}");
}

#[test]
fn same_seed_same_checkpoint_bytes_and_resume_is_exact() {
    let _g = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let (a, b, c, r) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ra = fit::fit(short(30, 5), None, &opts(a.path())).unwrap();
    let rb = fit::fit(short(30, 5), None, &opts(b.path())).unwrap();
    let rc = fit::fit(short(30, 6), None, &opts(c.path())).unwrap();
    let bytes = |p: &Path| std::fs::read(p).unwrap();
    assert!(bytes(&ra.checkpoint) == bytes(&rb.checkpoint), "same seed gave different checkpoints");
    assert!(bytes(&ra.checkpoint) != bytes(&rc.checkpoint), "different seeds gave the same checkpoint");

    // 15 iterations, then resume to 30: the same bytes as 30 in one go.
    fit::fit(short(15, 5), None, &opts(r.path())).unwrap();
    let rr = fit::fit(short(30, 5), Some(r.path()), &opts(r.path())).unwrap();
    assert_eq!(rr.iters_run, 15);
    assert!(bytes(&ra.checkpoint) == bytes(&rr.checkpoint), "resumed run differs from the uninterrupted one");
    let log = std::fs::read_to_string(r.path().join("log.csv")).unwrap();
    assert_eq!(log.lines().count(), 1 + 4, "log rows at 10, 15, 20, 30:\n{log}");
}
