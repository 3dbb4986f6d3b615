//! The training checkpoint: what `trainer fit` writes and `export` reads.
//!
//! A checkpoint is a safetensors file of f32 tensors (every network, the
//! BatchNorm statistics and the Adam moments) whose `__metadata__` holds one
//! key, [`META_KEY`], with a JSON [`CheckpointMeta`]: the architecture, the
//! diffusion schedule with all its coefficients, the data normalisation, and
//! the trainer's own configuration and progress (for `--resume`).
//!
//! This module is pure Rust (no libtorch) so that `export` can read
//! checkpoints on any machine; the trainer uses the same definitions to
//! write them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The `__metadata__` key under which the JSON [`CheckpointMeta`] is stored.
pub const META_KEY: &str = "ddaebm.checkpoint";
/// The value of [`CheckpointMeta::format`].
pub const FORMAT: &str = "ddaebm-checkpoint";
/// The checkpoint format version this code writes and reads.
pub const VERSION: u32 = 1;

/// Errors reading or writing a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("{path}: cannot access the file")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a safetensors file.
    #[error(
        "{path}: not a safetensors checkpoint ({detail}); pass the `checkpoint.safetensors` that `trainer fit` wrote"
    )]
    NotSafetensors {
        /// The file.
        path: String,
        /// What the parser said.
        detail: String,
    },
    /// The safetensors file has no DDAEBM metadata or it does not parse.
    #[error("{path}: not a DDAEBM checkpoint ({detail}); pass the `checkpoint.safetensors` that `trainer fit` wrote")]
    BadMeta {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The checkpoint was written by a format version this code does not know.
    #[error("{path}: checkpoint format version {found}, this build reads version {VERSION}; use the matching version of the tools or retrain")]
    Version {
        /// The file.
        path: String,
        /// The version found.
        found: u32,
    },
    /// A tensor is stored with a dtype other than F32.
    #[error("{path}: tensor `{name}` is {dtype}, checkpoints hold F32 only")]
    Dtype {
        /// The file.
        path: String,
        /// The tensor.
        name: String,
        /// Its dtype.
        dtype: String,
    },
}

/// Which variance schedule the forward diffusion uses (docs/algorithm.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// var(s) = 1 − exp(−½ s² (β_max − β_min) − s β_min).
    Vp,
    /// var(s) = β_min (β_max / β_min)^s.
    Geometric,
}

/// Network sizes: enough to rebuild every layer from the tensor names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arch {
    /// Data dimension D.
    pub data_dim: usize,
    /// Generator latent size.
    pub nz: usize,
    /// Dimension of the sinusoidal step embedding (16 in the reference).
    pub t_emb_dim: usize,
    /// Output widths of the x-encoder layers (reference: [16, 32]).
    pub x_enc: Vec<usize>,
    /// Output widths of the time-encoder layers (reference: [16, 32]).
    pub t_enc: Vec<usize>,
    /// Hidden widths of the trunk (reference: [300, 300]).
    pub trunk: Vec<usize>,
    /// Output width of the posterior encoder's trunk, before the μ / logvar heads.
    pub encoder_out: usize,
    /// Whether the generator and encoder have BatchNorm after their hidden
    /// x-encoder and trunk layers (the energy network never has).
    pub batchnorm: bool,
    /// BatchNorm ε.
    pub bn_eps: f64,
}

/// The diffusion schedule with every coefficient, computed in f64 by the trainer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleMeta {
    /// vp or geometric.
    pub kind: ScheduleKind,
    /// β_min.
    pub beta_min: f64,
    /// β_max.
    pub beta_max: f64,
    /// T, the number of denoising steps.
    pub steps: usize,
    /// a_k = √(1 − β_k), k = 0..=T.
    pub a: Vec<f64>,
    /// σ_k = √β_k, k = 0..=T.
    pub sigma: Vec<f64>,
    /// ā_k, k = 0..=T.
    pub a_bar: Vec<f64>,
    /// σ̄_k, k = 0..=T.
    pub sigma_bar: Vec<f64>,
    /// Posterior coefficient of x̂0, t = 0..T−1.
    pub coef1: Vec<f64>,
    /// Posterior coefficient of x_{t+1}, t = 0..T−1.
    pub coef2: Vec<f64>,
    /// Posterior variance var_t, t = 0..T−1.
    pub posterior_var: Vec<f64>,
}

/// Per-feature standardisation learned on the training data:
/// x_model = (x_raw − mean) / std.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalisation {
    /// Feature means.
    pub mean: Vec<f64>,
    /// Feature standard deviations (all > 0).
    pub std: Vec<f64>,
}

impl Normalisation {
    /// The identity normalisation (built-in data sets are used as generated).
    pub fn identity(dim: usize) -> Self {
        Normalisation { mean: vec![0.0; dim], std: vec![1.0; dim] }
    }
}

/// Everything about a checkpoint except the tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`] when written by this code.
    pub version: u32,
    /// Network sizes.
    pub arch: Arch,
    /// Diffusion schedule and coefficients.
    pub schedule: ScheduleMeta,
    /// Data normalisation.
    pub normalisation: Normalisation,
    /// Name of the data set (a built-in name or the user's file).
    pub dataset: String,
    /// Number of completed training iterations.
    pub iteration: u64,
    /// The trainer's full configuration and resume state (opaque to export).
    pub train: serde_json::Value,
    /// The energy's Gaussian base measure and residual bound
    /// ([`crate::base`]), when the run trained with one; its eigenpairs are
    /// the tensors [`BASE_BASIS`] and [`BASE_VARIANCE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_base: Option<BaseMeta>,
    /// What the model reads: column names in order, the window, the
    /// columns dropped at training ([`crate::contract`]); `export` copies it
    /// into the model file. Absent in checkpoints written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<crate::contract::InputContract>,
    /// What the trainer chose on its held-out normal rows ([`Selection`]),
    /// when it chose: the energy's tensors and `energy_base` are then the
    /// chosen ones. Absent in checkpoints written before it existed and in
    /// runs without selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
}

/// The energy a run chose on normal rows it set aside (never trained on):
/// the training iteration whose energy network had the highest held-out
/// log-likelihood, and the scale s ∈ [0, 1] of its residual (s = 0: the
/// Gaussian base alone). docs/training.md, "Settings chosen on held-out
/// normal rows".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Rows (or windows) set aside for the choice.
    pub rows: usize,
    /// The training iteration whose energy network was kept.
    pub iteration: u64,
    /// The scale s of the residual (the bound becomes s · B).
    pub scale: f64,
    /// The held-out log-likelihood of the chosen energy over its base
    /// alone, in nats per row (≥ 0: the base itself is a candidate).
    pub gain: f64,
    /// K, the components of the base measure (1: one Gaussian), chosen on
    /// the same rows (docs/training.md, departure 11).
    #[serde(default = "one_component")]
    pub components: usize,
}

fn one_component() -> usize {
    1
}

impl Selection {
    /// One line for people and for the model file's metadata.
    pub fn describe(&self) -> String {
        let base = match self.components {
            1 => "the Gaussian base".to_string(),
            k => format!("a base of {k} Gaussians"),
        };
        if self.scale == 0.0 {
            format!("{base} alone (no residual beat it on {} held-out normal rows)", self.rows)
        } else {
            format!(
                "{base}, iteration {}, residual scale {} (+{:.3} nats per row over the base on {} held-out normal \
                 rows)",
                self.iteration, self.scale, self.gain, self.rows
            )
        }
    }
}

/// Checkpoint tensor `[D, D]`: row k is the base's eigenvector v_k.
pub const BASE_BASIS: &str = "base.basis";
/// Checkpoint tensor `[D]`: the base's eigenvalues λ_k (`[K·D]` for a
/// mixture, whose `base.basis` is `[K·D, D]`).
pub const BASE_VARIANCE: &str = "base.variance";
/// Checkpoint tensor `[K]` (mixtures only, K ≥ 2): the components' log weights.
pub const BASE_LOG_WEIGHT: &str = "base.log_weight";
/// Checkpoint tensor `[K, D]` (mixtures only): the components' means.
pub const BASE_MEAN: &str = "base.mean";

/// The scalars of an energy's Gaussian base measure ([`crate::base`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseMeta {
    /// B: the network's residual is bounded to (−B, B).
    pub residual_bound: f64,
    /// The Ledoit–Wolf shrinkage ρ used for the covariance (informational).
    pub shrinkage: f64,
}

/// A tensor held in host memory: shape and row-major f32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values, `shape.iter().product()` of them.
    pub data: Vec<f32>,
}

/// A checkpoint that lacks a tensor its architecture record needs, or has
/// one of the wrong shape (`export`'s folding reports these as
/// `ddaebm_export::fold::FoldError`, the same type).
#[derive(Debug, thiserror::Error)]
pub enum TensorError {
    /// A tensor the architecture needs is missing.
    #[error("checkpoint has no tensor `{0}`; it does not match its own architecture record (re-run `trainer fit`)")]
    Missing(String),
    /// A tensor has an unexpected shape.
    #[error("checkpoint tensor `{name}` has shape {found:?}, expected {expected:?}")]
    Shape {
        /// Tensor name.
        name: String,
        /// Expected shape.
        expected: Vec<usize>,
        /// Found shape.
        found: Vec<usize>,
    },
}

/// The sinusoidal embedding of step index t (the trainer's networks and
/// `export`'s folding use this one definition).
pub fn time_embedding(t: usize, dim: usize) -> Vec<f64> {
    let half = dim / 2;
    let denom = (half.max(2) - 1) as f64;
    let w: Vec<f64> = (0..half).map(|k| (-(k as f64) * 10000f64.ln() / denom).exp()).collect();
    let tf = t as f64;
    w.iter().map(|wk| (tf * wk).sin()).chain(w.iter().map(|wk| (tf * wk).cos())).collect()
}

/// A loaded checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Metadata.
    pub meta: CheckpointMeta,
    /// Tensors by name, sorted (so files are byte-for-byte reproducible).
    pub tensors: BTreeMap<String, HostTensor>,
}

impl Checkpoint {
    /// The energy's Gaussian base measure, when the checkpoint has one.
    pub fn gaussian_base(&self) -> Result<Option<crate::base::GaussianBase>, TensorError> {
        let Some(meta) = &self.meta.energy_base else { return Ok(None) };
        let d = self.meta.arch.data_dim;
        let get = |name: &str, shape: Vec<usize>| -> Result<Vec<f64>, TensorError> {
            let t = self.tensors.get(name).ok_or_else(|| TensorError::Missing(name.into()))?;
            if t.shape != shape {
                return Err(TensorError::Shape { name: name.into(), expected: shape, found: t.shape.clone() });
            }
            Ok(t.data.iter().map(|&v| v as f64).collect())
        };
        let k = self.tensors.get(BASE_LOG_WEIGHT).map_or(1, |t| t.data.len());
        let (log_weight, mean) = if self.tensors.contains_key(BASE_LOG_WEIGHT) {
            (get(BASE_LOG_WEIGHT, vec![k])?, get(BASE_MEAN, vec![k, d])?)
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(Some(crate::base::GaussianBase {
            dim: d,
            basis: get(BASE_BASIS, vec![k * d, d])?,
            variance: get(BASE_VARIANCE, vec![k * d])?,
            residual_bound: meta.residual_bound,
            shrinkage: meta.shrinkage,
            log_weight,
            mean,
        }))
    }

    /// Serialises the checkpoint to safetensors bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let bytes: Vec<Vec<u8>> = self.tensors.values().map(|t| f32_le_bytes(&t.data)).collect();
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = self
            .tensors
            .iter()
            .zip(&bytes)
            .map(|((name, t), b)| {
                let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, t.shape.clone(), b)
                    .expect("HostTensor shape matches its data");
                (name.clone(), view)
            })
            .collect();
        let meta = serde_json::to_string(&self.meta).expect("metadata serialises");
        let info = std::collections::HashMap::from([(META_KEY.to_string(), meta)]);
        safetensors::serialize(views, Some(info)).expect("valid tensors serialise")
    }

    /// Writes the checkpoint atomically: to a temporary file in the same
    /// folder, synced, then renamed over `path`. A crash at any moment
    /// leaves either the old file or the new one, never a torn one.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        write_atomic(path, &self.to_bytes())
    }

    /// Reads a checkpoint written by [`Checkpoint::save`].
    pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let p = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io { path: p.clone(), source })?;
        Self::from_bytes(&bytes, &p)
    }

    /// Parses checkpoint bytes; `path` is only used in error messages.
    pub fn from_bytes(bytes: &[u8], path: &str) -> Result<Checkpoint, CheckpointError> {
        let st = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| CheckpointError::NotSafetensors { path: path.into(), detail: e.to_string() })?;
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| CheckpointError::NotSafetensors { path: path.into(), detail: e.to_string() })?;
        let json = header.metadata().as_ref().and_then(|m| m.get(META_KEY)).ok_or_else(|| {
            CheckpointError::BadMeta { path: path.into(), detail: format!("no `{META_KEY}` metadata") }
        })?;
        let probe: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| CheckpointError::BadMeta { path: path.into(), detail: e.to_string() })?;
        if probe.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(CheckpointError::BadMeta { path: path.into(), detail: format!("`format` is not `{FORMAT}`") });
        }
        let found = probe.get("version").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
        if found != VERSION {
            return Err(CheckpointError::Version { path: path.into(), found });
        }
        let meta: CheckpointMeta = serde_json::from_value(probe)
            .map_err(|e| CheckpointError::BadMeta { path: path.into(), detail: e.to_string() })?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(CheckpointError::Dtype { path: path.into(), name, dtype: format!("{:?}", view.dtype()) });
            }
            let data = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            tensors.insert(name, HostTensor { shape: view.shape().to_vec(), data });
        }
        Ok(Checkpoint { meta, tensors })
    }
}

/// Little-endian bytes of an f32 slice.
pub fn f32_le_bytes(data: &[f32]) -> Vec<u8> {
    data.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    use std::io::Write;
    let p = path.display().to_string();
    let io = |source| CheckpointError::Io { path: p.clone(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}
