//! The user's columns end to end: `trainer fit` leaves out an id, a
//! constant and a label column and says so; the model file records the
//! columns it reads; `export score` matches a file whose columns come in
//! another order by name (same scores) and names a missing column; fewer
//! rows than columns train with a warning.

use std::path::Path;
use std::process::{Command, Stdio};

use ddaebm_e2e::{export, workspace_bin};
use ddaebm_runtime::Model;

/// Runs `trainer fit --quiet ARGS` with a small, fast model in `dir`: (exit code, stderr).
fn fit(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let small = ["--width", "16", "--depth", "1", "--batch-size", "32", "--eval-every", "0", "--threads", "1"];
    let out = Command::new(workspace_bin("trainer"))
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

/// A plant log: an id, two sensors, a constant site code and a 0/1 label,
/// with the columns in the order `order` gives (indices into
/// `id,temp,site,flow,label`).
fn write_log(path: &Path, rows: usize, order: &[usize]) {
    let names = ["id", "temp", "site", "flow", "label"];
    let mut text = order.iter().map(|&k| names[k]).collect::<Vec<_>>().join(",") + "\n";
    for i in 0..rows {
        let t = i as f32;
        let cells = [
            format!("{i}"),
            format!("{:.4}", 20.0 + 3.0 * (t * 0.3).sin()),
            "7".to_string(),
            format!("{:.4}", 1.5 + (t * 0.7).cos()),
            format!("{}", u8::from(i % 9 == 0)),
        ];
        text += &(order.iter().map(|&k| cells[k].clone()).collect::<Vec<_>>().join(",") + "\n");
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn chosen_columns_reach_the_model_file_and_scoring_matches_them_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_log(&d.join("plant.csv"), 120, &[0, 1, 2, 3, 4]);

    // Without a choice the constant column is refused, with the flags named.
    let (code, err) = fit(d, &["--data", "plant.csv", "--iters", "5", "--out", "refused"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("column 3 (`site`) is constant (= 7)") && err.contains("--drop-constant"), "{err}");

    let (code, err) = fit(
        d,
        &[
            "--data",
            "plant.csv",
            "--drop-columns",
            "id",
            "--drop-constant",
            "--label-column",
            "label",
            "--iters",
            "30",
            "--out",
            "run",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(
            "data: plant.csv: 120 rows x 5 columns, using 2 columns (holdout 0, training on 96 rows, 24 set aside to \
             choose the energy)"
        ),
        "{err}"
    );
    assert!(err.contains("data: dropped 1 column constant on every row (--drop-constant): site (= 7)"), "{err}");
    assert!(err.contains("data: dropped 1 column (--drop-columns): id"), "{err}");
    assert!(err.contains("data: label column `label` is not trained on (--label-column)"), "{err}");
    assert!(!err.contains("small data"), "{err}");

    let ckpt = d.join("run/checkpoint.safetensors");
    let model_path = d.join("model.safetensors");
    export(&[ckpt.to_str().unwrap(), "--f32", "--score", "energy", "-o", model_path.to_str().unwrap()]).unwrap();
    let bytes = std::fs::read(&model_path).unwrap();
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.data_dim(), 2);
    assert_eq!(model.window(), Some((1, 1, 2)));
    assert_eq!((model.column_name(0), model.column_name(1), model.column_name(2)), (Some("temp"), Some("flow"), None));

    // The same readings with the columns in another order score the same.
    write_log(&d.join("swapped.csv"), 120, &[4, 3, 2, 0, 1]);
    let (a, b) = (d.join("a.csv"), d.join("b.csv"));
    let m = model_path.to_str().unwrap();
    export(&["score", m, d.join("plant.csv").to_str().unwrap(), "--label-column", "label", "-o", a.to_str().unwrap()])
        .unwrap();
    export(&[
        "score",
        m,
        d.join("swapped.csv").to_str().unwrap(),
        "--label-column",
        "label",
        "-o",
        b.to_str().unwrap(),
    ])
    .unwrap();
    let (a, b) = (std::fs::read_to_string(a).unwrap(), std::fs::read_to_string(b).unwrap());
    assert_eq!(a.lines().count(), 121);
    assert_eq!(a, b, "scores differ when the columns come in another order");

    // A file without `flow` is refused, naming it.
    let missing = d.join("missing.csv");
    std::fs::write(&missing, "id,temp,site\n1,20.1,7\n2,20.5,7\n").unwrap();
    let e = export(&["score", m, missing.to_str().unwrap()]).unwrap_err();
    assert!(e.contains("missing.csv: missing column `flow` that the model reads"), "{e}");

    // --calibrate and --window are taken against the checkpoint's contract.
    let e =
        export(&[ckpt.to_str().unwrap(), "--f32", "--calibrate", d.join("swapped.csv").to_str().unwrap()]).unwrap_err();
    assert!(
        e.contains("5 data columns, one of them a label column") && e.contains("remove the label column (`label`)"),
        "{e}"
    );
    let e = export(&["score", m, missing.to_str().unwrap(), "--window", "4"]).unwrap_err();
    assert!(e.contains("--window 4: the model reads single rows of 2 columns"), "{e}");
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
