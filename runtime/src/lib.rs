//! `no_std`, allocation-free runtime for DDAEBM models (Denoising Diffusion
//! Adversarial Energy-Based Models).
//!
//! It loads a model file (a safetensors file, format in
//! `docs/model-format.md`) from a `&[u8]` — typically flash — without
//! copying, and runs
//!
//! * energy scoring: [`Model::energy`] f(x, t) and [`Model::anomaly_score`]
//!   (−f(x, 0), or the generator's denoising reconstruction error
//!   [`Model::reconstruction_score`] when the file declares it), in raw data units;
//! * the file's input contract, for firmware that assembles readings:
//!   [`Model::window`] (window length, stride, columns per row) and
//!   [`Model::column_name`];
//! * calibrated decisions (files written with `export --calibrate`):
//!   [`Model::is_anomaly`], [`Model::verdict`], [`Model::tail_probability`];
//! * streaming windows: [`WindowScorer`] fed one multichannel sample at a
//!   time, scoring every `stride` samples the windows `trainer fit --window`
//!   trains on (bit for bit `export score --window`), and
//!   [`FieldCalibration`], which learns the alarm threshold on the device
//!   from its first windows of normal operation;
//! * the few-step diffusion sampler: [`Model::sample`] (raw units out),
//!   [`Model::denoise_step`] and [`Model::generate`] (normalised units).
//!
//! No call allocates: every call takes a `scratch: &mut [f32]` of at least
//! [`Model::scratch_len`] values (computable at compile time with
//! [`scratch_len_for`]). Nothing panics on bad input: a malformed file, a
//! slice of the wrong length, a step out of range or a non-finite result all
//! return an [`Error`] that says what to do.
//!
//! Arithmetic is plain f32 in a fixed order and the PRNG ([`Rng`]) uses
//! pure-Rust `libm`, so a seed gives bit-identical samples on the host and
//! on a Cortex-M4F.
//!
//! # Example
//!
//! A one-layer model with D = 1, nz = 1, T = 2, written by hand (real files
//! come from the `export` tool):
//!
//! ```
//! use ddaebm_runtime::{Model, Rng};
//!
//! # fn model_file() -> Vec<u8> {
//! #     // (name, shape, f32 values); every tensor is F32.
//! #     let tensors: [(&str, &[usize], &[f32]); 10] = [
//! #         ("schedule.coef1", &[2], &[0.9, 0.5]),
//! #         ("schedule.coef2", &[2], &[0.1, 0.4]),
//! #         ("schedule.posterior_std", &[2], &[0.05, 0.2]),
//! #         ("norm.mean", &[1], &[3.0]),
//! #         ("norm.inv_std", &[1], &[0.5]),
//! #         ("norm.std", &[1], &[2.0]),
//! #         ("energy.0.weight", &[1, 1], &[-1.0]),
//! #         ("energy.0.bias", &[1], &[0.0]),
//! #         ("generator.0.weight", &[1, 2], &[0.5, 0.1]),
//! #         ("generator.0.bias", &[2, 1], &[0.0, 0.1]),
//! #     ];
//! #     let mut json = String::from(
//! #         r#"{"__metadata__":{"format":"ddaebm-model","format_version":"1","data_dim":"1","nz":"1","steps":"2","weight_dtype":"f32","energy_layers":"1","generator_layers":"1"}"#,
//! #     );
//! #     let mut data = Vec::new();
//! #     for (name, shape, values) in tensors {
//! #         let begin = data.len();
//! #         for v in values { data.extend_from_slice(&v.to_le_bytes()); }
//! #         json += &format!(r#","{name}":{{"dtype":"F32","shape":{shape:?},"data_offsets":[{begin},{}]}}"#, data.len());
//! #     }
//! #     json.push('}');
//! #     let mut file = (json.len() as u64).to_le_bytes().to_vec();
//! #     file.extend_from_slice(json.as_bytes());
//! #     file.extend_from_slice(&data);
//! #     file
//! # }
//! let bytes: Vec<u8> = model_file(); // on a device: a `&'static [u8]` in flash
//! let model = Model::from_bytes(&bytes)?;
//! assert_eq!((model.data_dim(), model.nz(), model.steps()), (1, 1, 2));
//!
//! let mut scratch = [0.0f32; 64];
//! let scratch = &mut scratch[..model.scratch_len()];
//!
//! // Energy: normalised x = (5 - 3) * 0.5 = 1, f = -1 * 1 + 0.
//! assert_eq!(model.energy(&[5.0], 0, scratch)?, -1.0);
//! assert_eq!(model.anomaly_score(&[5.0], scratch)?, 1.0);
//!
//! // A sample in raw units; the same seed gives the same bits.
//! let mut x = [0.0f32; 1];
//! model.sample(&mut Rng::new(7), &mut x, scratch)?;
//! let mut y = [0.0f32; 1];
//! model.sample(&mut Rng::new(7), &mut y, scratch)?;
//! assert_eq!(x[0].to_bits(), y[0].to_bits());
//! # Ok::<(), ddaebm_runtime::Error>(())
//! ```
//!
//! # Modules
//!
//! * [`error`]: the [`Error`] type;
//! * `format`: the safetensors header reader ([`MAX_LAYERS`], [`TensorName`]);
//! * `model`: loading and validation ([`Model::from_bytes`]), the network chain;
//! * `kernels`: matrix–vector product (F32/F16/BF16/I8 weights) and PReLU;
//! * [`kernel_path`] (x86-64 only): forcing the portable or a SIMD kernel
//!   path, for differential tests;
//! * `schedule`: [`Model::coef1`], [`Model::coef2`], [`Model::posterior_std`];
//! * `energy`: [`Model::energy`], [`Model::anomaly_score`];
//! * `base`: the energy's Gaussian (or Gaussian-mixture, up to
//!   [`MAX_BASE_COMPONENTS`] components) base measure (files that carry
//!   one): f = bounded network output + the base's log-density;
//! * `batch`: [`Model::energy_batch`], bit-identical to [`Model::energy`];
//! * `calibration`: [`Model::threshold`], [`Model::is_anomaly`], [`Verdict`];
//! * `sampler`: [`Model::sample`], [`Model::denoise_step`], [`Model::generate`];
//! * [`stream`]: [`WindowScorer`] (a mirrored ring buffer), [`WindowShape`];
//! * [`field_calibration`]: [`FieldCalibration`] and the fixed-memory
//!   quantile estimators it is built from;
//! * `rng`: [`Rng`], seeded xoshiro128++ with Marsaglia-polar normals;
//! * `crc`: [`crc32`], the model file's checksum (checked at load).

#![no_std]
// `unsafe` only in `kernels` (the x86-64 SIMD intrinsics, the Arm FPU / DSP /
// Helium inline-asm loops) and `rng` (the hard-float square root), each with
// a SAFETY comment.
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod base;
mod batch;
mod calibration;
mod crc;
mod energy;
pub mod error;
pub mod field_calibration;
mod format;
#[cfg(target_arch = "x86_64")]
pub mod kernel_path;
mod kernels;
mod model;
mod rng;
mod sampler;
mod schedule;
pub mod stream;

pub use base::MAX_BASE_COMPONENTS;
pub use calibration::Verdict;
pub use crc::crc32;
pub use energy::{DEFAULT_DRAWS, RECONSTRUCTION_SEED};
pub use error::Error;
pub use field_calibration::FieldCalibration;
pub use format::{LayerParam, Net, TensorName, MAX_LAYERS};
pub use model::{
    scratch_len_for, Model, ScoreKind, WeightDtype, FORMAT_VERSION, MAX_DATA_DIM, MAX_DRAWS, MAX_NZ, MAX_QUANTILES,
    MAX_STEPS,
};
pub use rng::Rng;
pub use stream::{WindowScorer, WindowShape};
