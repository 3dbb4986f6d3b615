//! `export` refuses checkpoints it does not understand: another format
//! version, a missing tensor, a tensor of the wrong shape.

use std::sync::Mutex;

use ddaebm_export::fold::FoldError;
use ddaebm_export::model_file::DeployModel;
use ddaebm_host::checkpoint::{Checkpoint, CheckpointError};
use ddaebm_trainer::fit::{self, FitConfig, RunOptions};

static TORCH: Mutex<()> = Mutex::new(());

fn checkpoint() -> (tempfile::TempDir, Checkpoint) {
    let _g = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let config = FitConfig { iters: 2, checkpoint_every: 0, ..FitConfig::default() };
    let opts = RunOptions::quiet_cpu(dir.path());
    let report = fit::fit(config, None, &opts).unwrap();
    let ckpt = Checkpoint::load(&report.checkpoint).unwrap();
    (dir, ckpt)
}

#[test]
fn other_format_version_is_refused() {
    let (_dir, mut ckpt) = checkpoint();
    ckpt.meta.version = 99;
    let err = Checkpoint::from_bytes(&ckpt.to_bytes(), "x.safetensors").unwrap_err();
    assert!(matches!(err, CheckpointError::Version { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("version 99"));
}

#[test]
fn missing_and_misshapen_tensors_are_refused() {
    let (_dir, ckpt) = checkpoint();
    let mut missing = ckpt.clone();
    missing.tensors.remove("generator.h1.weight").unwrap();
    let err = DeployModel::from_checkpoint(&missing).unwrap_err();
    assert!(matches!(&err, FoldError::Missing(n) if n == "generator.h1.weight"), "{err}");

    let mut bad = ckpt.clone();
    let t = bad.tensors.get_mut("energy.h0.weight").unwrap();
    t.shape = vec![t.shape[1], t.shape[0]];
    let err = DeployModel::from_checkpoint(&bad).unwrap_err();
    assert!(matches!(&err, FoldError::Shape { name, .. } if name == "energy.h0.weight"), "{err}");
    assert!(DeployModel::from_checkpoint(&ckpt).is_ok());
}
