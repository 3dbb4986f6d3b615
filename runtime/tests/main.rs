//! The runtime's integration tests, one test binary (ripgrep's layout:
//! `autotests = false` in Cargo.toml): a module per topic, all sharing
//! `common`, the hand-written model-file builder and f64 reference.

mod common;

mod calibration;
mod contract;
mod kernel_paths;
mod kernels;
mod malformed;
#[cfg(feature = "mixture")]
mod mixture;
#[cfg(not(feature = "mixture"))]
mod mixture_off;
mod numerics;
mod properties;
mod reconstruction;
mod rng;
mod robustness;
mod stream;
