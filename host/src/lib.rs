//! `ddaebm-host`: the host code that the trainer, `export`, the perf table
//! and the end-to-end tests share. Pure Rust (no libtorch), no `anyhow`:
//! every module returns its own error type, whose message says what to do.
//!
//! - [`checkpoint`]: the checkpoint schema `trainer fit` writes and `export` reads.
//! - [`table`]: the user's CSV / `.npy` data, checked, standardised, windowed.
//! - [`contract`]: the input contract (column names, window) and matching data files to it.
//! - [`base`]: the energy's Gaussian base measure (fit, eigenpairs, bound).
//! - [`detection`]: AUROC, average precision and score quantiles.
//! - [`cli`]: what the `trainer` and `export` command lines share (usage errors, SIGPIPE).
#![deny(missing_docs)]

pub mod base;
pub mod checkpoint;
pub mod cli;
pub mod contract;
pub mod detection;
pub mod mixture;
pub mod table;
