//! Scoring a data file with a model file through the device runtime
//! (`export score`, `export --calibrate`, `export --probe`): raw rows in,
//! anomaly scores (and, for calibrated files, tail probabilities and
//! verdicts) out, with detection metrics when labels are given.

use std::path::Path;

use anyhow::{bail, Context, Result};
use ddaebm_runtime::Model;
use serde::Serialize;

use crate::detection::{auroc, average_precision};
use crate::table::{self, Table};

/// Rows to score, in raw units, with optional labels (true = anomaly).
#[derive(Debug, Clone)]
pub struct Rows {
    /// The rows (after windowing), `rows × D`.
    pub table: Table,
    /// One label per row, when the file had the label column.
    pub labels: Option<Vec<bool>>,
}

/// Reads `path` (CSV / `.npy`) for a model of data dimension `data_dim`:
/// removes the label column `label_column` when present (values must be 0
/// or 1), cuts a series into windows of `window` rows (a window's label is
/// 1 when any of its rows is), and checks the width. `require_labels`
/// makes a missing label column an error.
pub fn read_rows(
    path: &Path,
    data_dim: usize,
    label_column: Option<&str>,
    require_labels: bool,
    window: Option<usize>,
) -> Result<Rows> {
    read(path, data_dim, label_column, require_labels, window, false)
}

/// Reads held-out normal rows for `export --calibrate` as [`read_rows`]
/// without a label column: a file with a column too many (or a column
/// called `label`) is told to drop that column or to use normal rows only,
/// since calibration takes no labels (`--label-column` is for `--probe`).
pub fn read_calibration_rows(path: &Path, data_dim: usize, window: Option<usize>) -> Result<Rows> {
    read(path, data_dim, None, false, window, true)
}

fn read(
    path: &Path,
    data_dim: usize,
    label_column: Option<&str>,
    require_labels: bool,
    window: Option<usize>,
    calibration: bool,
) -> Result<Rows> {
    let mut t = table::read(path)?;
    let label_like = t.columns.iter().find(|c| c.trim().eq_ignore_ascii_case("label")).cloned();
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
    if let Some(len) = window {
        let windowed = table::windows_of(&t, len, 1, path)?;
        labels = labels.map(|l| (0..windowed.rows).map(|w| l[w..w + len].iter().any(|&a| a)).collect());
        t = windowed;
    }
    if t.dim != data_dim {
        let hint = if window.is_none() && t.dim > 0 && data_dim % t.dim == 0 && data_dim > t.dim {
            format!("; the model may have been trained with --window {}: pass the same --window", data_dim / t.dim)
        } else if calibration && (t.dim == data_dim + 1 || label_like.is_some()) {
            format!(
                "; --calibrate takes normal rows only, without labels: remove the label column{} or pass a file \
                 of normal rows only",
                label_like.map_or(String::new(), |c| format!(" (`{c}`)"))
            )
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
    Ok(Rows { table: t, labels })
}

/// The anomaly score −f(x, 0) of each row, through the runtime.
pub fn anomaly_scores(model: &Model<'_>, rows: &Table) -> Result<Vec<f64>> {
    let mut scratch = vec![0f32; model.scratch_len()];
    (0..rows.rows)
        .map(|r| {
            model
                .anomaly_score(rows.row(r), &mut scratch)
                .map(f64::from)
                .map_err(|e| anyhow::anyhow!("row {}: {e}", r + 1))
        })
        .collect()
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
                let tail = model.tail_probability(s as f32).map_err(|e| anyhow::anyhow!("row {}: {e}", i + 1))?;
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
    crate::checkpoint::write_atomic(path, out.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A series of 6 readings of 2 columns with a label: windows of 3 rows
    /// are the 4 overlapping row-major runs, labelled 1 when any row is.
    #[test]
    fn windows_with_labels() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("series.csv");
        std::fs::write(&p, "a,b,label\n0,10,0\n1,11,0\n2,12,0\n3,13,1\n4,14,0\n5,15,0\n").unwrap();
        let rows = read_rows(&p, 6, Some("label"), true, Some(3)).unwrap();
        assert_eq!((rows.table.rows, rows.table.dim), (4, 6));
        assert_eq!(rows.table.row(1), &[1.0, 11.0, 2.0, 12.0, 3.0, 13.0]);
        assert_eq!(rows.labels, Some(vec![false, true, true, true]));
        // Without --window the width is wrong, and the message suggests it.
        let err = read_rows(&p, 6, Some("label"), true, None).unwrap_err().to_string();
        assert!(err.contains("--window 3"), "{err}");
        // A label that is not 0/1 names the row.
        std::fs::write(&p, "a,label\n0,0\n1,2\n").unwrap();
        let err = read_rows(&p, 1, Some("label"), true, None).unwrap_err().to_string();
        assert!(err.contains("row 2") && err.contains("0 (normal) or 1"), "{err}");
    }

    /// A labelled file passed to --calibrate is told to drop the label
    /// column, not to name it with --label-column (which is for --probe).
    #[test]
    fn calibration_file_with_a_label_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labelled.csv");
        std::fs::write(&p, "x,y,label\n0,1,0\n1,2,1\n").unwrap();
        let err = format!("{:#}", read_calibration_rows(&p, 2, None).unwrap_err());
        assert!(err.contains("3 data columns") && err.contains("remove the label column (`label`)"), "{err}");
        assert!(err.contains("normal rows only") && !err.contains("--label-column"), "{err}");
        // export score still suggests --label-column.
        let err = format!("{:#}", read_rows(&p, 2, None, true, None).unwrap_err());
        assert!(err.contains("--label-column"), "{err}");
        // A normal file of the right width reads.
        std::fs::write(&p, "x,y\n0,1\n1,2\n").unwrap();
        assert_eq!(read_calibration_rows(&p, 2, None).unwrap().table.rows, 2);
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
