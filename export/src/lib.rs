//! `export`: turns a DDAEBM training checkpoint into the small,
//! self-describing model file that `ddaebm-runtime` loads on a device
//! (format: `docs/model-format.md`). Pure Rust: no libtorch. The
//! checkpoint schema, data tables, input contract, base measure and
//! detection metrics it shares with the trainer are in `ddaebm-host`; the
//! command line (`export`, `inspect`, `score`) is the binary's
//! (`src/main.rs`, `src/cli.rs`, `src/score.rs`), the only part that uses
//! `anyhow`.
//!
//! - [`fold`]: constant folding of the time branch and BatchNorm, in f64.
//! - [`model_file`]: the model file writer (f32 / f16 / bf16 / int8 weights).
//! - [`calibrate`]: anomaly-score quantiles and the default threshold.
//! - [`report`]: the accuracy report every export prints.
#![deny(missing_docs)]

pub mod calibrate;
pub mod fold;
pub mod model_file;
pub mod report;
