//! `export` refuses what it cannot read, with a message and no output file.

use std::process::Command;

fn export(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_export")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("nope.safetensors");
    let (ok, err) = export(&[ckpt.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("nope.safetensors") && err.contains("No such file"), "{err}");
    assert!(!dir.path().join("model-f32.safetensors").exists());
}

#[test]
fn garbage_is_not_a_checkpoint_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("checkpoint.safetensors");
    std::fs::write(&ckpt, b"definitely not safetensors").unwrap();
    let (ok, err) = export(&[ckpt.to_str().unwrap(), "--fp16"]);
    assert!(!ok);
    assert!(err.contains("not a safetensors checkpoint"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 1, "export left files behind: {left:?}");
}

#[test]
fn safetensors_without_ddaebm_metadata_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("checkpoint.safetensors");
    // A valid safetensors file with one tensor and no metadata.
    let header = br#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&1f32.to_le_bytes());
    std::fs::write(&ckpt, bytes).unwrap();
    let (ok, err) = export(&[ckpt.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("not a DDAEBM checkpoint"), "{err}");
}

#[test]
fn inspect_reports_tensors_and_runtime_needs_and_refuses_broken_files() {
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../firmware-examples/cortex-m4f-anomaly/model/default-f16.safetensors");
    let out = Command::new(env!("CARGO_BIN_EXE_export")).arg("inspect").arg(&model).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in ["format_version     1", "energy.0.weight", "F16", "scratch RAM", "multiply-accumulates"] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.safetensors");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_export")).arg("inspect").arg(&cut).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
}
