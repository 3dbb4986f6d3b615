//! Host trainer for DDAEBM (Denoising Diffusion Adversarial Energy-Based
//! Model, ICML 2024) on `tch` (libtorch), following `ALGORITHM.md`.
//!
//! Data flows one way: [`data`] → [`fit`] (using [`nets`], [`diffusion`],
//! [`losses`], [`adam`]) → a checkpoint (`ddaebm_export::checkpoint`) →
//! `export` → model file → `ddaebm-runtime`.
#![deny(missing_docs)]

pub mod adam;
pub mod data;
pub mod diffusion;
pub mod eval;
pub mod fit;
pub mod losses;
pub mod metrics;
pub mod model;
pub mod nets;
pub mod plots;
/// The user's own data files (moved to the export crate, which also reads
/// them for calibration and scoring; re-exported here under its old name).
pub use ddaebm_export::table as userdata;
