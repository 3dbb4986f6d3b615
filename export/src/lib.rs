//! `export`: turns a DDAEBM training checkpoint into the small,
//! self-describing model file that `ddaebm-runtime` loads on a device
//! (format: `docs/model-format.md`). Pure Rust: no libtorch.
//!
//! - [`cli`]: the `export` command line (export, `inspect`, `score`).
//! - [`base`]: the energy's Gaussian base measure (fit, eigenpairs, bound).
//! - [`checkpoint`]: the checkpoint schema (shared with the trainer).
//! - [`contract`]: the input contract (column names, window) and matching data files to it.
//! - [`fold`]: constant folding of the time branch and BatchNorm, in f64.
//! - [`model_file`]: the model file writer (f32 / f16 / bf16 / int8 weights).
//! - [`table`]: the user's CSV / `.npy` data, checked, standardised, windowed.
//! - [`detection`]: AUROC, average precision and score quantiles.
//! - [`calibrate`]: anomaly-score quantiles and the default threshold.
//! - [`report`]: the accuracy report every export prints.
//! - [`score`]: scoring a data file through the runtime (`export score`).
#![deny(missing_docs)]

pub mod base;
pub mod calibrate;
pub mod checkpoint;
pub mod cli;
pub mod contract;
pub mod detection;
pub mod fold;
pub mod model_file;
pub mod report;
pub mod score;
pub mod table;
