//! The user's columns in `trainer fit`: small data trains with a warning.
//! (Chosen columns through `export` to the model file: tests/tests/columns.rs.)

use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `trainer fit --quiet ARGS` with a small, fast model in `dir`: (exit code, stderr).
fn fit(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let small = ["--width", "16", "--depth", "1", "--batch-size", "32", "--eval-every", "0", "--threads", "1"];
    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .args(["fit", "--quiet", "--device", "cpu", "--seed", "3"])
        .args(small)
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "trainer fit {args:?} panicked: {err}");
    (out.status.code(), err)
}

#[test]
fn fewer_rows_than_columns_trains_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cols = 24;
    let mut text = (0..cols).map(|c| format!("v{c}")).collect::<Vec<_>>().join(",") + "\n";
    for r in 0..16 {
        let cells: Vec<String> = (0..cols).map(|c| format!("{:.4}", ((r * (c + 2)) as f32 * 0.37).sin())).collect();
        text += &(cells.join(",") + "\n");
    }
    std::fs::write(d.join("wide.csv"), text).unwrap();
    let (code, err) = fit(d, &["--data", "wide.csv", "--iters", "10"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("warning: small data: 16 training rows for 24 values per row, fewer than 2 x 24 = 48"),
        "{err}"
    );
    assert!(d.join("runs/wide/checkpoint.safetensors").exists());
}
