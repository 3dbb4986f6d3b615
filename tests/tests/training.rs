//! Training end to end: a short run on 25gaussians improves the samples,
//! the exported energy prefers data to off-data points (through the
//! runtime), and runs are deterministic and resumable bit for bit.
//!
//! libtorch's random generator is global, so the tests of this file take a
//! lock instead of running concurrently.

use std::path::Path;
use std::sync::Mutex;

use ddaebm_export::model_file::{DeployModel, Precision};
use ddaebm_host::checkpoint::Checkpoint;
use ddaebm_runtime::Model;
use ddaebm_trainer::data::Toy;
use ddaebm_trainer::fit::{self, FitConfig, RunOptions};
use ddaebm_trainer::model::Ddaebm;
use tch::Device;

static TORCH: Mutex<()> = Mutex::new(());

fn opts(dir: &Path) -> RunOptions {
    RunOptions::quiet_cpu(dir)
}

fn short(iters: u64, seed: u64) -> FitConfig {
    FitConfig { iters, seed, checkpoint_every: 0, log_every: 10, ..FitConfig::default() }
}

#[test]
fn short_run_improves_samples_and_energy_prefers_data() {
    let _g = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let config = short(1500, 3);
    let (arch, schedule) = (
        config.arch(2),
        ddaebm_trainer::diffusion::compute_schedule(config.schedule, config.beta_min, config.beta_max, config.steps)
            .unwrap(),
    );
    let untrained = Ddaebm::new(arch, schedule, Device::Cpu, config.seed);
    let (mmd_init, floor) = fit::mmd_report(&untrained, Toy::Gaussians25, 1000, 11);

    let report = fit::fit(config, None, &opts(dir.path())).unwrap();
    let ckpt = Checkpoint::load(&report.checkpoint).unwrap();
    let trained = Ddaebm::from_checkpoint(&ckpt, Device::Cpu).unwrap();
    let (mmd_trained, _) = fit::mmd_report(&trained, Toy::Gaussians25, 1000, 11);
    eprintln!(
        "MMD² untrained {mmd_init:.4}, trained {mmd_trained:.4}, floor {floor:.4}; {:.1} it/s",
        report.iters_per_sec
    );
    assert!(mmd_trained < 0.25 * mmd_init, "MMD² {mmd_trained} not well below its initial {mmd_init}");

    // The learned energy, through the exported model and the runtime.
    let bytes = DeployModel::from_checkpoint(&ckpt).unwrap().to_bytes(Precision::F32);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = vec![0f32; model.scratch_len()];
    // The energy at the 25 modes vs at the 16 interior points farthest
    // from every mode (the cell centres between four modes).
    let (centres, _) = Toy::Gaussians25.mixture().unwrap();
    let step = centres[1][1] - centres[0][1]; // grid spacing
    let f = |x: f64, y: f64, scratch: &mut [f32]| model.energy(&[x as f32, y as f32], 0, scratch).unwrap() as f64;
    let on = centres.iter().map(|c| f(c[0], c[1], &mut scratch)).sum::<f64>() / 25.0;
    let between: Vec<f64> = centres
        .iter()
        .filter(|c| c[0] < centres[24][0] - 1e-9 && c[1] < centres[24][1] - 1e-9)
        .map(|c| f(c[0] + step / 2.0, c[1] + step / 2.0, &mut scratch))
        .collect();
    assert_eq!(between.len(), 16);
    let off = between.iter().sum::<f64>() / 16.0;
    eprintln!("mean f(x, 0): at the modes {on:.3}, between them {off:.3}");
    assert!(on > off + 0.5, "energy does not prefer data: modes {on}, between modes {off}");
}

#[test]
fn same_seed_same_checkpoint_bytes_and_resume_is_exact() {
    let _g = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let (a, b, c, r) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let ra = fit::fit(short(30, 5), None, &opts(a.path())).unwrap();
    let rb = fit::fit(short(30, 5), None, &opts(b.path())).unwrap();
    let rc = fit::fit(short(30, 6), None, &opts(c.path())).unwrap();
    let bytes = |p: &Path| std::fs::read(p).unwrap();
    assert!(bytes(&ra.checkpoint) == bytes(&rb.checkpoint), "same seed gave different checkpoints");
    assert!(bytes(&ra.checkpoint) != bytes(&rc.checkpoint), "different seeds gave the same checkpoint");

    // Interrupted at 15 of a 30-iteration run (the cosine learning-rate
    // schedule spans all 30), then resumed: the same bytes as 30 in one go.
    let stopped = RunOptions { stop_at: Some(15), ..opts(r.path()) };
    let rs = fit::fit(short(30, 5), None, &stopped).unwrap();
    assert_eq!(rs.iters_run, 15);
    assert!(bytes(&rs.checkpoint) != bytes(&ra.checkpoint));
    let rr = fit::fit(short(30, 5), Some(r.path()), &opts(r.path())).unwrap();
    assert_eq!(rr.iters_run, 15);
    assert!(bytes(&ra.checkpoint) == bytes(&rr.checkpoint), "resumed run differs from the uninterrupted one");
    let log = std::fs::read_to_string(r.path().join("log.csv")).unwrap();
    assert_eq!(log.lines().count(), 1 + 4, "log rows at 10, 15, 20, 30:\n{log}");

    // With a constant learning rate, 15 iterations extended to 30 with
    // --resume is the 30-iteration run too.
    let constant = |iters| FitConfig { cosine_lr: false, ..short(iters, 5) };
    let (x, y) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let whole = fit::fit(constant(30), None, &opts(x.path())).unwrap();
    fit::fit(constant(15), None, &opts(y.path())).unwrap();
    let extended = fit::fit(constant(30), Some(y.path()), &opts(y.path())).unwrap();
    assert!(bytes(&whole.checkpoint) == bytes(&extended.checkpoint), "extended run differs from the whole one");
    // Stopping at or before the checkpoint's iteration is an error, not a silent no-op.
    let again = RunOptions { stop_at: Some(30), ..opts(y.path()) };
    assert!(fit::fit(constant(40), Some(y.path()), &again).unwrap_err().to_string().contains("--stop-at 30"));
}

#[test]
fn user_data_run_chooses_its_energy_on_rows_set_aside_and_resumes_exactly() {
    let _g = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // Two clusters in 3 columns.
    let mut csv = String::from("a,b,c\n");
    for i in 0..200 {
        let (c, j) = (if i % 2 == 0 { 3.0 } else { -3.0 }, i as f64);
        csv += &format!("{},{},{}\n", c + (j * 0.37).sin(), (j * 0.71).cos(), c * 0.5 + (j * 1.3).sin() * 0.2);
    }
    let data = dir.path().join("two.csv");
    std::fs::write(&data, csv).unwrap();
    let config = FitConfig {
        data: Some(data.display().to_string()),
        select: FitConfig::select_for(true),
        base_components: FitConfig::base_components_for(true),
        trunk: vec![32, 32],
        ..short(40, 3)
    };
    let (a, r) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let whole = fit::fit(config.clone(), None, &opts(a.path())).unwrap();
    let sel = whole.selection.clone().expect("a --data run chooses its energy");
    assert_eq!(sel.rows, 40, "20 % of 200 rows set aside");
    assert!(sel.gain >= 0.0 && (0.0..=1.0).contains(&sel.scale));
    let ckpt = Checkpoint::load(&whole.checkpoint).unwrap();
    assert_eq!(ckpt.meta.selection.as_ref(), Some(&sel));
    // Two clusters: the rows set aside choose a mixture base, and it is stored.
    assert!(sel.components >= 2, "{sel:?}");
    assert_eq!(ckpt.gaussian_base().unwrap().unwrap().components(), sel.components);
    assert!(ckpt.tensors.keys().any(|k| k.starts_with("live.energy.")), "the live network is kept for --resume");
    assert!(ckpt.tensors.keys().any(|k| k.starts_with("select.best.energy.")));
    let log = std::fs::read_to_string(a.path().join("select.csv")).unwrap();
    assert_eq!(log.lines().count(), 1 + 1, "one evaluation (every 50 iterations, and at the end):\n{log}");
    // The model file records the choice.
    let file = DeployModel::from_checkpoint(&ckpt).unwrap().to_bytes(Precision::F32);
    Model::from_bytes(&file).unwrap();
    let header = String::from_utf8_lossy(&file[..file.len().min(16_384)]).into_owned();
    assert!(header.contains("\"selection\"") && header.contains(&sel.describe()), "{header}");

    // Interrupted and resumed: the same bytes, choice included.
    let stopped = RunOptions { stop_at: Some(20), ..opts(r.path()) };
    fit::fit(config.clone(), None, &stopped).unwrap();
    let resumed = fit::fit(config, Some(r.path()), &opts(r.path())).unwrap();
    let bytes = |p: &Path| std::fs::read(p).unwrap();
    assert!(bytes(&whole.checkpoint) == bytes(&resumed.checkpoint), "resumed run differs from the uninterrupted one");
}
