//! The loaded model: validation at load time and the network forward pass.
//!
//! [`Model::from_bytes`] checks everything the format document requires,
//! once, and keeps borrowed byte slices into the file (no copy). After a
//! successful load every tensor slice has exactly the length its shape
//! implies, so the call-time code in [`energy`](crate::energy) and
//! [`sampler`](crate::sampler) only has to check the caller's slices.

use core::fmt;

use crate::base::Base;
#[cfg(feature = "mixture")]
use crate::base::{Mixture, MAX_BASE_COMPONENTS};
use crate::error::Error;
use crate::format::{metadata_value, parse_decimal, Dtype, Header, LayerParam, Net, RawTensor, TensorName, MAX_LAYERS};
use crate::kernels::{self, f32_le};

/// The newest file format version this runtime reads
/// (`__metadata__.format_version`); it reads every version from 1 up to it.
/// Version 2 added the energy's base measure (`base.*` tensors), which a
/// version-1 runtime would silently ignore; `export` writes version 2.
pub const FORMAT_VERSION: u32 = 2;

/// Largest supported data dimension D (`data_dim`).
pub const MAX_DATA_DIM: usize = 1024;

/// Largest supported generator latent size (`nz`).
pub const MAX_NZ: usize = 1024;

/// Largest supported number of denoising steps T (`steps`).
pub const MAX_STEPS: usize = 64;

/// Largest supported number of calibration quantiles
/// (`calibration.quantiles`, at least 2).
pub const MAX_QUANTILES: usize = 4097;

/// Number of `f32` of scratch a model needs, from its dimensions:
/// `2 * max(data_dim + nz, max_width) + data_dim`, where `max_width` is the
/// largest layer output width of either network (the values of
/// [`Model::data_dim`], [`Model::nz`] and [`Model::max_width`]).
///
/// Layout: two activation buffers of `W = max(data_dim + nz, max_width)`
/// `f32` each, `scratch[0..W]` and `scratch[W..2W]`; the networks'
/// layers read one and write the other in turn. The network input
/// (normalised x for the energy, `concat(x_{t+1}, z)` for the generator) is
/// written to the first. `scratch[2W..2W + D]` holds the normalised reading
/// while the reconstruction score runs the generator
/// ([`Model::reconstruction_score`]). Only `scratch[0..2W + D]` is used when
/// the slice is longer. Saturates instead of overflowing.
///
/// Being a `const fn`, it can size a buffer at compile time in firmware:
///
/// ```
/// use ddaebm_runtime::scratch_len_for;
/// // D = 2, nz = 2, hidden layers 300 wide.
/// const SCRATCH_LEN: usize = scratch_len_for(2, 2, 300);
/// let scratch = [0.0f32; SCRATCH_LEN];
/// assert_eq!(scratch.len(), 602);
/// ```
pub const fn scratch_len_for(data_dim: usize, nz: usize, max_width: usize) -> usize {
    let input = data_dim.saturating_add(nz);
    let w = if input > max_width { input } else { max_width };
    w.saturating_mul(2).saturating_add(data_dim)
}

/// Largest number of noise draws of the reconstruction score
/// (`reconstruction_draws`).
pub const MAX_DRAWS: usize = 256;

/// Which anomaly score a model file declares (`__metadata__.anomaly_score`),
/// the one [`Model::anomaly_score`] and the calibrated decisions use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ScoreKind {
    /// −f(x, 0), the energy at step 0 (docs/algorithm.md §4; the default).
    Energy,
    /// The generator's denoising reconstruction error at step 0:
    /// [`Model::reconstruction_score`].
    Reconstruction,
}

/// The element type of the weight matrices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WeightDtype {
    /// IEEE binary32.
    F32,
    /// IEEE binary16 (accumulation is still f32).
    F16,
    /// bfloat16: the upper 16 bits of an IEEE binary32 (accumulation is
    /// still f32).
    Bf16,
    /// Signed 8-bit integers with one F32 scale per output row
    /// (`W[o][i] = scale[o] · q[o][i]`; activations and accumulation f32).
    Int8,
}

impl WeightDtype {
    /// The `weight_dtype` metadata value: `f32`, `f16`, `bf16` or `int8`.
    pub const fn as_str(self) -> &'static str {
        match self {
            WeightDtype::F32 => "f32",
            WeightDtype::F16 => "f16",
            WeightDtype::Bf16 => "bf16",
            WeightDtype::Int8 => "int8",
        }
    }

    /// The weight dtype of a tensor dtype.
    const fn of(dtype: Dtype) -> WeightDtype {
        match dtype {
            Dtype::F32 => WeightDtype::F32,
            Dtype::F16 => WeightDtype::F16,
            Dtype::Bf16 => WeightDtype::Bf16,
            Dtype::I8 => WeightDtype::Int8,
        }
    }
}

/// One layer `h ← act(W h + b[t])`, validated.
#[derive(Clone, Copy)]
pub(crate) struct Layer<'a> {
    /// `[out_dim, in_dim]` row-major, `dtype` elements.
    pub(crate) weight: &'a [u8],
    pub(crate) dtype: Dtype,
    /// F32 `[out_dim]` per-row scales when `dtype` is I8; empty otherwise.
    pub(crate) scale: &'a [u8],
    pub(crate) in_dim: usize,
    pub(crate) out_dim: usize,
    /// F32, `[out_dim]` or `[T, out_dim]`.
    pub(crate) bias: &'a [u8],
    pub(crate) bias_per_step: bool,
    /// The PReLU slope, if the layer has one.
    pub(crate) prelu: Option<f32>,
}

impl Layer<'_> {
    const EMPTY: Layer<'static> = Layer {
        weight: &[],
        dtype: Dtype::F32,
        scale: &[],
        in_dim: 0,
        out_dim: 0,
        bias: &[],
        bias_per_step: false,
        prelu: None,
    };

    /// Applies the layer at step `t`: reads `src[..in_dim]`, writes `dst[..out_dim]`.
    fn apply(&self, t: usize, src: &[f32], dst: &mut [f32]) -> Result<(), Error> {
        let x = src.get(..self.in_dim).ok_or(Error::ScratchTooSmall { needed: self.in_dim, found: src.len() })?;
        let found = dst.len();
        let y = dst.get_mut(..self.out_dim).ok_or(Error::ScratchTooSmall { needed: self.out_dim, found })?;
        let bias_bytes = self.out_dim.saturating_mul(4).max(1);
        let bias = if self.bias_per_step {
            self.bias
                .chunks_exact(bias_bytes)
                .nth(t)
                .ok_or(Error::StepOutOfRange { t, steps: self.bias.len() / bias_bytes })?
        } else {
            self.bias
        };
        kernels::layer(self.weight, self.dtype, self.scale, x, bias, y, self.prelu);
        Ok(())
    }
}

/// A chain of up to [`MAX_LAYERS`] layers.
#[derive(Clone, Copy)]
pub(crate) struct Network<'a> {
    layers: [Layer<'a>; MAX_LAYERS],
    len: usize,
}

impl<'a> Network<'a> {
    /// No layers. A function, not a constant: a constant would be a
    /// 356-byte block of flash to copy from, this is a loop (not inlined:
    /// called into the model's fields directly).
    #[inline(never)]
    fn empty() -> Network<'a> {
        Network { layers: [Layer::EMPTY; MAX_LAYERS], len: 0 }
    }

    pub(crate) fn layers(&self) -> &[Layer<'a>] {
        self.layers.get(..self.len).unwrap_or(&[])
    }

    /// Runs the chain at step `t` on the input in `a`, ping-ponging between
    /// `a` and `b`; returns the output slice (in `a` or `b`).
    pub(crate) fn forward<'s>(&self, t: usize, a: &'s mut [f32], b: &'s mut [f32]) -> Result<&'s [f32], Error> {
        let mut in_a = true;
        let mut out_len = 0;
        for layer in self.layers() {
            let (src, dst) = if in_a { (&*a, &mut *b) } else { (&*b, &mut *a) };
            layer.apply(t, src, dst)?;
            in_a = !in_a;
            out_len = layer.out_dim;
        }
        let out: &'s [f32] = if in_a { a } else { b };
        out.get(..out_len).ok_or(Error::ScratchTooSmall { needed: out_len, found: out.len() })
    }
}

/// A DDAEBM model borrowed from a model file (docs/model-format.md).
///
/// Loading validates the whole file once; the model then runs energy
/// scoring ([`energy`](Model::energy), [`anomaly_score`](Model::anomaly_score))
/// and sampling ([`sample`](Model::sample), [`denoise_step`](Model::denoise_step),
/// [`generate`](Model::generate)) without allocation, using a caller-provided
/// scratch buffer of [`scratch_len`](Model::scratch_len) `f32`.
#[derive(Clone, Copy)]
pub struct Model<'a> {
    pub(crate) data_dim: usize,
    pub(crate) nz: usize,
    pub(crate) steps: usize,
    /// `max(data_dim + nz, widest layer output)`: one activation buffer.
    pub(crate) buf_width: usize,
    pub(crate) weight_dtype: WeightDtype,
    /// F32 `[T]` each.
    pub(crate) coef1: &'a [u8],
    pub(crate) coef2: &'a [u8],
    pub(crate) posterior_std: &'a [u8],
    /// F32 `[D]` each.
    pub(crate) mean: &'a [u8],
    pub(crate) inv_std: &'a [u8],
    pub(crate) std: &'a [u8],
    pub(crate) energy_net: Network<'a>,
    pub(crate) generator_net: Network<'a>,
    /// The optional anomaly-score calibration (see [`crate::calibration`]).
    pub(crate) calibration: Option<Calibration<'a>>,
    /// The declared anomaly score.
    pub(crate) score_kind: ScoreKind,
    /// Noise draws of the reconstruction score (0 for energy scoring).
    #[cfg_attr(not(feature = "reconstruction"), allow(dead_code))]
    pub(crate) draws: usize,
    /// F32 `[T]` each, or empty when the file has none: x_{t+1} =
    /// a_bar[t] · x_0 + sigma_bar[t] · ε (normalised units). Read by the
    /// reconstruction score only.
    #[cfg_attr(not(feature = "reconstruction"), allow(dead_code))]
    pub(crate) a_bar: &'a [u8],
    #[cfg_attr(not(feature = "reconstruction"), allow(dead_code))]
    pub(crate) sigma_bar: &'a [u8],
    /// The energy's Gaussian base measure, if the file has one.
    pub(crate) base: Option<Base<'a>>,
    /// The header JSON, for the metadata read on demand (the input
    /// contract: [`Model::window`], [`Model::column_name`]).
    pub(crate) json: &'a [u8],
}

/// Anomaly-score quantiles of held-out normal data and the threshold,
/// validated at load time.
#[derive(Clone, Copy)]
pub(crate) struct Calibration<'a> {
    /// F32 `[K]`, K ≥ 2, non-decreasing and finite: the score quantile at
    /// level `i / (K − 1)`.
    pub quantiles: &'a [u8],
    /// Scores above this are anomalies.
    pub threshold: f32,
}

impl fmt::Debug for Model<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("data_dim", &self.data_dim)
            .field("nz", &self.nz)
            .field("steps", &self.steps)
            .field("weight_dtype", &self.weight_dtype)
            .field("energy_layers", &self.energy_net.len)
            .field("generator_layers", &self.generator_net.len)
            .field("max_width", &self.max_width())
            .field("calibrated", &self.calibration.is_some())
            .finish()
    }
}

/// Reads a required decimal metadata value in `lo..=hi`.
#[inline(never)]
fn meta_usize(value: Option<&[u8]>, key: &'static str, lo: usize, hi: usize) -> Result<usize, Error> {
    let value = value.ok_or(Error::MissingMetadata(key))?;
    let n = parse_decimal(value).ok_or(Error::BadMetadata(key))?;
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if (lo..=hi).contains(&n) {
        Ok(n)
    } else {
        Err(Error::MetadataOutOfRange(key))
    }
}

/// Reads a layer count: 0 is out of range, more than [`MAX_LAYERS`] is
/// [`Error::TooManyLayers`].
fn meta_layers(value: Option<&[u8]>, key: &'static str, net: Net) -> Result<usize, Error> {
    match meta_usize(value, key, 1, usize::MAX)? {
        n if n > MAX_LAYERS => Err(Error::TooManyLayers { net, found: n }),
        n => Ok(n),
    }
}

/// Whether a tensor has rank `rank` and first dimensions `dims`.
fn has_shape(t: &RawTensor<'_>, rank: usize, dims: [usize; 2]) -> bool {
    t.rank == rank && t.dims.iter().zip(dims).take(rank).all(|(&a, b)| a == b as u64)
}

/// Loads a required F32 vector tensor of `len` elements, all finite.
fn vector<'a>(header: &Header<'a>, name: TensorName, len: usize) -> Result<&'a [u8], Error> {
    f32_tensor(header, name, 1, [len, 0])
}

/// Loads a required F32 `[rows, cols]` tensor, all finite.
fn matrix<'a>(header: &Header<'a>, name: TensorName, rows: usize, cols: usize) -> Result<&'a [u8], Error> {
    f32_tensor(header, name, 2, [rows, cols])
}

/// Loads a required F32 tensor of rank `rank` whose first dimensions are
/// `dims`, all finite: one check for [`vector`] and [`matrix`].
#[inline(never)]
fn f32_tensor<'a>(header: &Header<'a>, name: TensorName, rank: usize, dims: [usize; 2]) -> Result<&'a [u8], Error> {
    let t = header.tensor(name)?.ok_or(Error::MissingTensor(name))?;
    if t.dtype != Dtype::F32 {
        return Err(Error::WrongDtype(name));
    }
    if !has_shape(&t, rank, dims) {
        return Err(Error::ShapeMismatch(name));
    }
    if !t.bytes.chunks_exact(4).map(f32_le).all(f32::is_finite) {
        return Err(Error::NonFiniteParameter(name));
    }
    Ok(t.bytes)
}

/// Loads the optional calibration: both tensors or neither.
fn calibration<'a>(header: &Header<'a>) -> Result<Option<Calibration<'a>>, Error> {
    let (q, th) = (TensorName::CalibrationQuantiles, TensorName::CalibrationThreshold);
    match (header.has(q), header.has(th)) {
        (false, false) => return Ok(None),
        (true, false) => return Err(Error::MissingTensor(th)),
        (false, true) => return Err(Error::MissingTensor(q)),
        (true, true) => {}
    }
    let t = header.tensor(q)?.ok_or(Error::MissingTensor(q))?;
    let k = usize::try_from(t.dims[0]).unwrap_or(usize::MAX);
    if t.rank != 1 || !(2..=MAX_QUANTILES).contains(&k) {
        return Err(Error::ShapeMismatch(q));
    }
    let quantiles = vector(header, q, k)?;
    let mut values = quantiles.chunks_exact(4).map(f32_le);
    let mut previous = values.next().unwrap_or(0.0);
    for v in values {
        if v < previous {
            return Err(Error::InvalidParameter(q));
        }
        previous = v;
    }
    let threshold = vector(header, th, 1)?.first_chunk::<4>().map_or(0.0, |b| f32::from_le_bytes(*b));
    Ok(Some(Calibration { quantiles, threshold }))
}

/// Loads the optional base measure: all three tensors or none (format
/// version 2 only), plus `base.mean` and `base.log_weight` together for a
/// Gaussian mixture of K = 2..=[`MAX_BASE_COMPONENTS`] components (K from
/// `base.log_weight`'s shape; `base.basis` then `[K·D, D]`, `base.inv_var`
/// `[T, K·D]`).
fn base<'a>(header: &Header<'a>, version: u64, dim: usize, steps: usize) -> Result<Option<Base<'a>>, Error> {
    let (mean_name, weight_name) = (TensorName::BaseMean, TensorName::BaseLogWeight);
    if !header.has(TensorName::BaseBasis) {
        let others = [TensorName::BaseInvVar, TensorName::BaseBound, mean_name, weight_name];
        return match others.into_iter().any(|n| header.has(n)) {
            true => Err(Error::MissingTensor(TensorName::BaseBasis)),
            false => Ok(None),
        };
    }
    if version < 2 {
        return Err(Error::UnexpectedTensor(TensorName::BaseBasis));
    }
    let mixture: Option<crate::base::Mixture<'a>> = match (header.has(mean_name), header.has(weight_name)) {
        (false, false) => None,
        (true, false) => return Err(Error::MissingTensor(weight_name)),
        (false, true) => return Err(Error::MissingTensor(mean_name)),
        #[cfg(not(feature = "mixture"))]
        (true, true) => return Err(Error::MixtureNotBuilt),
        #[cfg(feature = "mixture")]
        (true, true) => {
            // K from `base.log_weight` [T, K]: a mixture has 2..=16
            // components (K = 1 is the plain layout, without these tensors).
            let w = header.tensor(weight_name)?.ok_or(Error::MissingTensor(weight_name))?;
            let k = usize::try_from(w.dims[1]).unwrap_or(usize::MAX);
            if w.rank != 2 || !(2..=MAX_BASE_COMPONENTS).contains(&k) {
                return Err(Error::ShapeMismatch(weight_name));
            }
            let log_weight = matrix(header, weight_name, steps, k)?;
            // [T, K, D]: the first two dimensions checked here, the third
            // through the byte length (T · K · third · 4).
            let mean = f32_tensor(header, mean_name, 3, [steps, k])?;
            if mean.len() != steps * k * dim * 4 {
                return Err(Error::ShapeMismatch(mean_name));
            }
            Some(Mixture { mean, log_weight, components: k })
        }
    };
    let k = mixture.map_or(1, |m| m.components);
    let basis = matrix(header, TensorName::BaseBasis, k * dim, dim)?;
    let inv_var = matrix(header, TensorName::BaseInvVar, steps, k * dim)?;
    if inv_var.chunks_exact(4).map(f32_le).any(|w| w < 0.0) {
        return Err(Error::InvalidParameter(TensorName::BaseInvVar));
    }
    let bound = f32_le(vector(header, TensorName::BaseBound, 1)?);
    if bound <= 0.0 {
        return Err(Error::InvalidParameter(TensorName::BaseBound));
    }
    Ok(Some(Base { basis, inv_var, bound, dim, mixture }))
}

/// Loads and chains the layers of `net` into `network`, an empty one (in
/// place, see [`Model::load`]).
fn network<'a>(
    header: &Header<'a>,
    net: Net,
    len: usize,
    in_dim: usize,
    out_dim: usize,
    steps: usize,
    network: &mut Network<'a>,
) -> Result<(), Error> {
    let name = |index: usize, param| TensorName::Layer { net, index: index as u32, param };
    // Layer tensors beyond the declared count (first, so that a wrong
    // count is reported as such rather than as a shape error).
    for index in len..MAX_LAYERS {
        for param in LayerParam::ALL {
            if header.has(name(index, param)) {
                return Err(Error::UnexpectedTensor(name(index, param)));
            }
        }
    }
    let mut width = in_dim;
    for (i, slot) in network.layers.iter_mut().take(len).enumerate() {
        let name = |param| name(i, param);
        let last = i + 1 == len;

        let w_name = name(LayerParam::Weight);
        let w = header.tensor(w_name)?.ok_or(Error::MissingTensor(w_name))?;
        let out = usize::try_from(w.dims[0]).map_err(|_| Error::ShapeMismatch(w_name))?;
        let out_ok = if last { out == out_dim } else { out >= 1 };
        if !out_ok || !has_shape(&w, 2, [out, width]) {
            return Err(Error::ShapeMismatch(w_name));
        }

        // An I8 weight needs its per-row scales (F32 [out], finite); any
        // other weight must not have them.
        let s_name = name(LayerParam::Scale);
        let scale = if w.dtype == Dtype::I8 {
            vector(header, s_name, out)?
        } else if header.has(s_name) {
            return Err(Error::UnexpectedTensor(s_name));
        } else {
            &[]
        };

        let b_name = name(LayerParam::Bias);
        let b = header.tensor(b_name)?.ok_or(Error::MissingTensor(b_name))?;
        if b.dtype != Dtype::F32 {
            return Err(Error::WrongDtype(b_name));
        }
        let bias_per_step = has_shape(&b, 2, [steps, out]);
        if !bias_per_step && !has_shape(&b, 1, [out, 0]) {
            return Err(Error::ShapeMismatch(b_name));
        }

        let p_name = name(LayerParam::Prelu);
        let prelu = match header.tensor(p_name)? {
            None => None,
            Some(_) if last => return Err(Error::UnexpectedTensor(p_name)),
            Some(p) if p.dtype != Dtype::F32 => return Err(Error::WrongDtype(p_name)),
            Some(p) if !has_shape(&p, 1, [1, 0]) => return Err(Error::ShapeMismatch(p_name)),
            Some(p) => Some(f32_le(p.bytes)),
        };

        *slot = Layer {
            weight: w.bytes,
            dtype: w.dtype,
            scale,
            in_dim: width,
            out_dim: out,
            bias: b.bytes,
            bias_per_step,
            prelu,
        };
        network.len = i + 1;
        width = out;
    }
    Ok(())
}

impl<'a> Model<'a> {
    /// Loads a model from the bytes of a model file, without copying.
    ///
    /// Validates the container, the header JSON, the metadata (format,
    /// version, ranges: `data_dim` 1..=1024, `nz` 0..=1024, `steps` 1..=64,
    /// layer counts 1..=[`MAX_LAYERS`]), every tensor's dtype, byte range
    /// and shape, that the layers chain, and that the schedule and
    /// normalisation are finite with `posterior_std >= 0` and
    /// `inv_std != 0`. Weight, bias and PReLU values are not checked: a
    /// non-finite weight shows up as [`Error::NonFiniteOutput`] at call time.
    /// When the file carries a `crc32` (every file `export` writes), the
    /// CRC-32 of the data section must match it, or the load fails with
    /// [`Error::ChecksumMismatch`]; files without one load unchecked.
    /// The bytes need no particular alignment.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Model<'a>, Error> {
        let mut model = Model {
            data_dim: 0,
            nz: 0,
            steps: 0,
            buf_width: 0,
            weight_dtype: WeightDtype::F32,
            coef1: &[],
            coef2: &[],
            posterior_std: &[],
            mean: &[],
            inv_std: &[],
            std: &[],
            energy_net: Network::empty(),
            generator_net: Network::empty(),
            calibration: None,
            score_kind: ScoreKind::Energy,
            draws: 0,
            a_bar: &[],
            sigma_bar: &[],
            base: None,
            json: &[],
        };
        model.load(bytes)?;
        Ok(model)
    }

    /// [`from_bytes`](Model::from_bytes) into an empty model, in place: the
    /// networks are loaded into its own fields (returned by value, they were
    /// copied a dozen times, 328 to 356 bytes each, on the Cortex-M4F).
    fn load(&mut self, bytes: &'a [u8]) -> Result<(), Error> {
        let mut header = Header::new();
        header.parse(bytes)?;
        let meta = header.meta;
        if !header.has_metadata || meta.format != Some(b"ddaebm-model".as_slice()) {
            return Err(Error::NotDdaebmModel);
        }
        let version = meta.format_version.ok_or(Error::MissingMetadata("format_version"))?;
        let version = parse_decimal(version).ok_or(Error::BadMetadata("format_version"))?;
        if !(1..=u64::from(FORMAT_VERSION)).contains(&version) {
            return Err(Error::UnsupportedVersion { found: u32::try_from(version).unwrap_or(u32::MAX) });
        }
        // The checksum first: the structural checks below then see intact
        // bytes, and a corrupt file is reported as such.
        if let Some(value) = meta.crc32 {
            let expected =
                parse_decimal(value).and_then(|n| u32::try_from(n).ok()).ok_or(Error::BadMetadata("crc32"))?;
            let found = crate::crc::crc32(header.data);
            if found != expected {
                return Err(Error::ChecksumMismatch { expected, found });
            }
        }
        let data_dim = meta_usize(meta.data_dim, "data_dim", 1, MAX_DATA_DIM)?;
        let nz = meta_usize(meta.nz, "nz", 0, MAX_NZ)?;
        let steps = meta_usize(meta.steps, "steps", 1, MAX_STEPS)?;
        match meta.weight_dtype {
            None => return Err(Error::MissingMetadata("weight_dtype")),
            Some(b"f32" | b"f16" | b"bf16" | b"int8") => {}
            Some(_) => return Err(Error::BadMetadata("weight_dtype")),
        }
        let energy_layers = meta_layers(meta.energy_layers, "energy_layers", Net::Energy)?;
        let generator_layers = meta_layers(meta.generator_layers, "generator_layers", Net::Generator)?;
        if let Some(name) = header.stray {
            return Err(Error::UnexpectedTensor(name));
        }

        let coef1 = vector(&header, TensorName::Coef1, steps)?;
        let coef2 = vector(&header, TensorName::Coef2, steps)?;
        let posterior_std = vector(&header, TensorName::PosteriorStd, steps)?;
        if posterior_std.chunks_exact(4).map(f32_le).any(|s| s < 0.0) {
            return Err(Error::InvalidParameter(TensorName::PosteriorStd));
        }
        let mean = vector(&header, TensorName::NormMean, data_dim)?;
        let inv_std = vector(&header, TensorName::NormInvStd, data_dim)?;
        if inv_std.chunks_exact(4).map(f32_le).any(|s| s == 0.0) {
            return Err(Error::InvalidParameter(TensorName::NormInvStd));
        }
        let std = vector(&header, TensorName::NormStd, data_dim)?;

        let calibration = calibration(&header)?;
        let (a_bar, sigma_bar) =
            match (header.tensor(TensorName::ABar)?.is_some(), header.tensor(TensorName::SigmaBar)?.is_some()) {
                (false, false) => (&[][..], &[][..]),
                _ => (vector(&header, TensorName::ABar, steps)?, vector(&header, TensorName::SigmaBar, steps)?),
            };
        let (score_kind, draws) = match meta.anomaly_score {
            None | Some(b"energy") => (ScoreKind::Energy, 0),
            #[cfg(not(feature = "reconstruction"))]
            Some(b"reconstruction") => return Err(Error::ReconstructionNotBuilt),
            #[cfg(feature = "reconstruction")]
            Some(b"reconstruction") => {
                if a_bar.is_empty() {
                    return Err(Error::MissingTensor(TensorName::ABar));
                }
                (
                    ScoreKind::Reconstruction,
                    meta_usize(meta.reconstruction_draws, "reconstruction_draws", 1, MAX_DRAWS)?,
                )
            }
            Some(_) => return Err(Error::BadMetadata("anomaly_score")),
        };
        let base = base(&header, version, data_dim, steps)?;
        network(&header, Net::Energy, energy_layers, data_dim, 1, steps, &mut self.energy_net)?;
        network(&header, Net::Generator, generator_layers, data_dim + nz, data_dim, steps, &mut self.generator_net)?;

        let layers = self.energy_net.layers().iter().chain(self.generator_net.layers());
        let buf_width = layers.clone().fold(data_dim + nz, |w, l| w.max(l.out_dim));
        // The common dtype of all weight matrices; F32 when they mix.
        let mut dtypes = layers.map(|l| WeightDtype::of(l.dtype));
        let first = dtypes.next().unwrap_or(WeightDtype::F32);
        let weight_dtype = if dtypes.all(|d| d == first) { first } else { WeightDtype::F32 };
        self.data_dim = data_dim;
        self.nz = nz;
        self.steps = steps;
        self.buf_width = buf_width;
        self.weight_dtype = weight_dtype;
        self.coef1 = coef1;
        self.coef2 = coef2;
        self.posterior_std = posterior_std;
        self.mean = mean;
        self.inv_std = inv_std;
        self.std = std;
        self.calibration = calibration;
        self.score_kind = score_kind;
        self.draws = draws;
        self.a_bar = a_bar;
        self.sigma_bar = sigma_bar;
        self.base = base;
        self.json = header.json;
        Ok(())
    }

    /// Whether the energy has a Gaussian base measure (`base.*` tensors):
    /// then f(x, t) = the network's output bounded to (−B, B) plus the
    /// base's log-density, and exp f is integrable.
    pub fn has_energy_base(&self) -> bool {
        self.base.is_some()
    }

    /// The number of Gaussian components K of the energy's base measure:
    /// 0 without a base, 1 for a single Gaussian (`base.basis` `[D, D]`),
    /// 2..=[`MAX_BASE_COMPONENTS`] for a Gaussian mixture (files with
    /// `base.mean` and `base.log_weight`; docs/model-format.md). The base
    /// costs K · D² multiply-accumulates per energy evaluation (the
    /// projections onto each component's eigenvectors), plus, for a
    /// mixture, K · D subtractions (x − mean_k), K `expf` and one `logf`.
    pub fn base_components(&self) -> usize {
        self.base.map_or(0, |b| b.components())
    }

    /// How a reading is laid out, from the file's input contract
    /// (docs/model-format.md, "Input contract"): `(window, stride, channels)`.
    /// A reading is the last `window` rows of a sensor's `channels` columns
    /// ([`column_name`](Model::column_name)), oldest row first and each row's
    /// columns in order: value `k · channels + c` is column `c` of row `k`,
    /// and `window · channels` = [`data_dim`](Model::data_dim). `window` is 1
    /// for a model trained on single rows. The model was trained on windows
    /// starting every `stride` rows. The triple is in the order
    /// [`WindowShape::new`](crate::WindowShape::new) takes it.
    ///
    /// `None` for files without a contract (format version 1, or written
    /// before it existed) and for a contract that does not add up. Reads the
    /// header again (no allocation; the loader does not check these keys).
    pub fn window(&self) -> Option<(usize, usize, usize)> {
        let get = |key: &[u8]| {
            let value = metadata_value(self.json, key)?;
            usize::try_from(parse_decimal(value)?).ok().filter(|&n| n >= 1)
        };
        let (window, stride, channels) = (get(b"window")?, get(b"window_stride")?, get(b"channels")?);
        (window.checked_mul(channels) == Some(self.data_dim)).then_some((window, stride, channels))
    }

    /// The name of column `i` of a row (`i` < `channels` of
    /// [`window`](Model::window)), borrowed from the file: the training
    /// file's header, or `col0`, `col1`, … for a file without one. A name
    /// that holds `%`, `,`, `"`, `\` or control characters is returned as
    /// stored, with those bytes percent-encoded (`%2C` for a comma).
    /// `None` past the last column, for files without a contract, and for a
    /// name that is not UTF-8.
    pub fn column_name(&self, i: usize) -> Option<&'a str> {
        if i >= self.window()?.2 {
            return None;
        }
        let columns = metadata_value(self.json, b"columns")?;
        let name = columns.split(|&b| b == b',').nth(i)?;
        core::str::from_utf8(name).ok()
    }

    /// The data dimension D.
    pub fn data_dim(&self) -> usize {
        self.data_dim
    }

    /// The generator's latent size `nz` (may be 0).
    pub fn nz(&self) -> usize {
        self.nz
    }

    /// The number of denoising steps T; valid step indices are `0..T`.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The dtype of the weight matrices when they all share one
    /// ([`WeightDtype::F16`], [`WeightDtype::Bf16`] or [`WeightDtype::Int8`]
    /// only if every weight matrix has it), otherwise [`WeightDtype::F32`].
    /// Each tensor's own dtype is used for computing, so mixed files work.
    pub fn weight_dtype(&self) -> WeightDtype {
        self.weight_dtype
    }

    /// The largest layer output width of either network.
    pub fn max_width(&self) -> usize {
        self.energy_net.layers().iter().chain(self.generator_net.layers()).fold(0, |w, l| w.max(l.out_dim))
    }

    /// The number of `f32` the `scratch` argument of every call must hold
    /// (at least): `scratch_len_for(data_dim, nz, max_width)`; see
    /// [`scratch_len_for`] for the layout.
    pub fn scratch_len(&self) -> usize {
        scratch_len_for(self.data_dim, self.nz, self.buf_width)
    }

    /// Converts raw data to model units: `out[i] = (raw[i] − mean[i]) · inv_std[i]`
    /// (f32, in that order).
    pub fn normalise(&self, raw: &[f32], out: &mut [f32]) -> Result<(), Error> {
        self.check_len("raw", raw.len(), self.data_dim)?;
        self.check_len("out", out.len(), self.data_dim)?;
        self.normalise_into(raw, out);
        Ok(())
    }

    /// Converts model units to raw data: `out[i] = x[i] · std[i] + mean[i]`
    /// (f32, in that order).
    pub fn denormalise(&self, x: &[f32], out: &mut [f32]) -> Result<(), Error> {
        self.check_len("x", x.len(), self.data_dim)?;
        self.check_len("out", out.len(), self.data_dim)?;
        let params = self.std.chunks_exact(4).zip(self.mean.chunks_exact(4));
        for ((o, &xi), (s, m)) in out.iter_mut().zip(x).zip(params) {
            *o = xi * f32_le(s) + f32_le(m);
        }
        Ok(())
    }

    /// `out[i] = (raw[i] − mean[i]) · inv_std[i]` over the common length.
    pub(crate) fn normalise_into(&self, raw: &[f32], out: &mut [f32]) {
        let params = self.mean.chunks_exact(4).zip(self.inv_std.chunks_exact(4));
        for ((o, &xi), (m, s)) in out.iter_mut().zip(raw).zip(params) {
            *o = (xi - f32_le(m)) * f32_le(s);
        }
    }

    /// `DimensionMismatch` unless `found == expected`.
    pub(crate) fn check_len(&self, argument: &'static str, found: usize, expected: usize) -> Result<(), Error> {
        if found == expected {
            Ok(())
        } else {
            Err(Error::DimensionMismatch { argument, expected, found })
        }
    }

    /// `StepOutOfRange` unless `t < T`.
    pub(crate) fn check_step(&self, t: usize) -> Result<(), Error> {
        if t < self.steps {
            Ok(())
        } else {
            Err(Error::StepOutOfRange { t, steps: self.steps })
        }
    }

    /// Splits `scratch` as [`scratch_len_for`] lays it out: the two
    /// activation buffers of `buf_width` each, then the rest (at least D
    /// values, for the normalised reading). `ScratchTooSmall` unless it
    /// holds `scratch_len()`.
    #[allow(clippy::type_complexity)]
    pub(crate) fn split_scratch<'s>(
        &self,
        scratch: &'s mut [f32],
    ) -> Result<(&'s mut [f32], &'s mut [f32], &'s mut [f32]), Error> {
        let too_small = Error::ScratchTooSmall { needed: self.scratch_len(), found: scratch.len() };
        if scratch.len() < self.scratch_len() {
            return Err(too_small);
        }
        let (a, rest) = scratch.split_at_mut_checked(self.buf_width).ok_or(too_small)?;
        let (b, reading) = rest.split_at_mut_checked(self.buf_width).ok_or(too_small)?;
        Ok((a, b, reading))
    }
}
