//! The input contract: which columns a model reads, in which order, and how
//! rows of a series flatten into one reading (docs/model-format.md, "Input
//! contract"). The trainer stores it in the checkpoint, `export` copies it
//! into the model file's metadata, and everything that feeds a model from a
//! data file (`export score`, `export --calibrate` / `--probe`) matches the
//! file's columns to it by name.
//!
//! Names are stored in the metadata as one comma-separated string. The
//! runtime's JSON reader takes no backslash escapes, so a name's bytes `%`,
//! `,`, `"`, `\` and control characters (0x00–0x1F, 0x7F) are
//! percent-encoded (`%25`, `%2C`, `%22`, `%5C`, `%0A`, …, upper-case hex);
//! every other byte, UTF-8 included, is stored as it is.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::table::Table;

/// A model file's input contract that contradicts itself, or a data file
/// that does not match it; the message names the column or key and what
/// to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ContractError(pub String);

/// This module's results.
pub type Result<T, E = ContractError> = std::result::Result<T, E>;

/// Returns early with a [`ContractError`].
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(ContractError(format!($($arg)*)))
    };
}

/// What a model reads and how (stored in checkpoints and model files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputContract {
    /// The columns of one row, in the order the model reads them: the
    /// training file's header names, or `col0`, `col1`, … for a file without
    /// a header (and `x`, `y` for the built-in 2-D sets).
    pub columns: Vec<String>,
    /// Rows per reading: a reading is `window` consecutive rows, oldest
    /// first, flattened row by row (value `k · C + c` is column `c` of row
    /// `k`, C = `columns.len()`); 1 for a model of single rows.
    pub window: usize,
    /// Rows from one training window to the next (1: every window).
    pub window_stride: usize,
    /// Columns of the training file that the model does not read
    /// (`trainer fit --columns`, `--drop-columns`, `--drop-constant`).
    #[serde(default)]
    pub dropped_columns: Vec<String>,
    /// The training file's label column (`trainer fit --label-column`): in
    /// the file, not an input.
    #[serde(default)]
    pub label_column: Option<String>,
}

/// Whether byte `b` of a name is percent-encoded in the metadata.
fn escaped(b: u8) -> bool {
    matches!(b, b'%' | b',' | b'"' | b'\\' | 0..=0x1f | 0x7f)
}

/// One name, percent-encoded as the metadata stores it.
pub fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars() {
        match u8::try_from(ch) {
            Ok(b) if escaped(b) => out += &format!("%{b:02X}"),
            _ => out.push(ch),
        }
    }
    out
}

/// Names as the metadata stores them: encoded, joined by commas.
pub fn encode_names(names: &[String]) -> String {
    names.iter().map(|n| encode_name(n)).collect::<Vec<_>>().join(",")
}

/// Undoes [`encode_name`]; an error for a `%` not followed by two hex
/// digits or a result that is not UTF-8.
pub fn decode_name(stored: &str) -> Result<String> {
    let bytes = stored.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = stored.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(b) = hex else { bail!("`{stored}`: `%` must be followed by two hex digits") };
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ContractError(format!("`{stored}` does not decode to UTF-8")))
}

/// Undoes [`encode_names`] (the empty string is one empty name).
pub fn decode_names(stored: &str) -> Result<Vec<String>> {
    stored.split(',').map(decode_name).collect()
}

impl InputContract {
    /// Single rows of `columns` (no window).
    pub fn rows(columns: Vec<String>) -> InputContract {
        InputContract { columns, window: 1, window_stride: 1, dropped_columns: Vec::new(), label_column: None }
    }

    /// Values per reading, `window × columns`.
    pub fn values(&self) -> usize {
        self.window * self.columns.len()
    }

    /// The model-file metadata that states this contract.
    pub fn to_metadata(&self) -> Vec<(String, String)> {
        let mut m = vec![
            ("columns".to_string(), encode_names(&self.columns)),
            ("channels".to_string(), self.columns.len().to_string()),
            ("window".to_string(), self.window.to_string()),
            ("window_stride".to_string(), self.window_stride.to_string()),
        ];
        if !self.dropped_columns.is_empty() {
            m.push(("dropped_columns".to_string(), encode_names(&self.dropped_columns)));
        }
        if let Some(label) = &self.label_column {
            m.push(("label_column".to_string(), encode_name(label)));
        }
        m
    }

    /// The contract a model file states, `None` when it has none (files
    /// written before it existed); an error when it contradicts itself or
    /// the model's data dimension `data_dim`.
    pub fn from_metadata(meta: &HashMap<String, String>, data_dim: usize) -> Result<Option<InputContract>> {
        let Some(columns) = meta.get("columns") else { return Ok(None) };
        let columns = decode_names(columns)?;
        let number = |key: &str| -> Result<usize> {
            let v = meta.get(key).ok_or_else(|| ContractError(format!("`columns` without `{key}`")))?;
            v.parse::<usize>().ok().filter(|&n| n >= 1).ok_or_else(|| ContractError(format!("`{key}` is `{v}`")))
        };
        let (channels, window, window_stride) = (number("channels")?, number("window")?, number("window_stride")?);
        if channels != columns.len() {
            bail!("`channels` is {channels} but `columns` names {}", columns.len());
        }
        if window * channels != data_dim {
            bail!("{window} rows × {channels} columns is not the model's {data_dim} values per reading");
        }
        let dropped_columns = match meta.get("dropped_columns") {
            Some(d) => decode_names(d)?,
            None => Vec::new(),
        };
        let label_column = meta.get("label_column").map(|l| decode_name(l)).transpose()?;
        Ok(Some(InputContract { columns, window, window_stride, dropped_columns, label_column }))
    }

    /// One line: `8 rows × 3 columns (a, b, c)`, for messages.
    pub fn describe(&self) -> String {
        let rows = if self.window == 1 { String::new() } else { format!("windows of {} rows of ", self.window) };
        format!("{rows}{} columns ({})", self.columns.len(), list(&self.columns))
    }
}

/// `a, b, c`, with at most 12 names shown.
pub fn list(names: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut s = names.iter().take(SHOWN).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        s += &format!(" and {} more", names.len() - SHOWN);
    }
    s
}

/// Whether a table's column names are the generated `col0`, `col1`, … of a
/// file without a header.
pub fn generated_names(columns: &[String]) -> bool {
    columns.iter().enumerate().all(|(k, n)| *n == format!("col{k}"))
}

/// Whether every name is a generated `col<N>` (a model trained on a file
/// without a header, some of its columns perhaps dropped).
fn generated_style(columns: &[String]) -> bool {
    columns
        .iter()
        .all(|n| n.strip_prefix("col").is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())))
}

/// What [`arrange`] did, for a note to the user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Arranged {
    /// The file's columns were in another order.
    pub reordered: bool,
    /// Columns of the file left out: dropped at training, or the label.
    pub ignored: Vec<String>,
}

/// Makes `table`'s columns the contract's, in its order, matching by name
/// when the file has a header: the file's other columns must be ones the
/// model dropped at training or its label column (they are left out), and
/// every column the model reads must be there. A file without a header
/// must have exactly the model's columns, in order (or, when the model was
/// trained on a file without a header too, the same layout as that file).
/// `hint` is appended to the error about unknown columns.
pub fn arrange(table: &Table, contract: &InputContract, file: &Path, hint: &str) -> Result<(Table, Arranged)> {
    let want = &contract.columns;
    let headerless = generated_names(&table.columns);
    if table.columns == *want {
        return Ok((table.clone(), Arranged::default()));
    }
    if headerless && !generated_style(want) {
        if table.dim == want.len() {
            // Positional: the user's responsibility (no names to check).
            return Ok((table.clone(), Arranged::default()));
        }
        bail!(
            "{}: has no header and {} columns, but the model reads {}; give the file a header row with the column \
             names, or exactly {} columns in that order",
            file.display(),
            table.dim,
            contract.describe(),
            want.len()
        );
    }
    if !headerless && generated_style(want) {
        // Trained on a file without a header: there are no names to match.
        if table.dim == want.len() {
            return Ok((Table { columns: want.clone(), ..table.clone() }, Arranged::default()));
        }
        bail!(
            "{}: has {} columns, but the model reads {} (it was trained on a file without a header, so columns \
             cannot be matched by name); give exactly those columns in the training file's order",
            file.display(),
            table.dim,
            want.len()
        );
    }
    let position = |name: &str| -> Result<Option<usize>> {
        let mut hits = table.columns.iter().enumerate().filter(|(_, n)| *n == name).map(|(k, _)| k);
        match (hits.next(), hits.next()) {
            (Some(a), Some(b)) => bail!(
                "{}: column `{name}` appears twice (columns {} and {}); rename one so that the model's input is \
                 unambiguous",
                file.display(),
                a + 1,
                b + 1
            ),
            (k, _) => Ok(k),
        }
    };
    let mut index = Vec::with_capacity(want.len());
    let mut missing = Vec::new();
    for name in want {
        match position(name)? {
            Some(k) => index.push(k),
            None => missing.push(name.clone()),
        }
    }
    let known = |n: &String| contract.dropped_columns.contains(n) || contract.label_column.as_ref() == Some(n);
    let extra: Vec<String> = table.columns.iter().filter(|n| !want.contains(n)).cloned().collect();
    let unknown: Vec<String> = extra.iter().filter(|n| !known(n)).cloned().collect();
    if !missing.is_empty() {
        let also = if unknown.is_empty() {
            String::new()
        } else {
            format!("; it has {} the model does not know (renamed?)", list(&unknown))
        };
        bail!(
            "{}: missing {} {} that the model reads (it reads {}){also}",
            file.display(),
            if missing.len() == 1 { "column" } else { "columns" },
            list(&missing),
            contract.describe()
        );
    }
    if !unknown.is_empty() {
        bail!(
            "{}: {} {} not among the model's inputs ({}){}; remove {}{hint}",
            file.display(),
            list(&unknown),
            if unknown.len() == 1 { "is" } else { "are" },
            contract.describe(),
            if contract.dropped_columns.is_empty() {
                String::new()
            } else {
                format!(" nor among the columns dropped at training ({})", list(&contract.dropped_columns))
            },
            if unknown.len() == 1 { "it" } else { "them" },
        )
    }
    let reordered = index.windows(2).any(|w| w[0] > w[1]);
    let mut data = Vec::with_capacity(table.rows * want.len());
    for r in 0..table.rows {
        let row = table.row(r);
        data.extend(index.iter().map(|&k| row[k]));
    }
    let arranged = Table { columns: want.clone(), rows: table.rows, dim: want.len(), data };
    Ok((arranged, Arranged { reordered, ignored: extra }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(columns: &[&str], rows: usize) -> Table {
        let dim = columns.len();
        Table {
            columns: columns.iter().map(|s| s.to_string()).collect(),
            rows,
            dim,
            data: (0..rows * dim).map(|i| i as f32).collect(),
        }
    }

    fn contract(columns: &[&str]) -> InputContract {
        InputContract::rows(columns.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn names_round_trip_through_the_metadata_encoding() {
        let names: Vec<String> =
            ["temp", "a,b", "50%", "say \"hi\"", "C:\\x", "tab\there", "", "ünï ✓", "%2C"].map(String::from).into();
        let stored = encode_names(&names);
        assert!(!stored.contains(['"', '\\', '\t']), "{stored}");
        assert_eq!(stored.split(',').count(), names.len());
        assert_eq!(decode_names(&stored).unwrap(), names);
        assert_eq!(encode_name("a,b"), "a%2Cb");
        assert_eq!(encode_name("50%"), "50%25");
        assert_eq!(encode_name("plain name"), "plain name");
        assert!(decode_name("bad%2").is_err() && decode_name("bad%zz").is_err() && decode_name("%FF").is_err());
    }

    #[test]
    fn metadata_round_trip_and_checks() {
        let c = InputContract {
            columns: vec!["a".into(), "b,c".into()],
            window: 4,
            window_stride: 1,
            dropped_columns: vec!["id".into()],
            label_column: Some("label".into()),
        };
        let meta: HashMap<String, String> = c.to_metadata().into_iter().collect();
        assert_eq!(meta["columns"], "a,b%2Cc");
        assert_eq!(InputContract::from_metadata(&meta, 8).unwrap(), Some(c.clone()));
        let e = InputContract::from_metadata(&meta, 6).unwrap_err().to_string();
        assert!(e.contains("not the model's 6 values"), "{e}");
        assert_eq!(InputContract::from_metadata(&HashMap::new(), 8).unwrap(), None);
    }

    /// Columns in another order are matched by name; dropped and label
    /// columns are left out; missing and unknown ones are named.
    #[test]
    fn arrange_by_name() {
        let p = Path::new("data.csv");
        let mut c = contract(&["a", "b", "c"]);
        c.dropped_columns = vec!["id".into()];
        c.label_column = Some("label".into());
        let t = table(&["c", "id", "a", "b", "label"], 2);
        let (out, how) = arrange(&t, &c, p, "").unwrap();
        assert_eq!(out.columns, ["a", "b", "c"]);
        assert_eq!(out.row(0), [2.0, 3.0, 0.0]);
        assert_eq!(out.row(1), [7.0, 8.0, 5.0]);
        assert!(how.reordered);
        assert_eq!(how.ignored, ["id", "label"]);

        let e = arrange(&table(&["c", "a", "x"], 1), &c, p, "").unwrap_err().to_string();
        assert!(e.contains("data.csv: missing column `b` that the model reads"), "{e}");
        assert!(e.contains("it has `x` the model does not know"), "{e}");
        let e = arrange(&table(&["c", "a", "b", "x", "y"], 1), &c, p, "; or else").unwrap_err().to_string();
        assert!(e.contains("`x`, `y` are not among the model's inputs") && e.contains("`id`"), "{e}");
        assert!(e.ends_with("remove them; or else"), "{e}");
        let e = arrange(&table(&["a", "b", "c", "a"], 1), &c, p, "").unwrap_err().to_string();
        assert!(e.contains("column `a` appears twice (columns 1 and 4)"), "{e}");
    }

    #[test]
    fn files_without_a_header() {
        let p = Path::new("data.npy");
        let c = contract(&["a", "b"]);
        let (out, how) = arrange(&table(&["col0", "col1"], 2), &c, p, "").unwrap();
        assert_eq!((out.columns.clone(), how), (vec!["col0".to_string(), "col1".to_string()], Arranged::default()));
        let e = arrange(&table(&["col0", "col1", "col2"], 2), &c, p, "").unwrap_err().to_string();
        assert!(e.contains("has no header and 3 columns, but the model reads 2 columns (`a`, `b`)"), "{e}");
        // A model trained on a file without a header, with col1 dropped: the
        // same layout matches by the generated names.
        let mut c = contract(&["col0", "col2"]);
        c.dropped_columns = vec!["col1".into()];
        let (out, _) = arrange(&table(&["col0", "col1", "col2"], 1), &c, p, "").unwrap();
        assert_eq!(out.row(0), [0.0, 2.0]);
    }
}
