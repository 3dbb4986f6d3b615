//! The user's own tabular data: a `.csv` or `.npy` file of numeric columns,
//! checked with errors that name the file, the line or row, the column and
//! the fix; standardisation, a seeded hold-out split, and windows over a
//! time series.
//!
//! CSV rules: comma-separated; blank lines and lines starting with `#` are
//! skipped; the first remaining line is a header when any of its cells is
//! not a number (names may be wrapped in double quotes); every other line
//! must hold the same number of numeric cells. Errors in a CSV file name the
//! line as an editor counts it (1-based, header and comments included).
//!
//! NPY rules: format version 1.0, 2.0 or 3.0; dtype `<f4`, `<f8`, `<i4` or
//! `<i8`; C order; 1-D (one column) or 2-D (rows × columns). Errors name the
//! data row, 1-based. Columns are called `col0`, `col1`, …
//!
//! Every loaded table is checked by [`validate`]: no NaN or infinite value,
//! at least [`MIN_ROWS`] rows, no constant column. Fewer than
//! [`ROWS_PER_COLUMN`] rows per column is allowed ([`small_data`] says so,
//! for a warning). [`choose_columns`] picks the columns a model trains on.

use std::fmt;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The fewest rows [`validate`] accepts.
pub const MIN_ROWS: usize = 10;

/// Training rows per column below which [`small_data`] is true: fewer
/// rows than 2 × columns train, with a warning (docs/small-data.md
/// measures what it costs).
pub const ROWS_PER_COLUMN: usize = 2;

/// Whether `rows` training rows of `dim` values are "small data": fewer
/// than [`ROWS_PER_COLUMN`] × `dim`.
pub fn small_data(rows: usize, dim: usize) -> bool {
    rows < ROWS_PER_COLUMN * dim
}

/// A numeric table, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column names: the CSV header, or `col0`, `col1`, … when there is none.
    pub columns: Vec<String>,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns (`columns.len()`).
    pub dim: usize,
    /// `rows × dim` values, row-major.
    pub data: Vec<f32>,
}

impl Table {
    /// Row `i` (0-based).
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Removes the column called `name` (the first one, if several) and
    /// returns its values; `None` when there is no such column.
    pub fn remove_column(&mut self, name: &str) -> Option<Vec<f32>> {
        let c = self.columns.iter().position(|n| n == name)?;
        let values = (0..self.rows).map(|r| self.data[r * self.dim + c]).collect();
        let old = self.dim;
        self.data = self.data.chunks_exact(old).flat_map(|row| [&row[..c], &row[c + 1..]].concat()).collect();
        self.columns.remove(c);
        self.dim -= 1;
        Some(values)
    }

    /// The table made of the given rows (0-based indices), in that order.
    pub fn select(&self, indices: &[usize]) -> Table {
        let mut data = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Table { columns: self.columns.clone(), rows: indices.len(), dim: self.dim, data }
    }
}

/// Where a bad value sits: a CSV line or an NPY data row, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Line of a text file, counted as an editor does (header and comments included).
    Line(usize),
    /// Data row (1-based), for binary files and tables built in memory.
    Row(usize),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Line(n) => write!(f, "line {n}"),
            Place::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// Why a data file could not be used. Every message names the file and says
/// how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The path does not exist.
    #[error("{}: no such file; check the path", .file.display())]
    Missing {
        /// The file.
        file: PathBuf,
    },
    /// The file exists but could not be read.
    #[error("{}: cannot read it ({source}); check its permissions", .file.display())]
    Unreadable {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The extension is neither `.csv` nor `.npy`.
    #[error("{}: unknown file type; give a .csv (comma-separated numbers) or a .npy (NumPy array) file", .file.display())]
    UnknownType {
        /// The file.
        file: PathBuf,
    },
    /// The file holds no data rows.
    #[error("{}: holds no data rows; it is empty, or only a header, comments or blank lines", .file.display())]
    Empty {
        /// The file.
        file: PathBuf,
    },
    /// A CSV line has a different number of cells than the first.
    #[error("{}: {at} has {found} columns, expected {expected} (as in {first}); give every row the same number of comma-separated values", .file.display())]
    Ragged {
        /// The file.
        file: PathBuf,
        /// The bad line.
        at: Place,
        /// Cells found on it.
        found: usize,
        /// Cells on the first row.
        expected: usize,
        /// The line that set the expected count.
        first: Place,
    },
    /// A CSV cell that is not a number.
    #[error("{}: {at}, column {col} (`{name}`): {} is not a number; only numeric columns can be used, so drop or encode this column", .file.display(), show_cell(.cell))]
    NotANumber {
        /// The file.
        file: PathBuf,
        /// The line.
        at: Place,
        /// Column, 1-based.
        col: usize,
        /// Column name.
        name: String,
        /// The cell's text.
        cell: String,
    },
    /// A NaN or infinite value (or one too large for f32).
    #[error("{}: {at}, column {col} (`{name}`) is {value}, not a finite number; remove or impute it", .file.display())]
    NotFinite {
        /// The file.
        file: PathBuf,
        /// The line or row.
        at: Place,
        /// Column, 1-based.
        col: usize,
        /// Column name.
        name: String,
        /// The value as written (or as read).
        value: String,
    },
    /// Fewer than [`MIN_ROWS`] rows.
    #[error("{}: has {rows} rows; at least {MIN_ROWS} are needed to train and hold some out; add rows", .file.display())]
    TooFewRows {
        /// The file.
        file: PathBuf,
        /// Rows found.
        rows: usize,
    },
    /// A column holding a single value.
    #[error("{}: column {col} (`{name}`) is constant (= {value}): it carries no information and cannot be standardised; leave it out with `--drop-columns {name}`, or every constant column with `--drop-constant`", .file.display())]
    Constant {
        /// The file.
        file: PathBuf,
        /// Column, 1-based.
        col: usize,
        /// Column name.
        name: String,
        /// Its one value.
        value: f32,
    },
    /// An NPY dtype other than `<f4`, `<f8`, `<i4`, `<i8`.
    #[error("{}: NumPy dtype `{dtype}` is not supported; save it as float32 or float64, little-endian (e.g. `np.save(path, a.astype('<f4'))`)", .file.display())]
    NpyDtype {
        /// The file.
        file: PathBuf,
        /// The `descr` found.
        dtype: String,
    },
    /// An NPY array stored in Fortran (column-major) order.
    #[error("{}: the array is stored in Fortran order; save it in C order (`np.save(path, np.ascontiguousarray(a))`)", .file.display())]
    NpyFortran {
        /// The file.
        file: PathBuf,
    },
    /// An NPY array that is neither 1-D nor 2-D.
    #[error("{}: the array has shape {shape:?}; give a 1-D or 2-D (rows × columns) array, e.g. `a.reshape(len(a), -1)`", .file.display())]
    NpyShape {
        /// The file.
        file: PathBuf,
        /// The shape found.
        shape: Vec<usize>,
    },
    /// A malformed NPY header.
    #[error("{}: not a valid .npy file ({why}); write it with `numpy.save`", .file.display())]
    NpyHeader {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// NPY data shorter (or longer) than its shape says.
    #[error("{}: the data section has {found} bytes but shape {shape:?} needs {expected}; the file is truncated or corrupt, save it again", .file.display())]
    NpySize {
        /// The file.
        file: PathBuf,
        /// The shape in the header.
        shape: Vec<usize>,
        /// Bytes the shape needs.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// A flag names a column the file does not have.
    #[error("{}: {flag} names `{name}`, which is not a column of the file; its columns are {available}", .file.display())]
    UnknownColumn {
        /// The file.
        file: PathBuf,
        /// The flag (`--columns`, `--drop-columns`, `--label-column`).
        flag: &'static str,
        /// The name given.
        name: String,
        /// The file's columns, listed for the message.
        available: String,
    },
    /// Two columns that the model would read have the same name.
    #[error("{}: columns {first} and {second} are both called `{name}`; rename one (model files match columns by name), or leave one out with --columns", .file.display())]
    DuplicateColumn {
        /// The file.
        file: PathBuf,
        /// The name.
        name: String,
        /// Its first column, 1-based.
        first: usize,
        /// Its second column, 1-based.
        second: usize,
    },
    /// The label column is also asked for as an input.
    #[error("{}: `{name}` is the --label-column and cannot also be an input (--columns); leave it out of --columns", .file.display())]
    LabelAsInput {
        /// The file.
        file: PathBuf,
        /// The label column.
        name: String,
    },
    /// Every column was left out.
    #[error("{}: no column is left to train on ({why}); keep at least one", .file.display())]
    NoColumnsLeft {
        /// The file.
        file: PathBuf,
        /// What left them out.
        why: String,
    },
    /// A series that makes too few windows to train on.
    #[error("{}: has {rows} rows, so --window {length} makes {rows} − {length} + 1 = {windows} windows of {values} values; at least {needed} windows are needed {why}; use a shorter --window or a longer series", .file.display())]
    TooFewWindows {
        /// The file the series came from.
        file: PathBuf,
        /// Rows in the file.
        rows: usize,
        /// Window length.
        length: usize,
        /// Windows made.
        windows: usize,
        /// Values per window (window length × columns).
        values: usize,
        /// Windows needed.
        needed: usize,
        /// The rule that needs them.
        why: &'static str,
    },
    /// Window parameters that do not fit the series.
    #[error("{}: cannot cut windows of {length} rows with stride {stride} from a series of {rows} rows; {fix}", .file.display())]
    Windows {
        /// The file the series came from.
        file: PathBuf,
        /// Rows in the series.
        rows: usize,
        /// Window length.
        length: usize,
        /// Window stride.
        stride: usize,
        /// What to change.
        fix: &'static str,
    },
}

fn show_cell(cell: &str) -> String {
    if cell.is_empty() {
        "the cell is empty, which".to_string()
    } else {
        format!("`{cell}`")
    }
}

/// Loads a `.csv` or `.npy` file (by extension, case-insensitive) and
/// checks it with [`validate`], as training data.
pub fn load(path: &Path) -> Result<Table, DataError> {
    let table = read(path)?;
    validate(&table, path)?;
    Ok(table)
}

/// Loads a `.csv` or `.npy` file for scoring: at least one row and every
/// value finite, but none of [`validate`]'s training rules (a constant
/// column or a handful of rows is fine to score).
pub fn read(path: &Path) -> Result<Table, DataError> {
    let file = path.to_path_buf();
    let ext = path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase());
    let kind = match ext.as_deref() {
        Some("csv") => Kind::Csv,
        Some("npy") => Kind::Npy,
        _ => return Err(DataError::UnknownType { file }),
    };
    let bytes = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => DataError::Missing { file: file.clone() },
        _ => DataError::Unreadable { file: file.clone(), source },
    })?;
    let table = match kind {
        Kind::Csv => parse_csv(&bytes, path)?,
        Kind::Npy => parse_npy(&bytes, path)?,
    };
    check_finite(&table, path)?;
    Ok(table)
}

enum Kind {
    Csv,
    Npy,
}

/// Checks that a table has rows and that every value is finite; `file`
/// only names the source in the error.
pub fn check_finite(table: &Table, file: &Path) -> Result<(), DataError> {
    let file = || file.to_path_buf();
    if table.rows == 0 {
        return Err(DataError::Empty { file: file() });
    }
    for (k, v) in table.data.iter().enumerate() {
        if !v.is_finite() {
            let col = k % table.dim;
            return Err(DataError::NotFinite {
                file: file(),
                at: Place::Row(k / table.dim + 1),
                col: col + 1,
                name: table.columns[col].clone(),
                value: v.to_string(),
            });
        }
    }
    Ok(())
}

/// Checks a table for use as training data: every value finite, at least
/// [`MIN_ROWS`] rows, no constant column. `file` only names the source in
/// the error. Rows are reported as [`Place::Row`]. Fewer rows than
/// [`ROWS_PER_COLUMN`] × columns is not an error ([`small_data`]).
pub fn validate(table: &Table, file: &Path) -> Result<(), DataError> {
    check_finite(table, file)?;
    let file = || file.to_path_buf();
    if table.rows < MIN_ROWS {
        return Err(DataError::TooFewRows { file: file(), rows: table.rows });
    }
    if let Some(c) = (0..table.dim).find(|&c| constant(table, c).is_some()) {
        let value = table.data[c];
        return Err(DataError::Constant { file: file(), col: c + 1, name: table.columns[c].clone(), value });
    }
    Ok(())
}

/// The value of column `c` when every row holds the same one.
fn constant(table: &Table, c: usize) -> Option<f32> {
    let first = *table.data.get(c)?;
    (1..table.rows).all(|r| table.data[r * table.dim + c] == first).then_some(first)
}

/// Which columns of a training file a model reads (`trainer fit --columns`,
/// `--drop-columns`, `--drop-constant`, `--label-column`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnChoice {
    /// Only these columns, in this order (`None`: every column).
    pub columns: Option<Vec<String>>,
    /// Leave these out.
    pub drop: Vec<String>,
    /// Leave out every column that holds one value on every row.
    pub drop_constant: bool,
    /// A label column: in the file, never an input.
    pub label: Option<String>,
}

/// The columns [`choose_columns`] left out, by reason (file order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dropped {
    /// Not among `--columns`.
    pub unselected: Vec<String>,
    /// Named by `--drop-columns`.
    pub named: Vec<String>,
    /// Constant on every row (`--drop-constant`), with the value.
    pub constant: Vec<(String, f32)>,
    /// The label column.
    pub label: Option<String>,
}

impl Dropped {
    /// Every input column left out (the label column not included).
    pub fn inputs(&self) -> Vec<String> {
        let mut all: Vec<String> = self.unselected.iter().chain(&self.named).cloned().collect();
        all.extend(self.constant.iter().map(|(n, _)| n.clone()));
        all
    }
}

/// The table of the columns `choice` keeps, in file order (or in the order
/// of `--columns`), and what it left out. Errors name the file, the flag
/// and the unknown name; two kept columns with one name are an error (model
/// files match columns by name).
pub fn choose_columns(table: &Table, choice: &ColumnChoice, file: &Path) -> Result<(Table, Dropped), DataError> {
    let path = || file.to_path_buf();
    let available = || {
        let mut names = table.columns.iter().take(20).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        if table.dim > 20 {
            names += &format!(" and {} more", table.dim - 20);
        }
        if table.columns.iter().enumerate().all(|(k, n)| *n == format!("col{k}")) {
            names += " (the file has no header, so its columns are called col0, col1, ...)";
        }
        names
    };
    let find = |flag: &'static str, name: &str| -> Result<usize, DataError> {
        table.columns.iter().position(|n| n == name).ok_or_else(|| DataError::UnknownColumn {
            file: path(),
            flag,
            name: name.to_string(),
            available: available(),
        })
    };
    let mut dropped = Dropped::default();
    let label = match &choice.label {
        Some(name) => {
            find("--label-column", name)?;
            dropped.label = Some(name.clone());
            Some(name.as_str())
        }
        None => None,
    };
    let not_label = |k: &usize| Some(table.columns[*k].as_str()) != label;
    let mut keep: Vec<usize> = match &choice.columns {
        Some(names) => {
            let mut keep = Vec::with_capacity(names.len());
            for name in names {
                if Some(name.as_str()) == label {
                    return Err(DataError::LabelAsInput { file: path(), name: name.clone() });
                }
                let k = find("--columns", name)?;
                if !keep.contains(&k) {
                    keep.push(k);
                }
            }
            dropped.unselected = (0..table.dim)
                .filter(|k| !keep.contains(k) && not_label(k))
                .map(|k| table.columns[k].clone())
                .collect();
            keep
        }
        None => (0..table.dim).filter(not_label).collect(),
    };
    for name in &choice.drop {
        find("--drop-columns", name)?;
        if let Some(at) = keep.iter().position(|&k| table.columns[k] == *name) {
            keep.remove(at);
            dropped.named.push(name.clone());
        }
    }
    if choice.drop_constant {
        keep.retain(|&k| match constant(table, k) {
            Some(value) => {
                dropped.constant.push((table.columns[k].clone(), value));
                false
            }
            None => true,
        });
    }
    if keep.is_empty() {
        let why = match (&choice.columns, choice.drop.is_empty(), choice.drop_constant) {
            (_, _, true) if !dropped.constant.is_empty() => "every remaining column is constant",
            (_, false, _) => "--drop-columns names every column",
            _ => "the label column is the only one",
        };
        return Err(DataError::NoColumnsLeft { file: path(), why: why.to_string() });
    }
    for (i, &k) in keep.iter().enumerate() {
        if let Some(&j) = keep[..i].iter().find(|&&j| table.columns[j] == table.columns[k]) {
            let (first, second) = (j.min(k) + 1, j.max(k) + 1);
            return Err(DataError::DuplicateColumn { file: path(), name: table.columns[k].clone(), first, second });
        }
    }
    let mut data = Vec::with_capacity(table.rows * keep.len());
    for r in 0..table.rows {
        let row = table.row(r);
        data.extend(keep.iter().map(|&k| row[k]));
    }
    let columns = keep.iter().map(|&k| table.columns[k].clone()).collect();
    Ok((Table { columns, rows: table.rows, dim: keep.len(), data }, dropped))
}

fn parse_csv(bytes: &[u8], path: &Path) -> Result<Table, DataError> {
    let file = || path.to_path_buf();
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut columns: Option<Vec<String>> = None;
    let mut first: Option<(Place, usize)> = None;
    let mut data = Vec::new();
    let mut rows = 0usize;
    for (i, line) in text.lines().enumerate() {
        let at = Place::Line(i + 1);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = trimmed.split(',').map(str::trim).collect();
        if first.is_none() {
            first = Some((at, cells.len()));
            if cells.iter().any(|c| parse_number(c).is_none()) {
                columns = Some(cells.iter().map(|c| c.trim_matches('"').trim().to_string()).collect());
                continue;
            }
            columns = Some((0..cells.len()).map(|k| format!("col{k}")).collect());
        }
        let (first_at, expected) = first.unwrap();
        if cells.len() != expected {
            return Err(DataError::Ragged { file: file(), at, found: cells.len(), expected, first: first_at });
        }
        let names = columns.as_ref().unwrap();
        for (k, cell) in cells.iter().enumerate() {
            let v = parse_number(cell).ok_or_else(|| DataError::NotANumber {
                file: file(),
                at,
                col: k + 1,
                name: names[k].clone(),
                cell: cell.to_string(),
            })?;
            let v32 = v as f32;
            if !v32.is_finite() {
                return Err(DataError::NotFinite {
                    file: file(),
                    at,
                    col: k + 1,
                    name: names[k].clone(),
                    value: if v.is_finite() { format!("`{cell}` (too large for f32)") } else { format!("`{cell}`") },
                });
            }
            data.push(v32);
        }
        rows += 1;
    }
    let columns = columns.unwrap_or_default();
    if rows == 0 {
        return Err(DataError::Empty { file: file() });
    }
    Ok(Table { dim: columns.len(), columns, rows, data })
}

/// A cell as a number: Rust's float syntax (which also accepts `nan`, `inf`),
/// so that non-finite cells are reported as such rather than as text.
fn parse_number(cell: &str) -> Option<f64> {
    cell.trim_matches('"').trim().parse::<f64>().ok()
}

#[derive(Clone, Copy)]
enum Dtype {
    F4,
    F8,
    I4,
    I8,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::F4 | Dtype::I4 => 4,
            Dtype::F8 | Dtype::I8 => 8,
        }
    }
}

fn parse_npy(bytes: &[u8], path: &Path) -> Result<Table, DataError> {
    let file = || path.to_path_buf();
    let bad = |why: String| DataError::NpyHeader { file: file(), why };
    if bytes.is_empty() {
        return Err(DataError::Empty { file: file() });
    }
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("it does not start with the NumPy magic bytes".into()));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad("the header is cut short".into()));
            }
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        v => return Err(bad(format!("format version {v}.{} is unknown", bytes[7]))),
    };
    let end = start + header_len;
    if bytes.len() < end {
        return Err(bad("the header is cut short".into()));
    }
    let header = String::from_utf8_lossy(&bytes[start..end]);
    let descr = dict_value(&header, "descr").ok_or_else(|| bad("the header has no `descr`".into()))?;
    let dtype = match descr.trim() {
        "'<f4'" | "\"<f4\"" => Dtype::F4,
        "'<f8'" | "\"<f8\"" => Dtype::F8,
        "'<i4'" | "\"<i4\"" => Dtype::I4,
        "'<i8'" | "\"<i8\"" => Dtype::I8,
        other => {
            return Err(DataError::NpyDtype {
                file: file(),
                dtype: other.trim_matches(|c| c == '\'' || c == '"').to_string(),
            })
        }
    };
    let fortran =
        dict_value(&header, "fortran_order").ok_or_else(|| bad("the header has no `fortran_order`".into()))?;
    match fortran.trim() {
        "False" => {}
        "True" => return Err(DataError::NpyFortran { file: file() }),
        other => return Err(bad(format!("`fortran_order` is `{other}`"))),
    }
    let shape_text = dict_value(&header, "shape").ok_or_else(|| bad("the header has no `shape`".into()))?.trim();
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| bad(format!("`shape` is `{shape_text}`")))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad(format!("`shape` is `{shape_text}`")))?;
    let (rows, dim) = match shape.as_slice() {
        [n] => (*n, 1),
        [n, c] => (*n, *c),
        _ => return Err(DataError::NpyShape { file: file(), shape }),
    };
    if rows == 0 || dim == 0 {
        return Err(DataError::Empty { file: file() });
    }
    let expected = rows
        .checked_mul(dim)
        .and_then(|n| n.checked_mul(dtype.size()))
        .ok_or_else(|| bad(format!("`shape` {shape:?} is too large")))?;
    let body = &bytes[end..];
    if body.len() != expected {
        return Err(DataError::NpySize { file: file(), shape, expected, found: body.len() });
    }
    let data: Vec<f32> = match dtype {
        Dtype::F4 => body.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
        Dtype::F8 => body.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
        Dtype::I4 => body.chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
        Dtype::I8 => body.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
    };
    let columns = (0..dim).map(|k| format!("col{k}")).collect();
    Ok(Table { columns, rows, dim, data })
}

/// The text of `key`'s value in a Python dict literal: from after the colon
/// to the comma or closing brace at bracket depth 0.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pos = header.find(&format!("'{key}'")).or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[pos + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?;
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for (i, ch) in rest.char_indices() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(ch),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']') => depth -= 1,
            (None, ',') if depth == 0 => return Some(&rest[..i]),
            (None, '}') if depth == 0 => return Some(&rest[..i]),
            (None, '}') => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Per-column affine standardisation x ↦ (x − mean) / std.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardiser {
    /// Column means.
    pub mean: Vec<f64>,
    /// Column standard deviations (population, i.e. divided by n).
    pub std: Vec<f64>,
}

impl Standardiser {
    /// Column means and population standard deviations, in f64. A zero
    /// deviation (a constant column, which [`validate`] rejects) is stored
    /// as 1 so that [`apply`](Self::apply) never divides by zero.
    pub fn fit(table: &Table) -> Standardiser {
        let (n, d) = (table.rows.max(1) as f64, table.dim);
        let mut mean = vec![0.0f64; d];
        for r in table.data.chunks_exact(d) {
            for (m, v) in mean.iter_mut().zip(r) {
                *m += *v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0f64; d];
        for r in table.data.chunks_exact(d) {
            for ((s, v), m) in var.iter_mut().zip(r).zip(&mean) {
                *s += (*v as f64 - m).powi(2);
            }
        }
        let std = var.iter().map(|s| (s / n).sqrt()).map(|s| if s > 0.0 { s } else { 1.0 }).collect();
        Standardiser { mean, std }
    }

    /// Standardises row-major `data` (any number of rows of this dimension) in place.
    pub fn apply(&self, data: &mut [f32]) {
        for r in data.chunks_exact_mut(self.mean.len()) {
            for ((v, m), s) in r.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = ((*v as f64 - m) / s) as f32;
            }
        }
    }

    /// Undoes [`apply`](Self::apply) in place: x ↦ x · std + mean.
    pub fn invert(&self, data: &mut [f32]) {
        for r in data.chunks_exact_mut(self.mean.len()) {
            for ((v, m), s) in r.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v as f64 * s + m) as f32;
            }
        }
    }
}

/// Splits the rows by a shuffle seeded with `seed` (ChaCha8) into
/// `(train, holdout)`; the holdout gets `round(rows × holdout_fraction)`
/// rows, kept within `1..rows − 1` when the fraction is strictly between 0
/// and 1 and there are at least two rows. Both keep the shuffled order.
///
/// # Panics
/// If `holdout_fraction` is not within [0, 1].
pub fn split(table: &Table, holdout_fraction: f64, seed: u64) -> (Table, Table) {
    assert!((0.0..=1.0).contains(&holdout_fraction), "holdout fraction {holdout_fraction} is not within [0, 1]");
    let mut idx: Vec<usize> = (0..table.rows).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut n_hold = (table.rows as f64 * holdout_fraction).round() as usize;
    if holdout_fraction > 0.0 && holdout_fraction < 1.0 && table.rows >= 2 {
        n_hold = n_hold.clamp(1, table.rows - 1);
    }
    let n_train = table.rows - n_hold;
    (table.select(&idx[..n_train]), table.select(&idx[n_train..]))
}

/// Cuts a `rows × C` series into overlapping windows of `length` consecutive
/// rows, starting every `stride` rows (the last window that fits is the
/// last one), each flattened row-major into one row of `length × C` values.
/// Column names are `name[k]` for step k of column `name`. Errors name the
/// source as `series`; [`windows_of`] names a file instead.
pub fn windows(series: &Table, length: usize, stride: usize) -> Result<Table, DataError> {
    windows_of(series, length, stride, Path::new("series"))
}

/// [`windows`], naming `file` in its error.
pub fn windows_of(series: &Table, length: usize, stride: usize, file: &Path) -> Result<Table, DataError> {
    let err = |fix| DataError::Windows { file: file.to_path_buf(), rows: series.rows, length, stride, fix };
    if length == 0 {
        return Err(err("give a window length of at least 1"));
    }
    if stride == 0 {
        return Err(err("give a stride of at least 1"));
    }
    if length > series.rows {
        return Err(err("give a window no longer than the series"));
    }
    let count = (series.rows - length) / stride + 1;
    let c = series.dim;
    let mut data = Vec::with_capacity(count * length * c);
    for w in 0..count {
        let s = w * stride * c;
        data.extend_from_slice(&series.data[s..s + length * c]);
    }
    let columns = (0..length).flat_map(|k| series.columns.iter().map(move |n| format!("{n}[{k}]"))).collect();
    Ok(Table { columns, rows: count, dim: length * c, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.path().join(name);
        fs::write(&p, bytes).unwrap();
        p
    }

    /// A CSV with a header and `n` rows of two varying columns.
    fn good_csv(n: usize) -> String {
        let mut s = String::from("temp,pressure\n");
        for i in 0..n {
            s += &format!("{},{}\n", i as f32 * 0.5, (i * i) as f32);
        }
        s
    }

    fn npy(descr: &str, fortran: bool, shape: &str, body: &[u8], version: u8) -> Vec<u8> {
        let mut h = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        let pre = if version == 1 { 10 } else { 12 };
        while (pre + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY".to_vec();
        out.extend([version, 0]);
        if version == 1 {
            out.extend((h.len() as u16).to_le_bytes());
        } else {
            out.extend((h.len() as u32).to_le_bytes());
        }
        out.extend(h.as_bytes());
        out.extend(body);
        out
    }

    fn msg(r: Result<Table, DataError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn csv_with_header_comments_and_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = String::from("# sensor log\n\n");
        s += &good_csv(12);
        s += "\n# end\n";
        let t = load(&write(&dir, "a.csv", s.as_bytes())).unwrap();
        assert_eq!(t.columns, ["temp", "pressure"]);
        assert_eq!((t.rows, t.dim), (12, 2));
        assert_eq!(t.row(3), [1.5, 9.0]);
    }

    #[test]
    fn csv_without_header_and_quoted_header() {
        let dir = tempfile::tempdir().unwrap();
        let body: String = (0..10).map(|i| format!("{i}, {}, -{i}e-1\r\n", i % 3)).collect();
        let t = load(&write(&dir, "b.CSV", body.as_bytes())).unwrap();
        assert_eq!(t.columns, ["col0", "col1", "col2"]);
        assert_eq!(t.rows, 10);
        assert_eq!(t.row(4), [4.0, 1.0, -0.4]);
        let t = load(&write(&dir, "c.csv", format!("\"a\",b,\"c d\"\n{body}").as_bytes())).unwrap();
        assert_eq!(t.columns, ["a", "b", "c d"]);
        assert_eq!(t.rows, 10);
    }

    #[test]
    fn missing_unknown_and_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        let m = msg(load(&dir.path().join("nope.csv")));
        assert!(m.contains("nope.csv") && m.contains("no such file"), "{m}");
        let m = msg(load(&write(&dir, "x.txt", b"1,2\n")));
        assert!(m.contains("x.txt") && m.contains(".csv"), "{m}");
        let m = msg(load(&write(&dir, "e.csv", b"")));
        assert!(m.contains("e.csv") && m.contains("no data rows"), "{m}");
        let m = msg(load(&write(&dir, "h.csv", b"# c\na,b\n\n")));
        assert!(m.contains("no data rows"), "{m}");
        let m = msg(load(&write(&dir, "e.npy", b"")));
        assert!(m.contains("e.npy") && m.contains("no data rows"), "{m}");
    }

    #[cfg(unix)]
    #[test]
    fn unreadable_file() {
        let dir = tempfile::tempdir().unwrap();
        // A directory named like a data file cannot be read as one.
        let p = dir.path().join("d.csv");
        fs::create_dir(&p).unwrap();
        match load(&p) {
            Err(e @ DataError::Unreadable { .. }) => assert!(e.to_string().contains("d.csv: cannot read it"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ragged_row_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines: Vec<String> = good_csv(20).lines().map(String::from).collect();
        lines[16] = "1,2,3".into(); // line 17
        let m = msg(load(&write(&dir, "r.csv", lines.join("\n").as_bytes())));
        assert!(m.contains("r.csv: line 17 has 3 columns, expected 2 (as in line 1)"), "{m}");
    }

    #[test]
    fn non_numeric_cell_names_line_column_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines: Vec<String> = good_csv(20).lines().map(String::from).collect();
        lines[4] = "1.0,abc".into(); // line 5, column 2
        let m = msg(load(&write(&dir, "n.csv", lines.join("\n").as_bytes())));
        assert!(m.contains("line 5, column 2 (`pressure`): `abc` is not a number"), "{m}");
        lines[4] = "1.0,".into();
        let m = msg(load(&write(&dir, "n2.csv", lines.join("\n").as_bytes())));
        assert!(m.contains("line 5, column 2 (`pressure`): the cell is empty"), "{m}");
    }

    #[test]
    fn nan_and_inf_cells() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines: Vec<String> = good_csv(20).lines().map(String::from).collect();
        lines[6] = "NaN,1".into();
        let m = msg(load(&write(&dir, "nan.csv", lines.join("\n").as_bytes())));
        assert!(m.contains("line 7, column 1 (`temp`) is `NaN`") && m.contains("remove or impute it"), "{m}");
        lines[6] = "1,-inf".into();
        let m = msg(load(&write(&dir, "inf.csv", lines.join("\n").as_bytes())));
        assert!(m.contains("line 7, column 2 (`pressure`) is `-inf`"), "{m}");
        lines[6] = "1,1e40".into();
        let m = msg(load(&write(&dir, "big.csv", lines.join("\n").as_bytes())));
        assert!(m.contains("too large for f32"), "{m}");
        // In an npy file: row 3, column 2.
        let mut body = Vec::new();
        for i in 0..12 {
            let v = if i == 2 { [1.0f32, f32::NAN] } else { [i as f32, 1.0 + i as f32] };
            v.iter().for_each(|x| body.extend(x.to_le_bytes()));
        }
        let m = msg(load(&write(&dir, "nan.npy", &npy("<f4", false, "(12, 2)", &body, 1))));
        assert!(m.contains("row 3, column 2 (`col1`) is NaN") && m.contains("remove or impute it"), "{m}");
    }

    #[test]
    fn too_few_rows_is_an_error_and_few_rows_per_column_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let m = msg(load(&write(&dir, "few.csv", good_csv(9).as_bytes())));
        assert!(m.contains("has 9 rows; at least 10 are needed"), "{m}");
        // 12 rows of 8 columns: fewer than 2 per column, small data but fine.
        let mut s = (0..8).map(|k| format!("c{k}")).collect::<Vec<_>>().join(",") + "\n";
        for i in 0..12 {
            s += &(0..8).map(|k| (i * k + i + (k == 0) as usize * i * i).to_string()).collect::<Vec<_>>().join(",");
            s += "\n";
        }
        let t = load(&write(&dir, "wide.csv", s.as_bytes())).unwrap();
        assert_eq!((t.rows, t.dim), (12, 8));
        assert!(small_data(t.rows, t.dim) && !small_data(16, 8));
    }

    fn named(columns: &[&str], rows: Vec<Vec<f32>>) -> Table {
        Table {
            columns: columns.iter().map(|s| s.to_string()).collect(),
            rows: rows.len(),
            dim: columns.len(),
            data: rows.concat(),
        }
    }

    #[test]
    fn choosing_columns() {
        let p = Path::new("t.csv");
        let mut rows =
            vec![vec![1.0, 0.5, 7.0, 2.0, 0.0], vec![2.0, 0.7, 7.0, 3.0, 1.0], vec![3.0, 0.1, 7.0, 1.0, 0.0]];
        rows.extend((4..13).map(|i| vec![i as f32, 0.1 * i as f32, 7.0, 1.0 - i as f32, (i % 2) as f32]));
        let t = named(&["id", "a", "k", "b", "label"], rows);
        let all = |c: ColumnChoice| choose_columns(&t, &c, p);
        let choice = ColumnChoice {
            drop: vec!["id".into()],
            drop_constant: true,
            label: Some("label".into()),
            ..ColumnChoice::default()
        };
        let (u, d) = all(choice).unwrap();
        assert_eq!(u.columns, ["a", "b"]);
        assert_eq!(u.data[..6], [0.5, 2.0, 0.7, 3.0, 0.1, 1.0]);
        assert_eq!(
            (d.named.clone(), d.constant.clone(), d.label.clone()),
            (vec!["id".into()], vec![("k".into(), 7.0)], Some("label".into()))
        );
        assert_eq!(d.inputs(), ["id", "k"]);
        // --columns picks and orders.
        let (u, d) = all(ColumnChoice { columns: Some(vec!["b".into(), "a".into()]), ..Default::default() }).unwrap();
        assert_eq!((u.columns.clone(), u.row(0).to_vec()), (vec!["b".to_string(), "a".to_string()], vec![2.0, 0.5]));
        assert_eq!(d.unselected, ["id", "k", "label"]);
        // Nothing asked: everything kept (the constant column then fails validate).
        let (u, _) = all(ColumnChoice::default()).unwrap();
        assert_eq!(u, t);
        let m = validate(&u, p).unwrap_err().to_string();
        assert!(m.contains("column 3 (`k`) is constant (= 7)") && m.contains("`--drop-columns k`"), "{m}");
        assert!(m.contains("`--drop-constant`"), "{m}");
        // Errors.
        let e = all(ColumnChoice { drop: vec!["nope".into()], ..Default::default() }).unwrap_err().to_string();
        assert!(
            e.contains(
                "t.csv: --drop-columns names `nope`, which is not a column of the file; its columns are `id`, `a`"
            ),
            "{e}"
        );
        let e = all(ColumnChoice { label: Some("y".into()), ..Default::default() }).unwrap_err().to_string();
        assert!(e.contains("--label-column names `y`"), "{e}");
        let e = all(ColumnChoice {
            columns: Some(vec!["a".into(), "label".into()]),
            label: Some("label".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("`label` is the --label-column and cannot also be an input"), "{e}");
        let e = all(ColumnChoice { columns: Some(vec!["k".into()]), drop_constant: true, ..Default::default() })
            .unwrap_err()
            .to_string();
        assert!(e.contains("no column is left to train on (every remaining column is constant)"), "{e}");
        let dup = named(&["a", "b", "a"], vec![vec![1.0, 2.0, 3.0]]);
        let e = choose_columns(&dup, &ColumnChoice::default(), p).unwrap_err().to_string();
        assert!(e.contains("columns 1 and 3 are both called `a`"), "{e}");
        let headerless = named(&["col0", "col1"], vec![vec![1.0, 2.0]]);
        let e = choose_columns(&headerless, &ColumnChoice { drop: vec!["x".into()], ..Default::default() }, p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no header, so its columns are called col0, col1"), "{e}");
    }

    #[test]
    fn constant_column() {
        let dir = tempfile::tempdir().unwrap();
        let s: String = "x1,x2,x3\n".to_string() + &(0..12).map(|i| format!("{i},{},1.5\n", -i)).collect::<String>();
        let m = msg(load(&write(&dir, "k.csv", s.as_bytes())));
        assert!(
            m.contains("column 3 (`x3`) is constant (= 1.5): it carries no information and cannot be standardised"),
            "{m}"
        );
    }

    #[test]
    fn npy_round_trips_f4_f8_i4_i8_and_versions() {
        let dir = tempfile::tempdir().unwrap();
        let vals: Vec<f64> = (0..24).map(|i| (i as f64 - 7.0) * 0.25).collect();
        let ints: Vec<i64> = (0..24).map(|i| i * 3 - 20).collect();
        let f4: Vec<u8> = vals.iter().flat_map(|v| (*v as f32).to_le_bytes()).collect();
        let f8: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let i4: Vec<u8> = ints.iter().flat_map(|v| (*v as i32).to_le_bytes()).collect();
        let i8: Vec<u8> = ints.iter().flat_map(|v| v.to_le_bytes()).collect();
        let want_f: Vec<f32> = vals.iter().map(|v| *v as f32).collect();
        let want_i: Vec<f32> = ints.iter().map(|v| *v as f32).collect();
        for (name, descr, body, want, version) in [
            ("a.npy", "<f4", &f4, &want_f, 1),
            ("b.npy", "<f8", &f8, &want_f, 2),
            ("c.npy", "<i4", &i4, &want_i, 3),
            ("d.npy", "<i8", &i8, &want_i, 1),
        ] {
            let t = load(&write(&dir, name, &npy(descr, false, "(12, 2)", body, version))).unwrap();
            assert_eq!((t.rows, t.dim), (12, 2), "{name}");
            assert_eq!(&t.data, want, "{name}");
            assert_eq!(t.columns, ["col0", "col1"]);
        }
        // 1-D: one column.
        let t = load(&write(&dir, "e.npy", &npy("<f8", false, "(24,)", &f8, 1))).unwrap();
        assert_eq!((t.rows, t.dim), (24, 1));
        assert_eq!(t.data, want_f);
    }

    #[test]
    fn bad_npy_files() {
        let dir = tempfile::tempdir().unwrap();
        let body: Vec<u8> = (0..24).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let m = msg(load(&write(&dir, "u8.npy", &npy("|u1", false, "(24,)", &body[..24], 1))));
        assert!(m.contains("u8.npy: NumPy dtype `|u1` is not supported"), "{m}");
        let m = msg(load(&write(&dir, "be.npy", &npy(">f4", false, "(12, 2)", &body, 1))));
        assert!(m.contains("`>f4` is not supported") && m.contains("little-endian"), "{m}");
        let m = msg(load(&write(&dir, "f.npy", &npy("<f4", true, "(12, 2)", &body, 1))));
        assert!(m.contains("Fortran order"), "{m}");
        let m = msg(load(&write(&dir, "s.npy", &npy("<f4", false, "(2, 3, 4)", &body, 1))));
        assert!(m.contains("shape [2, 3, 4]") && m.contains("1-D or 2-D"), "{m}");
        let m = msg(load(&write(&dir, "t.npy", &npy("<f4", false, "(12, 2)", &body[..90], 1))));
        assert!(m.contains("has 90 bytes but shape [12, 2] needs 96") && m.contains("truncated"), "{m}");
        let m = msg(load(&write(&dir, "magic.npy", b"PK\x03\x04 this is a zip file")));
        assert!(m.contains("not a valid .npy file") && m.contains("magic"), "{m}");
        let mut cut = npy("<f4", false, "(12, 2)", &body, 1);
        cut.truncate(40);
        let m = msg(load(&write(&dir, "cut.npy", &cut)));
        assert!(m.contains("header is cut short"), "{m}");
        let m = msg(load(&write(&dir, "noshape.npy", &npy("<f4", false, "oops", &body, 1))));
        assert!(m.contains("`shape` is `oops`"), "{m}");
    }

    fn table(rows: usize, dim: usize) -> Table {
        Table {
            columns: (0..dim).map(|k| format!("c{k}")).collect(),
            rows,
            dim,
            data: (0..rows * dim).map(|i| ((i * 37 % 11) as f32) * 0.3 + (i % dim) as f32 * 10.0).collect(),
        }
    }

    #[test]
    fn standardiser_round_trip() {
        let t = table(50, 3);
        let s = Standardiser::fit(&t);
        let mut x = t.data.clone();
        s.apply(&mut x);
        let z = Standardiser::fit(&Table { data: x.clone(), ..t.clone() });
        for c in 0..3 {
            assert!(z.mean[c].abs() < 1e-6 && (z.std[c] - 1.0).abs() < 1e-5, "{z:?}");
        }
        s.invert(&mut x);
        for (a, b) in x.iter().zip(&t.data) {
            assert!((a - b).abs() < 1e-5);
        }
        // Population std: values 0 and 2 have std 1.
        let two = Table { columns: vec!["a".into()], rows: 2, dim: 1, data: vec![0.0, 2.0] };
        assert_eq!(Standardiser::fit(&two), Standardiser { mean: vec![1.0], std: vec![1.0] });
    }

    #[test]
    fn split_sizes_cover_all_rows_and_are_deterministic() {
        let t = table(100, 2);
        let (a, b) = split(&t, 0.2, 7);
        assert_eq!((a.rows, b.rows), (80, 20));
        assert_eq!((a.data.len(), b.data.len()), (160, 40));
        let mut all: Vec<Vec<u32>> = (0..a.rows)
            .map(|i| a.row(i))
            .chain((0..b.rows).map(|i| b.row(i)))
            .map(|r| r.iter().map(|v| v.to_bits()).collect())
            .collect();
        let mut orig: Vec<Vec<u32>> = (0..t.rows).map(|i| t.row(i).iter().map(|v| v.to_bits()).collect()).collect();
        all.sort();
        orig.sort();
        assert_eq!(all, orig);
        assert_eq!(split(&t, 0.2, 7), (a.clone(), b.clone()));
        assert_ne!(split(&t, 0.2, 8).1, b);
        assert_eq!(split(&t, 0.001, 1).1.rows, 1);
        assert_eq!(split(&t, 0.0, 1).1.rows, 0);
        assert_eq!(split(&t, 1.0, 1).0.rows, 0);
    }

    #[test]
    fn windows_on_a_known_series() {
        // 6 rows × 2 columns: row r = (r, 10 r).
        let s = Table {
            columns: vec!["a".into(), "b".into()],
            rows: 6,
            dim: 2,
            data: (0..6).flat_map(|r| [r as f32, 10.0 * r as f32]).collect(),
        };
        let w = windows(&s, 3, 2).unwrap();
        assert_eq!((w.rows, w.dim), (2, 6));
        assert_eq!(w.columns, ["a[0]", "b[0]", "a[1]", "b[1]", "a[2]", "b[2]"]);
        assert_eq!(w.row(0), [0.0, 0.0, 1.0, 10.0, 2.0, 20.0]);
        assert_eq!(w.row(1), [2.0, 20.0, 3.0, 30.0, 4.0, 40.0]);
        let w = windows(&s, 6, 1).unwrap();
        assert_eq!(w.rows, 1);
        assert_eq!(windows(&s, 2, 1).unwrap().rows, 5);
        let m = windows(&s, 7, 1).unwrap_err().to_string();
        assert!(m.contains("windows of 7 rows") && m.contains("no longer than the series"), "{m}");
        assert!(windows(&s, 0, 1).is_err() && windows(&s, 2, 0).is_err());
    }
}
