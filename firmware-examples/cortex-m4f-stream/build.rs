//! Embeds the model file and the sensor series.
//!
//! * The model: `DDAEBM_MODEL` (a path, relative to this package's folder or
//!   absolute) or, by default, the committed `model/ucr135-int8.safetensors`.
//!   It must declare its window (`trainer fit --window`): the firmware reads
//!   the window, stride and channels from it, as any streaming app would.
//! * The series: `DDAEBM_SERIES` (a CSV with a header) or, by default,
//!   `data/ucr135.csv`. Its rows from [`FIRST_ROW`] on are streamed (the rows
//!   before it trained and calibrated the committed model,
//!   `scripts/stream-model.sh`). The model's columns are taken from it by
//!   name (`Model::column_name`), as `export score` does, so the device and
//!   the host read the same values; cells are parsed as f64 and rounded once
//!   to f32, also as `export score` does. The 0/1 column `DDAEBM_LABEL`
//!   (default `is_anomaly`) marks the labelled events; it is not streamed.
//!
//! Writes `$OUT_DIR/model.safetensors`, `$OUT_DIR/series.bin` (the streamed
//! values, f32 little-endian, row-major) and `$OUT_DIR/stream.rs` (sizes and
//! the labelled events as constants), and puts `../common/memory.x` where the
//! linker finds it. Errors name the file and what to do.

use std::{env, fs, path::PathBuf};

const DEFAULT_MODEL: &str = "model/ucr135-int8.safetensors";
const DEFAULT_SERIES: &str = "data/ucr135.csv";
const DEFAULT_LABEL: &str = "is_anomaly";
/// The first streamed row of the series: rows [0, 1000) trained the model,
/// [1000, 1200) calibrated it (`scripts/stream-model.sh`).
const FIRST_ROW: usize = 1200;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let path = |var: &str, default: &str| {
        println!("cargo:rerun-if-env-changed={var}");
        let p = match env::var_os(var) {
            Some(p) if !p.is_empty() => manifest.join(p), // join keeps absolute paths as they are
            _ => manifest.join(default),
        };
        println!("cargo:rerun-if-changed={}", p.display());
        p
    };

    // --- the model -------------------------------------------------------------
    let model_path = path("DDAEBM_MODEL", DEFAULT_MODEL);
    let bytes = fs::read(&model_path).unwrap_or_else(|e| {
        panic!(
            "cannot read the model file {} ({e}); set DDAEBM_MODEL to a file written by `export`",
            model_path.display()
        )
    });
    let model = ddaebm_runtime::Model::from_bytes(&bytes)
        .unwrap_or_else(|e| panic!("{} is not a usable model file: {e}", model_path.display()));
    let (window, stride, channels) = model.window().unwrap_or_else(|| {
        panic!(
            "{} does not declare its window; the stream example needs a model trained with `trainer fit --window`",
            model_path.display()
        )
    });
    if model.threshold().is_none() {
        panic!(
            "{} has no calibrated threshold; export it with `export --calibrate NORMAL.csv`",
            model_path.display()
        );
    }
    let columns: Vec<String> = (0..channels)
        .map(|c| model.column_name(c).unwrap_or_else(|| panic!("column {c} of the model has no name")).to_string())
        .collect();

    // --- the series ------------------------------------------------------------
    println!("cargo:rerun-if-env-changed=DDAEBM_LABEL");
    let label = env::var("DDAEBM_LABEL").unwrap_or_else(|_| DEFAULT_LABEL.to_string());
    let series_path = path("DDAEBM_SERIES", DEFAULT_SERIES);
    let text = fs::read_to_string(&series_path)
        .unwrap_or_else(|e| panic!("cannot read the series {} ({e}); set DDAEBM_SERIES", series_path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').map(str::trim).collect();
    let find = |name: &str| {
        header.iter().position(|h| *h == name).unwrap_or_else(|| {
            panic!(
                "{} has no column `{name}` (its header: {}); the model reads {columns:?}",
                series_path.display(),
                header.join(",")
            )
        })
    };
    let picked: Vec<usize> = columns.iter().map(|c| find(c)).collect();
    let label_at = find(&label);
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for (r, line) in lines.enumerate().skip(FIRST_ROW) {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let cell = |k: usize| -> f64 {
            cells.get(k).and_then(|c| c.parse::<f64>().ok()).unwrap_or_else(|| {
                panic!("{} data row {r}: column {} is not a number: {line:?}", series_path.display(), k + 1)
            })
        };
        for &k in &picked {
            values.extend_from_slice(&(cell(k) as f32).to_le_bytes());
        }
        labels.push(cell(label_at) != 0.0);
    }
    let rows = labels.len();
    if rows < window {
        panic!("{}: {rows} rows from row {FIRST_ROW} on, fewer than one window ({window})", series_path.display());
    }
    // Labelled events: maximal runs of labelled rows, [start, end) in stream rows.
    let mut events = Vec::new();
    let mut r = 0;
    while r < rows {
        if labels[r] {
            let start = r;
            while r < rows && labels[r] {
                r += 1;
            }
            events.push((start, r));
        } else {
            r += 1;
        }
    }

    fs::write(out.join("model.safetensors"), &bytes).expect("write OUT_DIR/model.safetensors");
    fs::write(out.join("series.bin"), &values).expect("write OUT_DIR/series.bin");
    let events_rs: Vec<String> = events.iter().map(|(a, b)| format!("({a}, {b})")).collect();
    let file_name = |p: &PathBuf| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    fs::write(
        out.join("stream.rs"),
        format!(
            "// Written by build.rs from {model} and {series}.\n\
             /// Scratch f32 values the model needs.\nconst SCRATCH_LEN: usize = {scratch};\n\
             /// Values in one window (window · channels): the window scorer's capacity.\nconst WINDOW_VALUES: usize = {values_n};\n\
             /// Values per sample (the model's columns).\nconst CHANNELS: usize = {channels};\n\
             /// Samples streamed.\nconst ROWS: usize = {rows};\n\
             /// Series row of the first streamed sample.\nconst FIRST_ROW: usize = {FIRST_ROW};\n\
             /// Labelled events, [start, end) in streamed samples.\nconst EVENTS: [(usize, usize); {n_events}] = [{events}];\n\
             /// File names, for the log.\nconst MODEL_NAME: &str = {model:?};\nconst SERIES_NAME: &str = {series:?};\n",
            model = file_name(&model_path),
            series = file_name(&series_path),
            scratch = model.scratch_len(),
            values_n = window * channels,
            n_events = events.len(),
            events = events_rs.join(", "),
        ),
    )
    .expect("write OUT_DIR/stream.rs");
    let _ = stride; // the firmware reads the stride from the model at run time

    // The board's memory map: DDAEBM_MEMORY (a file in ../common), by default
    // memory.x (QEMU's MPS2 boards AN385 / AN386 / AN500).
    println!("cargo:rerun-if-env-changed=DDAEBM_MEMORY");
    let memory = env::var("DDAEBM_MEMORY").unwrap_or_else(|_| "memory.x".to_string());
    let memory = manifest.join("../common").join(memory);
    fs::copy(&memory, out.join("memory.x")).unwrap_or_else(|e| panic!("copy {} ({e})", memory.display()));
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={}", memory.display());
    println!("cargo:rerun-if-changed=build.rs");
}
