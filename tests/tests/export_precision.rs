//! Every precision end to end: a user's CSV → `trainer fit` → `export
//! --{f32,fp16,bf16,int8} --calibrate --probe --report` → the runtime (the
//! default reconstruction score, then the energy score on request), with
//! the stated accuracy bounds; the calibration's threshold and quantiles
//! are what the exported model's own scores give; `export score` reports
//! what an independent computation gives; an export over its error bound
//! is refused and writes nothing.

use std::fmt::Write;
use std::path::Path;

use ddaebm_e2e::export;
use ddaebm_export::calibrate::quantile;
use ddaebm_host::detection::auroc;
use ddaebm_runtime::{Model, Rng};
use ddaebm_trainer::fit::{self, FitConfig, RunOptions};

/// Writes `rows` 2-D readings in raw units (centre (5, −3), σ (2, 0.5));
/// with `anomalies`, that many points on a ring 4 to 6 σ out, and a label
/// column. Returns the rows.
fn write_csv(path: &Path, rng: &mut Rng, rows: usize, anomalies: usize) -> Vec<([f32; 2], bool)> {
    let mut out = Vec::new();
    for _ in 0..rows {
        out.push(([5.0 + 2.0 * rng.normal(), -3.0 + 0.5 * rng.normal()], false));
    }
    for _ in 0..anomalies {
        let (a, r) = (std::f32::consts::TAU * rng.uniform(), 4.0 + 2.0 * rng.uniform());
        out.push(([5.0 + 2.0 * r * a.cos(), -3.0 + 0.5 * r * a.sin()], true));
    }
    let mut csv = String::from(if anomalies > 0 { "a,b,label\n" } else { "a,b\n" });
    for (x, l) in &out {
        if anomalies > 0 {
            writeln!(csv, "{},{},{}", x[0], x[1], u8::from(*l)).unwrap();
        } else {
            writeln!(csv, "{},{}", x[0], x[1]).unwrap();
        }
    }
    std::fs::write(path, csv).unwrap();
    out
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn every_precision_with_calibration_report_and_scoring() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = Rng::new(11);
    write_csv(&d.join("normal.csv"), &mut rng, 400, 0);
    let calib = write_csv(&d.join("calib.csv"), &mut rng, 300, 0);
    let test = write_csv(&d.join("test.csv"), &mut rng, 200, 100);

    let config = FitConfig {
        data: Some(s(&d.join("normal.csv"))),
        iters: 150,
        trunk: vec![64, 64],
        checkpoint_every: 0,
        eval_every: 0,
        ..FitConfig::default()
    };
    let opts = RunOptions::quiet_cpu(d.join("run"));
    let ckpt = s(&fit::fit(config, None, &opts).unwrap().checkpoint);

    // (flag, name in the report, bound on every error figure)
    for (flag, name, bound) in
        [("--f32", "f32", 0.0), ("--fp16", "f16", 1e-2), ("--bf16", "bf16", 5e-2), ("--int8", "int8", 8e-2)]
    {
        let model_path = d.join(format!("model-{name}.safetensors"));
        let report = d.join(format!("report-{name}.json"));
        export(&[
            &ckpt,
            flag,
            "--calibrate",
            &s(&d.join("calib.csv")),
            "--probe",
            &s(&d.join("test.csv")),
            "--report",
            &s(&report),
            "-o",
            &s(&model_path),
        ])
        .unwrap();

        // The report: all four precisions, the written one within its bound,
        // f32 against itself exactly 0.
        let r = json(&report);
        assert_eq!(r["written"], name);
        let rows = r["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 4);
        let row = |p: &str| rows.iter().find(|x| x["precision"] == p).unwrap().clone();
        for key in ["score_max_abs_error", "step_max_abs_error", "sample_max_abs_error"] {
            assert_eq!(row("f32")[key], 0.0, "{key}");
        }
        let mine = row(name);
        for key in ["score_max_relative_error", "step_max_abs_error", "sample_max_abs_error"] {
            let v = mine[key].as_f64().unwrap();
            assert!(v <= bound, "{name}: {key} = {v:e} > {bound:e}");
        }
        let bytes = std::fs::read(&model_path).unwrap();
        assert_eq!(mine["file_bytes"].as_u64().unwrap() as usize, bytes.len());

        // Calibration: the threshold is the 0.99 quantile of this file's own
        // scores of the calibration rows; ≤ 1 % of them are flagged.
        let model = Model::from_bytes(&bytes).unwrap();
        let mut scratch = vec![0f32; model.scratch_len()];
        let mut scores: Vec<f64> =
            calib.iter().map(|(x, _)| f64::from(model.anomaly_score(x, &mut scratch).unwrap())).collect();
        scores.sort_by(f64::total_cmp);
        assert_eq!(model.threshold(), Some(quantile(&scores, 0.99) as f32), "{name}");
        let flagged = calib.iter().filter(|(x, _)| model.is_anomaly(x, &mut scratch).unwrap()).count();
        assert!(flagged <= 3, "{name}: {flagged} of 300 calibration rows flagged");
        let median = f64::from(model.tail_probability(quantile(&scores, 0.5) as f32).unwrap());
        assert!((median - 0.5).abs() <= 1.0 / 128.0, "{name}: tail at the median {median}");

        // `export score`: the summary equals an independent computation.
        let summary = d.join(format!("summary-{name}.json"));
        let per_row = d.join(format!("scores-{name}.csv"));
        let m = s(&model_path);
        let t = s(&d.join("test.csv"));
        export(&["score", &m, &t, "--label-column", "label", "--json", &s(&summary), "-o", &s(&per_row)]).unwrap();
        let sm = json(&summary);
        let test_scores: Vec<f64> =
            test.iter().map(|(x, _)| f64::from(model.anomaly_score(x, &mut scratch).unwrap())).collect();
        let labels: Vec<bool> = test.iter().map(|(_, l)| *l).collect();
        assert_eq!(sm["rows"], 300);
        assert_eq!(sm["auroc"].as_f64().unwrap(), auroc(&test_scores, &labels), "{name}");
        let th = model.threshold().unwrap();
        let detected = test.iter().zip(&test_scores).filter(|((_, l), s)| *l && **s as f32 > th).count();
        assert_eq!(sm["detection_rate"].as_f64().unwrap(), detected as f64 / 100.0);
        let text = std::fs::read_to_string(&per_row).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "score,tail_probability,anomaly,label");
        assert_eq!(lines.len(), 301);
        for (line, score) in lines[1..].iter().zip(&test_scores) {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells[0].parse::<f64>().unwrap(), *score);
            assert_eq!(cells[2], if *score as f32 > th { "1" } else { "0" });
        }
    }

    // The reconstruction score: declared in the file, used by anomaly_score
    // and the calibration; far-off readings reconstruct badly.
    let rec = d.join("model-rec.safetensors");
    let c = s(&d.join("calib.csv"));
    export(&[&ckpt, "--score", "reconstruction", "--draws", "4", "--calibrate", &c, "-o", &s(&rec)]).unwrap();
    let bytes = std::fs::read(&rec).unwrap();
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.score_kind(), ddaebm_runtime::ScoreKind::Reconstruction);
    let mut scratch = vec![0f32; model.scratch_len()];
    let mut scores: Vec<f64> = Vec::new();
    for (x, _) in &calib {
        let a = model.anomaly_score(x, &mut scratch).unwrap();
        assert_eq!(a.to_bits(), model.reconstruction_score(x, &mut scratch).unwrap().to_bits());
        scores.push(f64::from(a));
    }
    scores.sort_by(f64::total_cmp);
    assert_eq!(model.threshold(), Some(quantile(&scores, 0.99) as f32));
    let test_scores: Vec<f64> =
        test.iter().map(|(x, _)| f64::from(model.anomaly_score(x, &mut scratch).unwrap())).collect();
    let labels: Vec<bool> = test.iter().map(|(_, l)| *l).collect();
    let rec_auroc = auroc(&test_scores, &labels);
    eprintln!("reconstruction-score AUROC on the ring anomalies: {rec_auroc:.4}");
    assert!(rec_auroc > 0.9, "reconstruction AUROC {rec_auroc}");

    // The energy score on request: −f(x, 0), as docs/algorithm.md §4 defines it.
    let energy = d.join("model-energy.safetensors");
    export(&[&ckpt, "--score", "energy", "-o", &s(&energy)]).unwrap();
    let bytes = std::fs::read(&energy).unwrap();
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.score_kind(), ddaebm_runtime::ScoreKind::Energy);
    let x = test[0].0;
    let f = model.energy(&x, 0, &mut scratch).unwrap();
    assert_eq!(model.anomaly_score(&x, &mut scratch).unwrap().to_bits(), (-f).to_bits());

    // Over the bound: refused with a message naming the override, nothing written.
    let refused = d.join("refused.safetensors");
    let err = export(&[&ckpt, "--int8", "--max-error", "1e-9", "-o", &s(&refused)]).unwrap_err();
    assert!(err.contains("--allow-inaccurate"), "{err}");
    assert!(!refused.exists());
    export(&[&ckpt, "--int8", "--max-error", "1e-9", "--allow-inaccurate", "-o", &s(&refused)]).unwrap();
    assert!(Model::from_bytes(&std::fs::read(&refused).unwrap()).unwrap().threshold().is_none());

    // A calibration file of the wrong width, or with NaN, is a clear error.
    let err = export(&[&ckpt, "--calibrate", &s(&d.join("test.csv")), "-o", &s(&refused)]).unwrap_err();
    assert!(err.contains("3 data columns"), "{err}");
    // A labelled file: drop the label column (--label-column is for --probe).
    assert!(err.contains("remove the label column (`label`)"), "{err}");
    assert!(!err.contains("--label-column"), "{err}");
    std::fs::write(d.join("nan.csv"), "a,b\n1,2\nnan,3\n").unwrap();
    let err = export(&[&ckpt, "--calibrate", &s(&d.join("nan.csv"))]).unwrap_err();
    assert!(err.contains("line 3"), "{err}");
    // Scoring without the label column that was asked for.
    let err = export(&["score", &s(&refused), &s(&d.join("calib.csv")), "--label-column", "label"]).unwrap_err();
    assert!(err.contains("no column called `label`"), "{err}");
}
