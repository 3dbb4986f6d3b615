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
    for want in [
        "format_version     2",
        "energy.0.weight",
        "base.basis",
        "F16",
        "scratch RAM",
        "multiply-accumulates",
        "Gaussian base measure",
    ] {
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

/// Runs `export ARGS` in `dir`: (exit code, stdout, stderr).
fn export_in(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_export")).args(args).current_dir(dir).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn default_model() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../firmware-examples/cortex-m4f-anomaly/model/default-f16.safetensors")
}

#[test]
fn every_subcommand_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for (args, want) in [
        (&["--help"][..], "export inspect MODEL"),
        (&["convert", "--help"], "Usage: export convert [OPTIONS] <CHECKPOINT>"),
        (&["inspect", "--help"], "Usage: export inspect [OPTIONS] <MODEL>"),
        (&["score", "--help"], "Usage: export score [OPTIONS] <MODEL> <DATA>"),
        (&["help", "inspect"], "Usage: export inspect [OPTIONS] <MODEL>"),
        (&["help", "score"], "Usage: export score"),
        (&["help", "convert"], "--calibrate <FILE>"),
        (&["-h"], "export [convert] CHECKPOINT"),
    ] {
        let (code, out, err) = export_in(dir.path(), args);
        assert_eq!(code, Some(0), "export {args:?}: {err}");
        assert!(out.contains(want), "export {args:?}: no `{want}` in\n{out}");
    }
    let (code, out, _) = export_in(dir.path(), &["--version"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("export "), "{out}");
}

#[test]
fn usage_errors_exit_2_and_other_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let m = default_model();
    let m = m.to_str().unwrap();
    for (args, want) in [
        (&[][..], "give a command or a checkpoint"),
        (&["inspect"], "<MODEL>"),
        (&["inspect", m, "extra"], "unexpected argument 'extra'"),
        (&["score", m], "<DATA>"),
        (&["ckpt.safetensors", "--bogus"], "unexpected argument '--bogus'"),
        (&["convert", "ckpt.safetensors", "--fp16", "--int8"], "cannot be used with"),
        // A negative value is parsed as the value, then refused for its range.
        (&["ckpt.safetensors", "--max-error", "-1"], "--max-error must be positive, got -1"),
        (&["ckpt.safetensors", "--draws", "0"], "--draws must be in 1..="),
        (
            &["ckpt.safetensors", "--threshold-level", "1.5", "--calibrate", "c.csv"],
            "--threshold-level must be in (0, 1)",
        ),
        (&["ckpt.safetensors", "-o", "-"], "-o -: the model file is binary"),
        (&["score", m, "x.csv", "-o", "-", "--json", "-"], "both ask for stdout"),
    ] {
        let (code, _, err) = export_in(dir.path(), args);
        assert_eq!(code, Some(2), "export {args:?}: {err}");
        assert!(err.starts_with("error: ") && err.contains(want), "export {args:?}: no `{want}` in\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Not usage errors: a missing file is 1, in the bare and the `convert` form alike.
    for args in [&["nope.safetensors"][..], &["convert", "nope.safetensors"], &["inspect", "nope.safetensors"]] {
        let (code, _, err) = export_in(dir.path(), args);
        assert_eq!(code, Some(1), "export {args:?}: {err}");
        assert!(err.contains("nope.safetensors"), "{err}");
    }
}

#[test]
fn inspect_of_a_training_checkpoint_says_to_export_it() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("checkpoint.safetensors");
    // The shape of what `trainer fit` writes: the checkpoint metadata key.
    let header = br#"{"__metadata__":{"ddaebm.checkpoint":"{}"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&1f32.to_le_bytes());
    std::fs::write(&ckpt, bytes).unwrap();
    let c = ckpt.to_str().unwrap();
    for args in [&["inspect", c][..], &["score", c, "data.csv"]] {
        let (code, _, err) = export_in(dir.path(), args);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("is a training checkpoint, not a model file"), "{err}");
        assert!(err.contains(&format!("`export {c}`")), "{err}");
        assert!(!err.contains("re-export"), "{err}");
    }
}

#[test]
fn score_writes_per_row_csv_to_stdout_with_dash() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.csv"), "x,y\n0,0\n1,1\n-2,3\n").unwrap();
    let m = default_model();
    let (code, out, err) = export_in(dir.path(), &["score", m.to_str().unwrap(), "x.csv", "-o", "-"]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "score,tail_probability,anomaly", "{out}");
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[1..].iter().all(|l| l.split(',').next().unwrap().parse::<f64>().is_ok()), "{out}");
    // The summary moves to stderr, and no file called `-` appears.
    assert!(err.contains("scored 3 rows of x.csv"), "{err}");
    assert!(!dir.path().join("-").exists());
    let (code, out, _) = export_in(dir.path(), &["score", m.to_str().unwrap(), "x.csv", "--json", "-"]);
    assert_eq!(code, Some(0));
    let json: serde_json::Value = serde_json::from_str(&out).expect("stdout is the JSON summary");
    assert_eq!(json["rows"], 3);
}

/// Spawns `export ARGS` with its stdout a pipe whose reading end is closed
/// at once, as `export ARGS | head -0` does.
fn into_closed_pipe(args: &[&str]) -> std::process::ExitStatus {
    let mut child = Command::new(env!("CARGO_BIN_EXE_export"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "export {args:?} panicked: {err}");
    out.status
}

#[test]
fn a_closed_pipe_ends_export_quietly() {
    let m = default_model();
    for args in [&["inspect", m.to_str().unwrap()][..], &["--help"]] {
        let status = into_closed_pipe(args);
        assert_ne!(status.code(), Some(101), "export {args:?}: {status}");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            // Killed by SIGPIPE as `cat` would be, or done before it noticed.
            assert!(status.success() || status.signal() == Some(13), "export {args:?}: {status}");
        }
    }
}

/// The runtime's host demo, compiled in here to check its printout.
#[allow(dead_code)]
#[path = "../../runtime/examples/host_demo.rs"]
mod host_demo;

#[test]
fn host_demo_labels_the_score_the_file_declares() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/fuzz/corpus/load_and_run");
    for (file, want, not) in [
        (default_model(), "= -f(x, 0)", "reconstruction"),
        (corpus.join("tiny-int8-reconstruction.safetensors"), "reconstruction error", "-f(x, 0)"),
    ] {
        let mut out = Vec::new();
        host_demo::demo(file.to_str().unwrap(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let line = text.lines().find(|l| l.starts_with("anomaly score")).expect("a score line");
        assert!(line.contains(want) && !line.contains(not), "{}: {line}", file.display());
    }
}
