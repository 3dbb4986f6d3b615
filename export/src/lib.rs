//! `export`: turns a DDAEBM training checkpoint into the small,
//! self-describing model file that `ddaebm-runtime` loads on a device
//! (format: `docs/model-format.md`). Pure Rust: no libtorch.
//!
//! - [`checkpoint`]: the checkpoint schema (shared with the trainer).
//! - [`fold`]: constant folding of the time branch and BatchNorm, in f64.
//! - [`model_file`]: the model file writer (f32 / f16 weights).
#![deny(missing_docs)]

pub mod checkpoint;
pub mod fold;
pub mod model_file;
