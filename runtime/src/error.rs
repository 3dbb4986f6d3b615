//! The crate's error type.
//!
//! Every fallible function of the runtime returns [`Error`]. Each variant
//! names what is wrong precisely enough to act on, and its
//! [`Display`](core::fmt::Display) message says what to do about it.

use core::fmt;

use crate::format::{Net, TensorName, MAX_LAYERS};

/// Everything that can go wrong when loading a model file or running it.
///
/// Load errors (from [`Model::from_bytes`](crate::Model::from_bytes)) mean the
/// file is not a valid model for this runtime; call errors mean the caller
/// passed slices of the wrong length or an out-of-range step, or that the
/// model produced a non-finite number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The buffer is shorter than the 8-byte header length that starts every
    /// safetensors file.
    TooShort {
        /// Length of the buffer, in bytes.
        len: usize,
    },
    /// The header length stored in the first 8 bytes is larger than the rest
    /// of the buffer (truncated file, or not a safetensors file at all).
    HeaderOutOfBounds {
        /// The header length read from the file.
        header_len: u64,
        /// Bytes actually present after the 8-byte length.
        available: usize,
    },
    /// The header is not well-formed JSON.
    Json {
        /// Byte offset of the problem, counted from the start of the file.
        offset: usize,
    },
    /// The header is JSON, but uses something the runtime's reader does not
    /// accept: a nesting deeper than two objects, a number that is negative,
    /// fractional or larger than `u64`, `true`/`false`/`null`, nested arrays,
    /// or a value of the wrong kind (e.g. a tensor entry that is not an object).
    UnsupportedJson {
        /// Byte offset of the problem, counted from the start of the file.
        offset: usize,
    },
    /// A JSON string contains a backslash escape, which the reader does not
    /// support (names and values in a model file never need one).
    UnsupportedEscape {
        /// Byte offset of the backslash, counted from the start of the file.
        offset: usize,
    },
    /// A key the runtime reads occurs twice in the same JSON object.
    DuplicateKey {
        /// Byte offset of the second occurrence, counted from the start of the file.
        offset: usize,
    },
    /// `__metadata__.format` is missing or is not `ddaebm-model`: this is a
    /// safetensors file, but not a DDAEBM model.
    NotDdaebmModel,
    /// `__metadata__.format_version` is not a version this runtime reads.
    UnsupportedVersion {
        /// The version found in the file (saturated to `u32::MAX`).
        found: u32,
    },
    /// The CRC-32 of the data section (every byte after the header) differs
    /// from the file's `crc32` metadata: the weights are corrupt or the file
    /// is truncated (flash wear, an interrupted copy or update).
    ChecksumMismatch {
        /// The CRC-32 stored in the header.
        expected: u32,
        /// The CRC-32 of the data section as found.
        found: u32,
    },
    /// A required `__metadata__` key is missing.
    MissingMetadata(&'static str),
    /// A `__metadata__` value does not parse (e.g. not a decimal integer).
    BadMetadata(&'static str),
    /// A `__metadata__` value parses but is outside the supported range.
    MetadataOutOfRange(&'static str),
    /// A network has more layers than [`MAX_LAYERS`].
    TooManyLayers {
        /// Which network.
        net: Net,
        /// The layer count declared in the metadata (saturated to `usize::MAX`).
        found: usize,
    },
    /// A tensor the model needs is not in the file.
    MissingTensor(TensorName),
    /// A layer tensor that must not be there: its layer index is not below
    /// the declared layer count, it is a PReLU slope on a network's last
    /// layer, or it is a `scale` of a layer whose weight is not `I8`.
    UnexpectedTensor(TensorName),
    /// A tensor's header entry lacks `dtype`, `shape` or `data_offsets`.
    BadTensorEntry(TensorName),
    /// A tensor's dtype is none of `F32`, `F16`, `BF16` and `I8`.
    UnknownDtype(TensorName),
    /// A tensor has a dtype that is not allowed for it (weights may be `F32`,
    /// `F16`, `BF16` or `I8`; everything else, `scale` included, must be `F32`).
    WrongDtype(TensorName),
    /// A tensor's `data_offsets` is not `[begin, end]` with `begin <= end`.
    InvalidOffsets(TensorName),
    /// A tensor's byte range extends past the end of the data buffer.
    TensorOutOfBounds(TensorName),
    /// A tensor's byte length differs from `product(shape) × dtype size`
    /// (or that product overflows).
    TensorSizeMismatch(TensorName),
    /// A tensor's shape is not what the format requires: wrong rank, a zero
    /// width, or a layer whose input does not match the previous layer's output.
    ShapeMismatch(TensorName),
    /// A schedule, normalisation or `scale` tensor contains NaN or an infinity.
    NonFiniteParameter(TensorName),
    /// A schedule or normalisation tensor holds a value that is finite but
    /// invalid: a negative `schedule.posterior_std`, a zero `norm.inv_std` or
    /// decreasing `calibration.quantiles`.
    InvalidParameter(TensorName),
    /// A slice passed to a model call has the wrong length.
    DimensionMismatch {
        /// The name of the argument.
        argument: &'static str,
        /// The length the model requires.
        expected: usize,
        /// The length that was passed.
        found: usize,
    },
    /// A step index is not below the model's number of steps.
    StepOutOfRange {
        /// The step index that was passed.
        t: usize,
        /// The model's number of steps, T.
        steps: usize,
    },
    /// The scratch buffer is shorter than [`Model::scratch_len`](crate::Model::scratch_len).
    ScratchTooSmall {
        /// The number of `f32` needed.
        needed: usize,
        /// The number of `f32` passed.
        found: usize,
    },
    /// The result contains NaN or an infinity.
    NonFiniteOutput,
    /// A calibrated decision ([`Model::is_anomaly`](crate::Model::is_anomaly),
    /// [`Model::tail_probability`](crate::Model::tail_probability)) was asked
    /// of a model file without calibration.
    NotCalibrated,
    /// The model file scores by reconstruction (`export --score
    /// reconstruction`), which this build of the runtime leaves out (the
    /// `reconstruction` cargo feature is off).
    ReconstructionNotBuilt,
    /// The model file's energy base is a mixture of Gaussians
    /// (`base.log_weight`), which this build of the runtime leaves out (the
    /// `mixture` cargo feature is off).
    MixtureNotBuilt,
    /// A [`WindowShape`](crate::WindowShape) with a window length, stride
    /// or channel count of 0.
    InvalidWindowShape {
        /// Samples per window.
        window: usize,
        /// Samples between scored windows.
        stride: usize,
        /// Values per sample.
        channels: usize,
    },
    /// A window of `window` samples × `channels` values is not what the
    /// model reads (its data dimension).
    WindowMismatch {
        /// Samples per window.
        window: usize,
        /// Values per sample.
        channels: usize,
        /// The model's data dimension D.
        data_dim: usize,
    },
    /// A window (`window · channels` values) does not fit the
    /// [`WindowScorer`](crate::WindowScorer)'s capacity.
    WindowTooLarge {
        /// Values per window.
        values: usize,
        /// The scorer's capacity in values.
        capacity: usize,
    },
    /// A window was asked for before `window` samples were pushed.
    WindowNotFull {
        /// Samples pushed so far (saturated to `usize::MAX`).
        samples: usize,
        /// Samples per window.
        window: usize,
    },
    /// The model file declares no window (no input contract), so the window
    /// shape must be given explicitly.
    NoWindowContract,
    /// A field-calibration level outside (0, 1) (or NaN).
    InvalidCalibrationLevel,
    /// A field calibration over a number of windows the estimator cannot
    /// take at this level.
    FieldCalibrationWindows {
        /// The number of windows asked for.
        windows: u32,
        /// The smallest number it takes.
        minimum: u32,
        /// The largest number it takes at this level.
        maximum: u32,
    },
    /// A threshold was asked for while the field calibration is still
    /// learning and the model file carries no calibrated threshold.
    FieldCalibrationIncomplete {
        /// Normal windows seen so far.
        seen: u32,
        /// Windows the calibration learns from.
        needed: u32,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const REEXPORT: &str = "re-export the model with the `export` tool of this release";
        match *self {
            Error::TooShort { len } => write!(
                f,
                "model buffer is {len} bytes, shorter than the 8-byte safetensors header length; \
                 check that the whole model file was stored and passed"
            ),
            Error::HeaderOutOfBounds { header_len, available } => write!(
                f,
                "safetensors header length {header_len} exceeds the {available} bytes that follow it; \
                 the file is truncated or not a safetensors file: store the complete model file"
            ),
            Error::Json { offset } => {
                write!(f, "malformed JSON in the model header at byte {offset}; the file is corrupt: {REEXPORT}")
            }
            Error::UnsupportedJson { offset } => write!(
                f,
                "JSON at byte {offset} is outside what the runtime reads (objects at most two deep, \
                 strings, arrays of non-negative integers; see docs/model-format.md): {REEXPORT}"
            ),
            Error::UnsupportedEscape { offset } => write!(
                f,
                "backslash escape in a JSON string at byte {offset}; tensor names and metadata \
                 must not need escapes: {REEXPORT}"
            ),
            Error::DuplicateKey { offset } => {
                write!(f, "duplicate JSON key at byte {offset} of the model header: {REEXPORT}")
            }
            Error::NotDdaebmModel => write!(
                f,
                "not a DDAEBM model (`__metadata__.format` is missing or not `ddaebm-model`); \
                 produce the file with the `export` tool"
            ),
            Error::UnsupportedVersion { found } => write!(
                f,
                "model format version {found} is not supported (this runtime reads versions 1 to {}): {REEXPORT}",
                crate::FORMAT_VERSION
            ),
            Error::ChecksumMismatch { expected, found } => write!(
                f,
                "model file checksum mismatch: the header's CRC-32 is {expected:#010x} but the data section's is \
                 {found:#010x}, so the file is corrupt or truncated (flash wear, an interrupted copy or update); \
                 re-flash the model file, or re-export it with `export`"
            ),
            Error::MissingMetadata(key) => {
                write!(f, "required metadata key `{key}` is missing: {REEXPORT}")
            }
            Error::BadMetadata(key) => {
                write!(f, "metadata `{key}` has a malformed value (see docs/model-format.md): {REEXPORT}")
            }
            Error::MetadataOutOfRange(key) => write!(
                f,
                "metadata `{key}` is outside the range this runtime supports \
                 (see docs/model-format.md); retrain or re-export within the limits"
            ),
            Error::TooManyLayers { net, found } => write!(
                f,
                "the {net} network has {found} layers but this runtime supports at most \
                 {MAX_LAYERS}; train a shallower network"
            ),
            Error::MissingTensor(name) => {
                write!(f, "tensor `{name}` is missing from the model file: {REEXPORT}")
            }
            Error::UnexpectedTensor(name) => write!(
                f,
                "tensor `{name}` does not belong in this model (layer index beyond the declared \
                 layer count, a PReLU on the last layer, or a scale without an I8 weight): {REEXPORT}"
            ),
            Error::BadTensorEntry(name) => {
                write!(f, "header entry of tensor `{name}` lacks `dtype`, `shape` or `data_offsets`: {REEXPORT}")
            }
            Error::UnknownDtype(name) => write!(
                f,
                "tensor `{name}` has a dtype other than F32, F16, BF16 or I8; re-export with \
                 `weight_dtype` f32, f16, bf16 or int8"
            ),
            Error::WrongDtype(name) => write!(
                f,
                "tensor `{name}` has a dtype not allowed for it (weights F32, F16, BF16 or I8, \
                 everything else F32): {REEXPORT}"
            ),
            Error::InvalidOffsets(name) => write!(
                f,
                "`data_offsets` of tensor `{name}` is not [begin, end] with begin <= end; \
                 the file is corrupt: {REEXPORT}"
            ),
            Error::TensorOutOfBounds(name) => write!(
                f,
                "tensor `{name}` extends past the end of the file; the file is truncated: \
                 store the complete model file"
            ),
            Error::TensorSizeMismatch(name) => {
                write!(f, "byte length of tensor `{name}` differs from its shape times its dtype size: {REEXPORT}")
            }
            Error::ShapeMismatch(name) => write!(
                f,
                "tensor `{name}` has a shape that does not fit the model (see the shape rules in \
                 docs/model-format.md): {REEXPORT}"
            ),
            Error::NonFiniteParameter(name) => {
                write!(f, "tensor `{name}` contains NaN or infinity; check the training run and re-export")
            }
            Error::InvalidParameter(name) => write!(
                f,
                "tensor `{name}` holds an invalid value (negative posterior_std, zero inv_std or \
                 decreasing calibration quantiles); check the schedule / data statistics and re-export"
            ),
            Error::DimensionMismatch { argument, expected, found } => write!(
                f,
                "argument `{argument}` has length {found} but the model needs {expected}; \
                 size it from Model::data_dim() / Model::nz()"
            ),
            Error::StepOutOfRange { t, steps } => {
                write!(f, "step index {t} is out of range: the model has {steps} steps, pass t < {steps}")
            }
            Error::ScratchTooSmall { needed, found } => write!(
                f,
                "scratch buffer holds {found} f32 but {needed} are needed; size it with \
                 Model::scratch_len() or scratch_len_for()"
            ),
            Error::NonFiniteOutput => write!(
                f,
                "the result is NaN or infinite: check the input for NaN/inf or huge values, \
                 and the model weights (retrain or re-export)"
            ),
            Error::NotCalibrated => write!(
                f,
                "the model file holds no anomaly calibration: export it with \
                 `export CHECKPOINT --calibrate HELDOUT_NORMAL.csv`, or use anomaly_score()"
            ),
            Error::ReconstructionNotBuilt => write!(
                f,
                "the model file scores by reconstruction, which this runtime build leaves out: enable \
                 the runtime's `reconstruction` cargo feature (on by default), or re-export the model \
                 with `export CHECKPOINT --score energy`"
            ),
            Error::MixtureNotBuilt => write!(
                f,
                "the model file's energy base is a mixture of Gaussians, which this runtime build leaves \
                 out: enable the runtime's `mixture` cargo feature (on by default), or train with \
                 `trainer fit --base-components 1` and export again"
            ),
            Error::InvalidWindowShape { window, stride, channels } => write!(
                f,
                "window shape of {window} samples, stride {stride}, {channels} channels: each must be at \
                 least 1; pass the `--window` the model was trained with, a stride of 1 or more and the \
                 training series' column count"
            ),
            Error::WindowMismatch { window, channels, data_dim } => write!(
                f,
                "a window of {window} samples x {channels} channels is {} values but the model reads \
                 {data_dim}; pass the `trainer fit --window` the model was trained with and the training \
                 series' column count (window x channels = data_dim)",
                window.saturating_mul(channels)
            ),
            Error::WindowTooLarge { values, capacity } => write!(
                f,
                "a window of {values} values does not fit the window scorer's capacity of {capacity}; \
                 declare the scorer with a capacity of at least {values} (WindowScorer::<{values}>)"
            ),
            Error::WindowNotFull { samples, window } => write!(
                f,
                "only {samples} of the window's {window} samples are in; push {} more before scoring \
                 (push() returns true when a window is due)",
                window.saturating_sub(samples)
            ),
            Error::NoWindowContract => write!(
                f,
                "the model file declares no window (no `window` / `window_stride` / `channels` metadata): \
                 pass the window shape explicitly (WindowShape::new), or re-export the model with the \
                 `export` tool of this release"
            ),
            Error::InvalidCalibrationLevel => write!(
                f,
                "field-calibration level must be strictly between 0 and 1 (e.g. 0.99: about 1 % of \
                 normal windows are flagged)"
            ),
            Error::FieldCalibrationWindows { windows, minimum, maximum } => write!(
                f,
                "field calibration over {windows} windows is not possible at this level: give between \
                 {minimum} and {maximum} windows, or a level closer to 1"
            ),
            Error::FieldCalibrationIncomplete { seen, needed } => write!(
                f,
                "field calibration has seen {seen} of its {needed} normal windows and the model file has \
                 no calibrated threshold; feed {} more windows, or export the model with \
                 `--calibrate HELDOUT_NORMAL.csv` for a default threshold",
                needed.saturating_sub(seen)
            ),
        }
    }
}

/// The runtime's errors are standard errors (`?` into `anyhow`, `Box<dyn
/// Error>`, …); their messages come from [`Display`](fmt::Display), which
/// allocates nothing.
impl core::error::Error for Error {}
