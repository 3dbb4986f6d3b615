//! Scoring a data file with a model file through the device runtime
//! (`export score`, `export --calibrate`, `export --probe`): raw rows in,
//! anomaly scores (and, for calibrated files, tail probabilities and
//! verdicts) out, with detection metrics when labels are given.

use std::path::Path;

use anyhow::{bail, Context, Result};
use ddaebm_runtime::{Model, ScoreKind};
use serde::Serialize;

use ddaebm_host::contract::{self, InputContract};
use ddaebm_host::detection::{auroc, average_precision};
use ddaebm_host::table::{self, Table};

/// Rows to score, in raw units, with optional labels (true = anomaly).
#[derive(Debug, Clone)]
pub struct Rows {
    /// The rows (after windowing), `rows × D`.
    pub table: Table,
    /// One label per row, when the file had the label column.
    pub labels: Option<Vec<bool>>,
    /// What was done to fit the file to the model (columns reordered or
    /// left out), one line each, for the user.
    pub notes: Vec<String>,
}

/// What a model reads, for fitting a data file to it: its data dimension,
/// its input contract (column names, window) when the file or checkpoint
/// has one, and the window to cut.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInput {
    /// Values per reading, D.
    pub data_dim: usize,
    /// Column names and window, when known.
    pub contract: Option<InputContract>,
    /// Rows per window (`None`: single rows).
    pub window: Option<usize>,
    /// Rows from one window to the next.
    pub stride: usize,
}

impl ModelInput {
    /// The input of a model of dimension `data_dim` with `contract` (if
    /// known), given the `--window` flag: with a contract the window comes
    /// from it, and a `--window` that disagrees is an error (the message to
    /// print); without one, `--window` says it (as before contracts).
    pub fn new(data_dim: usize, contract: Option<InputContract>, window: Option<usize>) -> Result<ModelInput, String> {
        let Some(c) = contract else {
            return Ok(ModelInput { data_dim, contract: None, window, stride: 1 });
        };
        match window {
            Some(w) if w != c.window && c.window == 1 => {
                return Err(format!(
                    "--window {w}: the model reads single rows of {} columns, not windows; leave --window out \
                     (the model file says how it reads its input)",
                    c.columns.len()
                ))
            }
            Some(w) if w != c.window => {
                return Err(format!(
                "--window {w} disagrees with the model, which reads windows of {} rows (`trainer fit --window {}`); \
                     leave --window out: the window comes from the model",
                c.window, c.window
            ))
            }
            _ => {}
        }
        let window = (c.window > 1).then_some(c.window);
        Ok(ModelInput { data_dim, window, stride: c.window_stride, contract: Some(c) })
    }

    /// The input of a model file: its contract (from the metadata) and `--window`.
    pub fn of_model_file(bytes: &[u8], model: &Model<'_>, window: Option<usize>) -> Result<ModelInput> {
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes).context("not a safetensors file")?;
        let meta = header.metadata().clone().unwrap_or_default();
        let contract = InputContract::from_metadata(&meta, model.data_dim())
            .context("the model file's input contract (columns, window) is malformed; re-export it")?;
        ModelInput::new(model.data_dim(), contract, window).map_err(|e| anyhow::Error::new(crate::cli::UsageError(e)))
    }
}

/// Reads `path` (CSV / `.npy`) for a model that reads `input`: removes the
/// label column `label_column` when present (values must be 0 or 1),
/// matches the columns to the model's by name (when both have names),
/// cuts a series into windows (a window's label is 1 when any of its rows
/// is), and checks the width. `require_labels` makes a missing label column
/// an error.
pub fn read_rows(path: &Path, input: &ModelInput, label_column: Option<&str>, require_labels: bool) -> Result<Rows> {
    read(path, input, label_column, require_labels, false)
}

/// Reads held-out normal rows for `export --calibrate` as [`read_rows`]
/// without a label column: a file with a column too many (or a column
/// called `label`, or the model's label column) is told to drop that column
/// or to use normal rows only, since calibration takes no labels
/// (`--label-column` is for `--probe`).
pub fn read_calibration_rows(path: &Path, input: &ModelInput) -> Result<Rows> {
    read(path, input, None, false, true)
}

fn read(
    path: &Path,
    input: &ModelInput,
    label_column: Option<&str>,
    require_labels: bool,
    calibration: bool,
) -> Result<Rows> {
    let data_dim = input.data_dim;
    let window = input.window;
    let mut t = table::read(path)?;
    let model_label = input.contract.as_ref().and_then(|c| c.label_column.clone());
    let label_like = t
        .columns
        .iter()
        .find(|c| c.trim().eq_ignore_ascii_case("label") || model_label.as_ref() == Some(*c))
        .filter(|c| input.contract.as_ref().is_none_or(|k| !k.columns.contains(c)))
        .cloned();
    let calibration_fix = |label: Option<&str>| {
        format!(
            "--calibrate takes normal rows only, without labels: remove the label column{} or pass a file of normal \
             rows only",
            label.map_or(String::new(), |c| format!(" (`{c}`)"))
        )
    };
    let mut labels = None;
    if let Some(name) = label_column {
        match t.remove_column(name) {
            Some(values) => {
                let mut l = Vec::with_capacity(values.len());
                for (i, v) in values.iter().enumerate() {
                    match *v {
                        0.0 => l.push(false),
                        1.0 => l.push(true),
                        other => bail!(
                            "{}: row {} has label `{name}` = {other}; labels must be 0 (normal) or 1 (anomaly)",
                            path.display(),
                            i + 1
                        ),
                    }
                }
                labels = Some(l);
            }
            None if require_labels => bail!(
                "{}: no column called `{name}`; name the 0/1 label column with --label-column (columns: {})",
                path.display(),
                t.columns.join(", ")
            ),
            None => {}
        }
        if t.dim == 0 {
            bail!("{}: only the label column `{name}` is there; the file needs the data columns too", path.display());
        }
    }
    let mut notes = Vec::new();
    if let Some(contract) = &input.contract {
        if calibration {
            if let Some(label) = &label_like {
                bail!(
                    "{}: {} data columns, one of them a label column; {}",
                    path.display(),
                    t.dim,
                    calibration_fix(Some(label))
                );
            }
        }
        let hint = match &label_like {
            Some(label) if label_column.is_none() && !calibration => {
                format!("; if `{label}` is a 0/1 label, name it with --label-column {label}")
            }
            _ => String::new(),
        };
        let (arranged, how) = contract::arrange(&t, contract, path, &hint)?;
        if how.reordered {
            notes.push(format!("{}: columns matched by name and put in the model's order", path.display()));
        }
        if !how.ignored.is_empty() {
            notes.push(format!(
                "{}: left out {} (not inputs of the model: dropped at training{})",
                path.display(),
                contract::list(&how.ignored),
                if contract.label_column.is_some() { ", or its label column" } else { "" }
            ));
        }
        t = arranged;
    }
    if let Some(len) = window {
        let stride = input.stride.max(1);
        let windowed = table::windows_of(&t, len, stride, path)?;
        labels =
            labels.map(|l| (0..windowed.rows).map(|w| l[w * stride..w * stride + len].iter().any(|&a| a)).collect());
        t = windowed;
    }
    if t.dim != data_dim {
        let hint =
            if input.contract.is_none() && window.is_none() && t.dim > 0 && data_dim % t.dim == 0 && data_dim > t.dim {
                format!("; the model may have been trained with --window {}: pass the same --window", data_dim / t.dim)
            } else if calibration && (t.dim == data_dim + 1 || label_like.is_some()) {
                format!("; {}", calibration_fix(label_like.as_deref()))
            } else if t.dim == data_dim + 1 && label_column.is_none() {
                "; if one column is a 0/1 label, name it with --label-column".to_string()
            } else {
                String::new()
            };
        bail!(
            "{}: {} data columns{}, but the model reads {data_dim} values per reading{hint}",
            path.display(),
            t.dim,
            if window.is_some() { " per window" } else { "" }
        );
    }
    Ok(Rows { table: t, labels, notes })
}

/// Rows per block of [`anomaly_scores`]: one `energy_batch` call (its
/// scratch, 2 · 1024 · width f32, is 2.5 MB at width 300) and one unit of
/// work for a thread.
const SCORE_BLOCK: usize = 1024;

/// The anomaly score of each row, through the runtime, as
/// [`Model::anomaly_score`] gives it: blocks of [`SCORE_BLOCK`] rows run on
/// all cores (rayon; `RAYON_NUM_THREADS` sets how many). For an
/// energy-scored file each block is one [`Model::energy_batch`] call
/// (bit-identical to `−energy(x, 0)` per row, which is what `anomaly_score`
/// computes); a reconstruction-scored file is scored row by row. The scores
/// do not depend on the number of threads. An error names the first failing
/// row.
pub fn anomaly_scores(model: &Model<'_>, rows: &Table) -> Result<Vec<f64>> {
    use rayon::prelude::*;
    let starts: Vec<usize> = (0..rows.rows).step_by(SCORE_BLOCK).collect();
    let blocks: Vec<Result<Vec<f64>>> =
        starts.par_iter().map(|&start| score_block(model, rows, start, rows.rows.min(start + SCORE_BLOCK))).collect();
    let mut scores = Vec::with_capacity(rows.rows);
    for block in blocks {
        scores.extend(block?);
    }
    Ok(scores)
}

/// The scores of rows `start..end` (see [`anomaly_scores`]).
fn score_block(model: &Model<'_>, rows: &Table, start: usize, end: usize) -> Result<Vec<f64>> {
    let one_by_one = || -> Result<Vec<f64>> {
        let mut scratch = vec![0f32; model.scratch_len()];
        (start..end)
            .map(|r| {
                model.anomaly_score(rows.row(r), &mut scratch).map(f64::from).with_context(|| format!("row {}", r + 1))
            })
            .collect()
    };
    if model.score_kind() != ScoreKind::Energy {
        return one_by_one();
    }
    let xs = rows.data.get(start * rows.dim..end * rows.dim).context("rows out of range")?;
    let mut f = vec![0f32; end - start];
    let mut scratch = vec![0f32; model.batch_scratch_len(end - start)];
    match model.energy_batch(xs, 0, &mut f, &mut scratch) {
        Ok(()) => Ok(f.iter().map(|&v| f64::from(-v)).collect()),
        // A non-finite energy (or any other error): the row-by-row path
        // finds the row and reports it.
        Err(_) => one_by_one(),
    }
}

/// Detection metrics of one scored file (the `--json` summary of `export score`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Rows (windows) scored.
    pub rows: usize,
    /// AUROC of the score against the labels.
    pub auroc: Option<f64>,
    /// Average precision of the score against the labels.
    pub average_precision: Option<f64>,
    /// The calibrated threshold, if the file has one.
    pub threshold: Option<f64>,
    /// Fraction of labelled anomalies scoring above the threshold.
    pub detection_rate: Option<f64>,
    /// Fraction of labelled normal rows scoring above the threshold.
    pub false_alarm_rate: Option<f64>,
    /// Fraction of all rows scoring above the threshold.
    pub flagged_rate: Option<f64>,
}

/// Summarises scores (higher = more anomalous) against optional labels and
/// an optional threshold (anomaly when score > threshold).
pub fn summarise(scores: &[f64], labels: Option<&[bool]>, threshold: Option<f64>) -> Summary {
    let rate = |pick: &dyn Fn(usize) -> bool| -> Option<f64> {
        let th = threshold?;
        let idx: Vec<usize> = (0..scores.len()).filter(|&i| pick(i)).collect();
        (!idx.is_empty()).then(|| idx.iter().filter(|&&i| scores[i] > th).count() as f64 / idx.len() as f64)
    };
    let finite = |v: f64| v.is_finite().then_some(v);
    Summary {
        rows: scores.len(),
        auroc: labels.and_then(|l| finite(auroc(scores, l))),
        average_precision: labels.and_then(|l| finite(average_precision(scores, l))),
        threshold,
        detection_rate: labels.and_then(|l| rate(&|i| l[i])),
        false_alarm_rate: labels.and_then(|l| rate(&|i| !l[i])),
        flagged_rate: rate(&|_| true),
    }
}

/// The per-row scores as CSV text, one line per row:
/// `score,tail_probability,anomaly[,label]` (the middle two columns empty
/// when the model is not calibrated).
pub fn scores_csv(model: &Model<'_>, scores: &[f64], labels: Option<&[bool]>) -> Result<String> {
    let mut out = String::from("score,tail_probability,anomaly");
    if labels.is_some() {
        out += ",label";
    }
    out.push('\n');
    for (i, &s) in scores.iter().enumerate() {
        out += &format!("{s}");
        match model.threshold() {
            Some(th) => {
                let tail = model.tail_probability(s as f32).with_context(|| format!("row {}", i + 1))?;
                out += &format!(",{tail},{}", u8::from(s as f32 > th));
            }
            None => out += ",,",
        }
        if let Some(l) = labels {
            out += &format!(",{}", u8::from(l[i]));
        }
        out.push('\n');
    }
    Ok(out)
}

/// Writes [`scores_csv`] to `path` (atomically).
pub fn write_scores(path: &Path, model: &Model<'_>, scores: &[f64], labels: Option<&[bool]>) -> Result<()> {
    let out = scores_csv(model, scores, labels)?;
    ddaebm_host::checkpoint::write_atomic(path, out.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batched, parallel scores equal `anomaly_score` row by row, bit for
    /// bit, with 1 and 3 threads, over several blocks and a partial one; a
    /// non-finite row is reported by its number.
    #[test]
    fn parallel_batched_scores_equal_row_by_row() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware-examples");
        for file in
            ["cortex-m4f-anomaly/model/default-f16.safetensors", "cortex-m4f-stream/model/ucr135-int8.safetensors"]
        {
            let bytes = std::fs::read(root.join(file)).unwrap();
            let model = Model::from_bytes(&bytes).unwrap();
            let d = model.data_dim();
            let rows = 2 * SCORE_BLOCK + 77;
            let mut state = 0x9e37_79b9_u32;
            let data: Vec<f32> = (0..rows * d)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    (state % 2001) as f32 / 500.0 - 2.0
                })
                .collect();
            let mut table = Table { columns: (0..d).map(|i| format!("c{i}")).collect(), rows, dim: d, data };
            let mut scratch = vec![0f32; model.scratch_len()];
            let want: Vec<u64> = (0..rows)
                .map(|r| f64::from(model.anomaly_score(table.row(r), &mut scratch).unwrap()).to_bits())
                .collect();
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let got = pool.install(|| anomaly_scores(&model, &table)).unwrap();
                assert_eq!(got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want, "{file}, {threads} threads");
            }
            table.data[(SCORE_BLOCK + 5) * d] = f32::NAN;
            let err = format!("{:#}", anomaly_scores(&model, &table).unwrap_err());
            assert!(err.contains(&format!("row {}", SCORE_BLOCK + 6)), "{err}");
        }
    }

    /// A model without an input contract (files written before it existed).
    fn plain(data_dim: usize, window: Option<usize>) -> ModelInput {
        ModelInput::new(data_dim, None, window).unwrap()
    }

    fn with_contract(columns: &[&str], window: usize, flag: Option<usize>) -> Result<ModelInput, String> {
        let mut c = InputContract::rows(columns.iter().map(|s| s.to_string()).collect());
        c.window = window;
        c.dropped_columns = vec!["id".into()];
        c.label_column = Some("label".into());
        ModelInput::new(window * columns.len(), Some(c), flag)
    }

    /// `export score` on a file whose columns come in another order (and
    /// with a column dropped at training) scores the model's columns: the
    /// same numbers as the file in training order.
    #[test]
    fn columns_are_matched_by_name_and_reordered() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        std::fs::write(&a, "id,temp,flow,label\n1,20.5,3,0\n2,21.5,4,1\n3,22,5,0\n").unwrap();
        std::fs::write(&b, "flow,label,temp,id\n3,0,20.5,1\n4,1,21.5,2\n5,0,22,3\n").unwrap();
        let input = with_contract(&["temp", "flow"], 1, None).unwrap();
        let ra = read_rows(&a, &input, Some("label"), true).unwrap();
        let rb = read_rows(&b, &input, Some("label"), true).unwrap();
        assert_eq!(ra.table.data, [20.5, 3.0, 21.5, 4.0, 22.0, 5.0]);
        assert_eq!((rb.table.data.clone(), rb.labels.clone()), (ra.table.data.clone(), ra.labels.clone()));
        assert!(ra.notes.iter().all(|n| !n.contains("order")), "{:?}", ra.notes);
        assert!(rb.notes.iter().any(|n| n.contains("matched by name and put in the model's order")), "{:?}", rb.notes);
        assert!(rb.notes.iter().any(|n| n.contains("left out `id`")), "{:?}", rb.notes);
        // Without --label-column the model's label column is left out too.
        let r = read_rows(&b, &input, None, false).unwrap();
        assert_eq!((r.table.data, r.labels), (ra.table.data, None));
        // Windows of 2 rows, taken from the model.
        let input = with_contract(&["temp", "flow"], 2, None).unwrap();
        let r = read_rows(&b, &input, Some("label"), true).unwrap();
        assert_eq!((r.table.rows, r.table.dim), (2, 4));
        assert_eq!(r.table.row(1), [21.5, 4.0, 22.0, 5.0]);
        assert_eq!(r.labels, Some(vec![true, true]));
    }

    #[test]
    fn a_missing_column_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        std::fs::write(&p, "temp,pressure\n1,2\n").unwrap();
        let input = with_contract(&["temp", "flow"], 1, None).unwrap();
        let e = format!("{:#}", read_rows(&p, &input, None, false).unwrap_err());
        assert!(e.contains("m.csv: missing column `flow` that the model reads"), "{e}");
        assert!(
            e.contains("it reads 2 columns (`temp`, `flow`)") && e.contains("`pressure` the model does not know"),
            "{e}"
        );
        // A labelled file for --calibrate: drop the labels.
        std::fs::write(&p, "temp,flow,label\n1,2,0\n").unwrap();
        let e = format!("{:#}", read_calibration_rows(&p, &input).unwrap_err());
        assert!(e.contains("remove the label column (`label`)"), "{e}");
    }

    #[test]
    fn the_window_comes_from_the_model() {
        assert_eq!(with_contract(&["a"], 4, None).unwrap().window, Some(4));
        assert_eq!(with_contract(&["a"], 4, Some(4)).unwrap().window, Some(4));
        assert_eq!(with_contract(&["a"], 1, None).unwrap().window, None);
        let e = with_contract(&["a"], 4, Some(3)).unwrap_err();
        assert!(e.contains("--window 3 disagrees with the model, which reads windows of 4 rows"), "{e}");
        let e = with_contract(&["a", "b"], 1, Some(3)).unwrap_err();
        assert!(e.contains("--window 3: the model reads single rows of 2 columns"), "{e}");
    }

    /// A series of 6 readings of 2 columns with a label: windows of 3 rows
    /// are the 4 overlapping row-major runs, labelled 1 when any row is.
    #[test]
    fn windows_with_labels() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("series.csv");
        std::fs::write(&p, "a,b,label\n0,10,0\n1,11,0\n2,12,0\n3,13,1\n4,14,0\n5,15,0\n").unwrap();
        let rows = read_rows(&p, &plain(6, Some(3)), Some("label"), true).unwrap();
        assert_eq!((rows.table.rows, rows.table.dim), (4, 6));
        assert_eq!(rows.table.row(1), &[1.0, 11.0, 2.0, 12.0, 3.0, 13.0]);
        assert_eq!(rows.labels, Some(vec![false, true, true, true]));
        // Without --window the width is wrong, and the message suggests it.
        let err = read_rows(&p, &plain(6, None), Some("label"), true).unwrap_err().to_string();
        assert!(err.contains("--window 3"), "{err}");
        // A label that is not 0/1 names the row.
        std::fs::write(&p, "a,label\n0,0\n1,2\n").unwrap();
        let err = read_rows(&p, &plain(1, None), Some("label"), true).unwrap_err().to_string();
        assert!(err.contains("row 2") && err.contains("0 (normal) or 1"), "{err}");
    }

    /// A labelled file passed to --calibrate is told to drop the label
    /// column, not to name it with --label-column (which is for --probe).
    #[test]
    fn calibration_file_with_a_label_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labelled.csv");
        std::fs::write(&p, "x,y,label\n0,1,0\n1,2,1\n").unwrap();
        let err = format!("{:#}", read_calibration_rows(&p, &plain(2, None)).unwrap_err());
        assert!(err.contains("3 data columns") && err.contains("remove the label column (`label`)"), "{err}");
        assert!(err.contains("normal rows only") && !err.contains("--label-column"), "{err}");
        // export score still suggests --label-column.
        let err = format!("{:#}", read_rows(&p, &plain(2, None), None, true).unwrap_err());
        assert!(err.contains("--label-column"), "{err}");
        // A normal file of the right width reads.
        std::fs::write(&p, "x,y\n0,1\n1,2\n").unwrap();
        assert_eq!(read_calibration_rows(&p, &plain(2, None)).unwrap().table.rows, 2);
    }

    #[test]
    fn summary_rates() {
        let scores = [0.1, 0.2, 0.9, 0.3, 0.8];
        let labels = [false, false, true, false, true];
        let s = summarise(&scores, Some(&labels), Some(0.25));
        assert_eq!(s.rows, 5);
        assert_eq!(s.auroc, Some(1.0));
        assert_eq!(s.detection_rate, Some(1.0));
        assert!((s.false_alarm_rate.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.flagged_rate.unwrap() - 0.6).abs() < 1e-12);
        let s = summarise(&scores, None, None);
        assert_eq!((s.auroc, s.detection_rate, s.flagged_rate), (None, None, None));
    }
}
