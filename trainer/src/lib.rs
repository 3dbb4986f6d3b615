//! Host trainer for DDAEBM (Denoising Diffusion Adversarial Energy-Based
//! Model, ICML 2024) on `tch` (libtorch), following `docs/algorithm.md`.
//!
//! Data flows one way: [`data`] → [`fit`] (using [`nets`], [`diffusion`],
//! [`losses`], [`adam`], and [`sampling`], which [`eval`] shares) → a checkpoint (`ddaebm_host::checkpoint`, the
//! schema shared with `export`) → `export` → model file → `ddaebm-runtime`.
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
pub mod sampling;
pub mod select;

/// libtorch's random generator is global: unit tests that seed it or draw
/// from it hold this lock, so that tests running in parallel threads do not
/// interleave their draws.
#[cfg(test)]
pub(crate) static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
