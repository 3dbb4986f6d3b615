//! How close does a threshold learned on the device get to the exact
//! quantile? Streams a series through the runtime's window scorer, then, for
//! N = 200, 1,000 and 5,000 normal windows (several start points each), learns
//! the `--level` quantile of their scores with each fixed-memory estimator of
//! `ddaebm_runtime::field_calibration`, compares it with the exact quantile of
//! the same N scores (NumPy's linear interpolation, as `export --calibrate`)
//! and measures the false-alarm rate on the normal windows not used for
//! learning. Prints a markdown table.
//!
//! ```sh
//! cargo run --release -p ddaebm-runtime --example field_calibration -- \
//!     MODEL SERIES.csv --window 32 [--label-column label] [--from 1000] [--level 0.99] \
//!     [--sizes 200,1000,5000] [--trials 20] [--host-scores SCORES.csv]
//! ```
//!
//! SERIES.csv: a header row, numeric columns (the channels, in the training
//! file's order) and optionally a 0/1 label column; a window is normal when
//! none of its rows is labelled 1. `--from K` drops the windows starting
//! before row K (e.g. the training prefix). `--window 1` scores single rows
//! (a model trained without `--window`). `--host-scores` (the `-o` file of
//! `export score MODEL SERIES.csv --window W`) checks that every window's
//! score is the host's, bit for bit.

use std::process::ExitCode;

use ddaebm_runtime::field_calibration::{HistogramQuantile, P2Quantile, TailQuantile};
use ddaebm_runtime::{FieldCalibration, Model, WindowScorer, WindowShape};

struct Args {
    model: String,
    series: String,
    window: usize,
    label: String,
    from: usize,
    level: f32,
    sizes: Vec<usize>,
    trials: usize,
    host_scores: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut pos = Vec::new();
    let mut a = Args {
        model: String::new(),
        series: String::new(),
        window: 1,
        label: "label".into(),
        from: 0,
        level: 0.99,
        sizes: vec![200, 1000, 5000],
        trials: 20,
        host_scores: None,
    };
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--window" => a.window = value()?.parse().map_err(|e| format!("--window: {e}"))?,
            "--label-column" => a.label = value()?,
            "--from" => a.from = value()?.parse().map_err(|e| format!("--from: {e}"))?,
            "--level" => a.level = value()?.parse().map_err(|e| format!("--level: {e}"))?,
            "--trials" => a.trials = value()?.parse().map_err(|e| format!("--trials: {e}"))?,
            "--sizes" => {
                a.sizes = value()?
                    .split(',')
                    .map(|s| s.parse().map_err(|e| format!("--sizes: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--host-scores" => a.host_scores = Some(value()?),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ => pos.push(arg),
        }
    }
    match <[String; 2]>::try_from(pos) {
        Ok([m, s]) => (a.model, a.series) = (m, s),
        Err(_) => return Err("usage: field_calibration MODEL SERIES.csv [--window W] [options]".into()),
    }
    Ok(a)
}

/// (rows of channel values, per-row label)
fn read_series(path: &str, label: &str) -> Result<(Vec<Vec<f32>>, Vec<bool>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or(format!("{path}: empty"))?.split(',').map(str::trim).collect();
    let label_at = header.iter().position(|h| *h == label);
    let (mut rows, mut labels) = (Vec::new(), Vec::new());
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let mut row = Vec::new();
        let mut anomalous = false;
        for (j, cell) in line.split(',').enumerate() {
            // As export's reader: f64, then rounded to f32.
            let v: f64 = cell.trim().parse().map_err(|e| format!("{path}: line {}: {e}", i + 2))?;
            if Some(j) == label_at {
                anomalous = v != 0.0;
            } else {
                row.push(v as f32);
            }
        }
        rows.push(row);
        labels.push(anomalous);
    }
    Ok((rows, labels))
}

/// NumPy's linear-interpolation quantile (f64).
fn exact_quantile(scores: &[f32], level: f32) -> f64 {
    let mut s: Vec<f64> = scores.iter().map(|&v| v as f64).collect();
    s.sort_by(f64::total_cmp);
    let h = (s.len() - 1) as f64 * level as f64;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    s[lo] + (h - lo as f64) * (s[hi] - s[lo])
}

struct Stats {
    rel_err: Vec<f64>,
    tail_err: Vec<f64>,
    false_alarms: Vec<f64>,
}

impl Stats {
    fn new() -> Stats {
        Stats { rel_err: Vec::new(), tail_err: Vec::new(), false_alarms: Vec::new() }
    }
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len().max(2) - 1) as f64;
    (m, var.sqrt())
}

fn run() -> Result<(), String> {
    let a = parse_args()?;
    let bytes = std::fs::read(&a.model).map_err(|e| format!("{}: {e}", a.model))?;
    let model = Model::from_bytes(&bytes).map_err(|e| format!("{}: {e}", a.model))?;
    let (rows, labels) = read_series(&a.series, &a.label)?;
    let channels = rows.first().map_or(0, Vec::len);

    // Every stride-1 window through the device's window scorer.
    let shape = WindowShape::new(a.window, 1, channels);
    let mut scorer = Box::new(WindowScorer::<1024>::new(&model, shape).map_err(|e| e.to_string())?);
    let mut scratch = vec![0f32; model.scratch_len()];
    let mut scores = Vec::new();
    for row in &rows {
        if let Some(s) = scorer.push_score(&model, row, &mut scratch).map_err(|e| e.to_string())? {
            scores.push(s);
        }
    }
    if let Some(path) = &a.host_scores {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let host: Vec<f32> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap_or("").parse::<f64>().map(|v| v as f32))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{path}: {e}"))?;
        let same = host.len() == scores.len() && host.iter().zip(&scores).all(|(h, d)| h.to_bits() == d.to_bits());
        if !same {
            return Err(format!(
                "{path}: {} host scores, {} device scores, not bit-identical",
                host.len(),
                scores.len()
            ));
        }
        println!("parity: all {} window scores bit-identical to {path}", scores.len());
    }
    // Normal windows from --from on, in stream order.
    let normal: Vec<f32> = scores
        .iter()
        .enumerate()
        .filter(|&(k, _)| k >= a.from && !labels[k..k + a.window].iter().any(|&l| l))
        .map(|(_, &s)| s)
        .collect();
    println!(
        "{}: {} rows x {channels} channels, window {}, {} windows, {} normal from row {}; level {}",
        a.series,
        rows.len(),
        a.window,
        scores.len(),
        normal.len(),
        a.from,
        a.level
    );
    println!();
    println!(
        "| N | start points | estimator | memory (bytes) | |threshold − exact| / exact, mean (max) | \
         |threshold − exact| / (exact − median), mean (max) | false alarms on held-out normal windows, mean ± std |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|");
    for &n in &a.sizes {
        if n + 1 > normal.len() {
            println!("| {n} | - | (only {} normal windows) | | | | |", normal.len());
            continue;
        }
        let trials = a.trials.max(1);
        let span = normal.len() - n;
        let names = [
            "exact (reference)",
            "TailQuantile<64>",
            "P2Quantile",
            "HistogramQuantile<64>",
            "HistogramQuantile<256>",
            "FieldCalibration",
        ];
        let memory = [
            0,
            std::mem::size_of::<TailQuantile<64>>(),
            std::mem::size_of::<P2Quantile>(),
            std::mem::size_of::<HistogramQuantile<64>>(),
            std::mem::size_of::<HistogramQuantile<256>>(),
            std::mem::size_of::<FieldCalibration>(),
        ];
        let mut stats: Vec<Stats> = names.iter().map(|_| Stats::new()).collect();
        for t in 0..trials {
            let start = if trials == 1 { 0 } else { t * span / (trials - 1) };
            let learn = &normal[start..start + n];
            let held: Vec<f32> = normal[..start].iter().chain(&normal[start + n..]).copied().collect();
            let exact = exact_quantile(learn, a.level);
            let median = exact_quantile(learn, 0.5);
            let mut tail = TailQuantile::<64>::new(a.level);
            let mut p2 = P2Quantile::new(a.level);
            let mut h64 = HistogramQuantile::<64>::new(a.level);
            let mut h256 = HistogramQuantile::<256>::new(a.level);
            let mut field = FieldCalibration::new(a.level, n as u32).map_err(|e| e.to_string())?;
            for &s in learn {
                tail.observe(s);
                p2.observe(s);
                h64.observe(s);
                h256.observe(s);
                field.observe(s).map_err(|e| e.to_string())?;
            }
            let estimates = [
                Some(exact as f32),
                tail.estimate(),
                p2.estimate(),
                h64.estimate(),
                h256.estimate(),
                field.learned_threshold(),
            ];
            for (st, e) in stats.iter_mut().zip(estimates) {
                let Some(e) = e else { continue };
                st.rel_err.push(((e as f64 - exact) / exact).abs());
                st.tail_err.push(((e as f64 - exact) / (exact - median)).abs());
                st.false_alarms.push(held.iter().filter(|&&s| s > e).count() as f64 / held.len() as f64);
            }
        }
        for ((name, st), mem) in names.iter().zip(&stats).zip(memory) {
            if st.rel_err.is_empty() {
                println!("| {n} | {trials} | {name} | {mem} | (does not fit) | | |");
                continue;
            }
            let mean = st.rel_err.iter().sum::<f64>() / st.rel_err.len() as f64;
            let max = st.rel_err.iter().cloned().fold(0.0, f64::max);
            let tail_mean = st.tail_err.iter().sum::<f64>() / st.tail_err.len() as f64;
            let tail_max = st.tail_err.iter().cloned().fold(0.0, f64::max);
            let (fa, fa_sd) = mean_std(&st.false_alarms);
            println!(
                "| {n} | {} | {name} | {} | {:.2} % ({:.2} %) | {:.2} % ({:.2} %) | {:.2} % ± {:.2} |",
                st.rel_err.len(),
                if mem == 0 { "-".to_string() } else { mem.to_string() },
                100.0 * mean,
                100.0 * max,
                100.0 * tail_mean,
                100.0 * tail_max,
                100.0 * fa,
                100.0 * fa_sd
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("field_calibration: {e}");
            ExitCode::FAILURE
        }
    }
}
