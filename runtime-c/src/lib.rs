//! C API of the DDAEBM runtime (`ddaebm-runtime`): a static library
//! (`libddaebm_runtime_c.a`) and the header `include/ddaebm.h`, generated
//! from this file by cbindgen (`tests/header.rs` fails when the committed
//! header is stale; `DDAEBM_BLESS=1` rewrites it).
//!
//! Conventions, for every function:
//!
//! * the return value is a [`ddaebm_status_t`]: `DDAEBM_OK` (0) or an
//!   error code; [`ddaebm_status_message`] turns a code into a static,
//!   NUL-terminated sentence that says what to do. Results come back through
//!   out-pointers, written only on success;
//! * nothing allocates: the caller provides the storage of every object
//!   (`ddaebm_model_t`, `ddaebm_window_t`, `ddaebm_field_t`, `ddaebm_rng_t`,
//!   structs of a fixed size declared in the header, usually `static`) and
//!   the `scratch` buffer of `float` the model needs
//!   (`ddaebm_model_info_t.scratch_len`, or `DDAEBM_SCRATCH_LEN_FOR` at
//!   compile time);
//! * nothing panics across the boundary: bad arguments (NULL, misaligned or
//!   overlapping buffers, lengths, objects that were not initialised) are
//!   error codes. The runtime itself has no reachable panic; should one
//!   happen anyway, an `extern "C"` function aborts rather than unwind into
//!   C (Rust >= 1.81), and on bare metal the library's panic handler stops
//!   the core (`udf`: a HardFault);
//! * a loaded model borrows the model bytes: they must stay in place and
//!   unchanged while the model is used (a `const` array in flash does);
//! * the functions are reentrant; an object must not be used by two
//!   threads / interrupt handlers at once.

#![no_std]
#![allow(non_camel_case_types)]
#![deny(missing_docs)]
#![deny(clippy::panic, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

// On a hosted target std provides the panic machinery the staticlib needs
// (an unwinding panic cannot leave an `extern "C"` function: it aborts).
#[cfg(not(target_os = "none"))]
extern crate std;

#[cfg(all(target_os = "none", feature = "panic-handler"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        // A permanently undefined instruction: a HardFault the firmware's
        // fault handler reports.
        #[cfg(target_arch = "arm")]
        // SAFETY: `udf` only raises the UsageFault / HardFault exception.
        unsafe {
            core::arch::asm!("udf #0")
        };
    }
}

use core::ffi::c_char;
use core::mem::{align_of, size_of};
use core::ptr;

use ddaebm_runtime::{
    scratch_len_for, Error, FieldCalibration, Model, Rng, ScoreKind, WeightDtype, WindowScorer, WindowShape,
};

// ---------------------------------------------------------------------------
// Status codes

/// The status every function returns: `DDAEBM_OK` (0) or an error code.
/// Codes are stable: new ones are only ever added at the end.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ddaebm_status_t {
    /// Success.
    DDAEBM_OK = 0,
    /// A pointer argument that must not be NULL is NULL (a buffer may be
    /// NULL only with length 0).
    DDAEBM_ERR_NULL_POINTER = 1,
    /// A pointer argument is not aligned for its type (`float` buffers: 4
    /// bytes; `ddaebm_*_t` objects: 8 bytes).
    DDAEBM_ERR_MISALIGNED = 2,
    /// A buffer length is larger than the address space allows.
    DDAEBM_ERR_BAD_LENGTH = 3,
    /// Two buffer or object arguments of one call overlap in memory.
    DDAEBM_ERR_OVERLAP = 4,
    /// The object does not hold what the call needs: a `ddaebm_model_t`
    /// that no successful `ddaebm_model_load` filled, a `ddaebm_window_t`,
    /// `ddaebm_field_t` or `ddaebm_rng_t` not initialised by its `_init`
    /// function (or whose initialisation failed).
    DDAEBM_ERR_NOT_INITIALISED = 5,
    /// The buffer is shorter than the 8-byte safetensors header length.
    DDAEBM_ERR_TOO_SHORT = 6,
    /// The header length is larger than the rest of the buffer.
    DDAEBM_ERR_HEADER_OUT_OF_BOUNDS = 7,
    /// The header is not well-formed JSON.
    DDAEBM_ERR_JSON = 8,
    /// The header is JSON the runtime's reader does not accept.
    DDAEBM_ERR_UNSUPPORTED_JSON = 9,
    /// A JSON string in the header holds a backslash escape.
    DDAEBM_ERR_UNSUPPORTED_ESCAPE = 10,
    /// A key the runtime reads occurs twice in one JSON object.
    DDAEBM_ERR_DUPLICATE_KEY = 11,
    /// Not a DDAEBM model file (`format` is not `ddaebm-model`).
    DDAEBM_ERR_NOT_DDAEBM_MODEL = 12,
    /// The file's format version is not one this runtime reads.
    DDAEBM_ERR_UNSUPPORTED_VERSION = 13,
    /// The CRC-32 of the file's data section differs from its `crc32`.
    DDAEBM_ERR_CHECKSUM_MISMATCH = 14,
    /// A required metadata key is missing.
    DDAEBM_ERR_MISSING_METADATA = 15,
    /// A metadata value does not parse.
    DDAEBM_ERR_BAD_METADATA = 16,
    /// A metadata value is outside the supported range.
    DDAEBM_ERR_METADATA_OUT_OF_RANGE = 17,
    /// A network has more layers than the runtime supports.
    DDAEBM_ERR_TOO_MANY_LAYERS = 18,
    /// A tensor the model needs is missing.
    DDAEBM_ERR_MISSING_TENSOR = 19,
    /// A tensor that must not be there (beyond the layer count, ...).
    DDAEBM_ERR_UNEXPECTED_TENSOR = 20,
    /// A tensor's header entry lacks `dtype`, `shape` or `data_offsets`.
    DDAEBM_ERR_BAD_TENSOR_ENTRY = 21,
    /// A tensor's dtype is none of F32, F16, BF16, I8.
    DDAEBM_ERR_UNKNOWN_DTYPE = 22,
    /// A tensor's dtype is not allowed for it.
    DDAEBM_ERR_WRONG_DTYPE = 23,
    /// A tensor's `data_offsets` is not `[begin, end]` with begin <= end.
    DDAEBM_ERR_INVALID_OFFSETS = 24,
    /// A tensor extends past the end of the file.
    DDAEBM_ERR_TENSOR_OUT_OF_BOUNDS = 25,
    /// A tensor's byte length differs from its shape times its dtype size.
    DDAEBM_ERR_TENSOR_SIZE_MISMATCH = 26,
    /// A tensor's shape does not fit the model.
    DDAEBM_ERR_SHAPE_MISMATCH = 27,
    /// A schedule, normalisation or scale tensor holds NaN or infinity.
    DDAEBM_ERR_NON_FINITE_PARAMETER = 28,
    /// A schedule or normalisation tensor holds an invalid finite value.
    DDAEBM_ERR_INVALID_PARAMETER = 29,
    /// A buffer argument has the wrong length (`x`, `out`, `sample`).
    DDAEBM_ERR_DIMENSION_MISMATCH = 30,
    /// A step index is not below the model's number of steps.
    DDAEBM_ERR_STEP_OUT_OF_RANGE = 31,
    /// The scratch buffer is shorter than the model needs.
    DDAEBM_ERR_SCRATCH_TOO_SMALL = 32,
    /// The result is NaN or infinite (or a score passed in is NaN).
    DDAEBM_ERR_NON_FINITE_OUTPUT = 33,
    /// A calibrated decision was asked of a model file without calibration.
    DDAEBM_ERR_NOT_CALIBRATED = 34,
    /// A window length, stride or channel count of 0.
    DDAEBM_ERR_INVALID_WINDOW_SHAPE = 35,
    /// Window length x channels is not the model's data dimension.
    DDAEBM_ERR_WINDOW_MISMATCH = 36,
    /// A window does not fit `DDAEBM_WINDOW_CAPACITY` values.
    DDAEBM_ERR_WINDOW_TOO_LARGE = 37,
    /// A window was scored before its length of samples was pushed.
    DDAEBM_ERR_WINDOW_NOT_FULL = 38,
    /// The model file declares no window shape (no input contract).
    DDAEBM_ERR_NO_WINDOW_CONTRACT = 39,
    /// A field-calibration level outside (0, 1).
    DDAEBM_ERR_INVALID_CALIBRATION_LEVEL = 40,
    /// A field calibration over a number of windows it cannot take.
    DDAEBM_ERR_FIELD_CALIBRATION_WINDOWS = 41,
    /// The field calibration is still learning and the file has no threshold.
    DDAEBM_ERR_FIELD_CALIBRATION_INCOMPLETE = 42,
}

/// One more than the largest status code: codes are `0 .. DDAEBM_STATUS_COUNT`.
pub const DDAEBM_STATUS_COUNT: i32 = 43;

use ddaebm_status_t::*;

/// The C status of a runtime error. Exhaustive on purpose: a new runtime
/// error does not compile here until it has a code (added at the end).
fn status_of(e: Error) -> ddaebm_status_t {
    match e {
        Error::TooShort { .. } => DDAEBM_ERR_TOO_SHORT,
        Error::HeaderOutOfBounds { .. } => DDAEBM_ERR_HEADER_OUT_OF_BOUNDS,
        Error::Json { .. } => DDAEBM_ERR_JSON,
        Error::UnsupportedJson { .. } => DDAEBM_ERR_UNSUPPORTED_JSON,
        Error::UnsupportedEscape { .. } => DDAEBM_ERR_UNSUPPORTED_ESCAPE,
        Error::DuplicateKey { .. } => DDAEBM_ERR_DUPLICATE_KEY,
        Error::NotDdaebmModel => DDAEBM_ERR_NOT_DDAEBM_MODEL,
        Error::UnsupportedVersion { .. } => DDAEBM_ERR_UNSUPPORTED_VERSION,
        Error::ChecksumMismatch { .. } => DDAEBM_ERR_CHECKSUM_MISMATCH,
        Error::MissingMetadata(_) => DDAEBM_ERR_MISSING_METADATA,
        Error::BadMetadata(_) => DDAEBM_ERR_BAD_METADATA,
        Error::MetadataOutOfRange(_) => DDAEBM_ERR_METADATA_OUT_OF_RANGE,
        Error::TooManyLayers { .. } => DDAEBM_ERR_TOO_MANY_LAYERS,
        Error::MissingTensor(_) => DDAEBM_ERR_MISSING_TENSOR,
        Error::UnexpectedTensor(_) => DDAEBM_ERR_UNEXPECTED_TENSOR,
        Error::BadTensorEntry(_) => DDAEBM_ERR_BAD_TENSOR_ENTRY,
        Error::UnknownDtype(_) => DDAEBM_ERR_UNKNOWN_DTYPE,
        Error::WrongDtype(_) => DDAEBM_ERR_WRONG_DTYPE,
        Error::InvalidOffsets(_) => DDAEBM_ERR_INVALID_OFFSETS,
        Error::TensorOutOfBounds(_) => DDAEBM_ERR_TENSOR_OUT_OF_BOUNDS,
        Error::TensorSizeMismatch(_) => DDAEBM_ERR_TENSOR_SIZE_MISMATCH,
        Error::ShapeMismatch(_) => DDAEBM_ERR_SHAPE_MISMATCH,
        Error::NonFiniteParameter(_) => DDAEBM_ERR_NON_FINITE_PARAMETER,
        Error::InvalidParameter(_) => DDAEBM_ERR_INVALID_PARAMETER,
        Error::DimensionMismatch { .. } => DDAEBM_ERR_DIMENSION_MISMATCH,
        Error::StepOutOfRange { .. } => DDAEBM_ERR_STEP_OUT_OF_RANGE,
        Error::ScratchTooSmall { .. } => DDAEBM_ERR_SCRATCH_TOO_SMALL,
        Error::NonFiniteOutput => DDAEBM_ERR_NON_FINITE_OUTPUT,
        Error::NotCalibrated => DDAEBM_ERR_NOT_CALIBRATED,
        // This crate builds the runtime with its `reconstruction` feature on,
        // so no call returns this; a file it would apply to is "bad metadata".
        Error::ReconstructionNotBuilt => DDAEBM_ERR_BAD_METADATA,
        // Likewise with its `mixture` feature.
        Error::MixtureNotBuilt => DDAEBM_ERR_BAD_METADATA,
        Error::InvalidWindowShape { .. } => DDAEBM_ERR_INVALID_WINDOW_SHAPE,
        Error::WindowMismatch { .. } => DDAEBM_ERR_WINDOW_MISMATCH,
        Error::WindowTooLarge { .. } => DDAEBM_ERR_WINDOW_TOO_LARGE,
        Error::WindowNotFull { .. } => DDAEBM_ERR_WINDOW_NOT_FULL,
        Error::NoWindowContract => DDAEBM_ERR_NO_WINDOW_CONTRACT,
        Error::InvalidCalibrationLevel => DDAEBM_ERR_INVALID_CALIBRATION_LEVEL,
        Error::FieldCalibrationWindows { .. } => DDAEBM_ERR_FIELD_CALIBRATION_WINDOWS,
        Error::FieldCalibrationIncomplete { .. } => DDAEBM_ERR_FIELD_CALIBRATION_INCOMPLETE,
    }
}

impl From<Error> for ddaebm_status_t {
    fn from(e: Error) -> Self {
        status_of(e)
    }
}

/// `(name, message)` of each status code, indexed by code.
static STATUS_TEXT: [(&core::ffi::CStr, &core::ffi::CStr); DDAEBM_STATUS_COUNT as usize] = [
    (c"DDAEBM_OK", c"success"),
    (c"DDAEBM_ERR_NULL_POINTER", c"a pointer argument is NULL; pass a valid pointer (a buffer may be NULL only with length 0)"),
    (c"DDAEBM_ERR_MISALIGNED", c"a pointer argument is misaligned; float buffers need 4-byte, ddaebm_*_t objects 8-byte alignment (declare them with their own types)"),
    (c"DDAEBM_ERR_BAD_LENGTH", c"a buffer length is larger than the address space; pass the number of elements, not bytes"),
    (c"DDAEBM_ERR_OVERLAP", c"two buffer or object arguments overlap in memory; give the scratch buffer, the input, the output and each object their own memory"),
    (c"DDAEBM_ERR_NOT_INITIALISED", c"the object was not initialised: load the model with ddaebm_model_load (and check its status), initialise windows, field calibrations and generators with their _init function"),
    (c"DDAEBM_ERR_TOO_SHORT", c"the model buffer is shorter than the 8-byte safetensors header length; check that the whole model file was stored and passed"),
    (c"DDAEBM_ERR_HEADER_OUT_OF_BOUNDS", c"the safetensors header length exceeds the bytes that follow it; the file is truncated or not a safetensors file: store the complete model file"),
    (c"DDAEBM_ERR_JSON", c"malformed JSON in the model header; the file is corrupt: re-export the model with the export tool of this release"),
    (c"DDAEBM_ERR_UNSUPPORTED_JSON", c"the model header uses JSON the runtime does not read (see docs/model-format.md): re-export the model with the export tool of this release"),
    (c"DDAEBM_ERR_UNSUPPORTED_ESCAPE", c"a backslash escape in a JSON string of the model header; re-export the model with the export tool of this release"),
    (c"DDAEBM_ERR_DUPLICATE_KEY", c"a duplicate JSON key in the model header: re-export the model with the export tool of this release"),
    (c"DDAEBM_ERR_NOT_DDAEBM_MODEL", c"not a DDAEBM model (metadata format is missing or not ddaebm-model); produce the file with the export tool"),
    (c"DDAEBM_ERR_UNSUPPORTED_VERSION", c"the model format version is not supported by this runtime: re-export the model with the export tool of this release"),
    (c"DDAEBM_ERR_CHECKSUM_MISMATCH", c"the model file's CRC-32 does not match its data: the file is corrupt or truncated (flash wear, an interrupted copy or update); re-flash the model file, or re-export it"),
    (c"DDAEBM_ERR_MISSING_METADATA", c"a required metadata key is missing from the model file: re-export the model with the export tool of this release"),
    (c"DDAEBM_ERR_BAD_METADATA", c"a metadata value of the model file is malformed (see docs/model-format.md): re-export the model with the export tool of this release"),
    (c"DDAEBM_ERR_METADATA_OUT_OF_RANGE", c"a metadata value of the model file is outside the range this runtime supports (see docs/model-format.md); retrain or re-export within the limits"),
    (c"DDAEBM_ERR_TOO_MANY_LAYERS", c"a network of the model has more layers than this runtime supports; train a shallower network"),
    (c"DDAEBM_ERR_MISSING_TENSOR", c"a tensor is missing from the model file: re-export the model with the export tool of this release"),
    (c"DDAEBM_ERR_UNEXPECTED_TENSOR", c"a tensor does not belong in this model (layer index beyond the layer count, a PReLU on the last layer, or a scale without an I8 weight): re-export the model"),
    (c"DDAEBM_ERR_BAD_TENSOR_ENTRY", c"a tensor's header entry lacks dtype, shape or data_offsets: re-export the model with the export tool of this release"),
    (c"DDAEBM_ERR_UNKNOWN_DTYPE", c"a tensor has a dtype other than F32, F16, BF16 or I8; re-export with weight_dtype f32, f16, bf16 or int8"),
    (c"DDAEBM_ERR_WRONG_DTYPE", c"a tensor has a dtype not allowed for it (weights F32, F16, BF16 or I8, everything else F32): re-export the model"),
    (c"DDAEBM_ERR_INVALID_OFFSETS", c"a tensor's data_offsets is not [begin, end] with begin <= end; the file is corrupt: re-export the model"),
    (c"DDAEBM_ERR_TENSOR_OUT_OF_BOUNDS", c"a tensor extends past the end of the file; the file is truncated: store the complete model file"),
    (c"DDAEBM_ERR_TENSOR_SIZE_MISMATCH", c"a tensor's byte length differs from its shape times its dtype size: re-export the model"),
    (c"DDAEBM_ERR_SHAPE_MISMATCH", c"a tensor's shape does not fit the model (see docs/model-format.md): re-export the model"),
    (c"DDAEBM_ERR_NON_FINITE_PARAMETER", c"a schedule, normalisation or scale tensor holds NaN or infinity; check the training run and re-export"),
    (c"DDAEBM_ERR_INVALID_PARAMETER", c"a schedule or normalisation tensor holds an invalid value (negative posterior_std, zero inv_std, decreasing calibration quantiles); re-export"),
    (c"DDAEBM_ERR_DIMENSION_MISMATCH", c"a buffer has the wrong length: x and out need data_dim values, a window sample channels values (see ddaebm_model_info)"),
    (c"DDAEBM_ERR_STEP_OUT_OF_RANGE", c"the step index is out of range: pass t < steps (see ddaebm_model_info)"),
    (c"DDAEBM_ERR_SCRATCH_TOO_SMALL", c"the scratch buffer is too small; size it with ddaebm_model_info().scratch_len or DDAEBM_SCRATCH_LEN_FOR"),
    (c"DDAEBM_ERR_NON_FINITE_OUTPUT", c"the result is NaN or infinite: check the input for NaN/inf or huge values, and the model weights (retrain or re-export)"),
    (c"DDAEBM_ERR_NOT_CALIBRATED", c"the model file holds no anomaly calibration: export it with --calibrate HELDOUT_NORMAL.csv, learn a threshold with ddaebm_field_*, or use ddaebm_anomaly_score"),
    (c"DDAEBM_ERR_INVALID_WINDOW_SHAPE", c"window length, stride and channel count must each be at least 1; pass the --window the model was trained with and the training series' column count"),
    (c"DDAEBM_ERR_WINDOW_MISMATCH", c"window length x channels is not the model's data_dim; pass the trainer fit --window the model was trained with and the training series' column count"),
    (c"DDAEBM_ERR_WINDOW_TOO_LARGE", c"the window (length x channels values) exceeds DDAEBM_WINDOW_CAPACITY; train with a shorter window or fewer channels"),
    (c"DDAEBM_ERR_WINDOW_NOT_FULL", c"fewer samples than the window length are in; push more samples before scoring (ddaebm_window_push reports when a window is due)"),
    (c"DDAEBM_ERR_NO_WINDOW_CONTRACT", c"the model file declares no window shape: use ddaebm_window_init with the window, stride and channels, or re-export the model with the export tool of this release"),
    (c"DDAEBM_ERR_INVALID_CALIBRATION_LEVEL", c"the field-calibration level must be strictly between 0 and 1 (e.g. 0.99: about 1 % of normal windows are flagged)"),
    (c"DDAEBM_ERR_FIELD_CALIBRATION_WINDOWS", c"the field calibration needs at least 1 window; pass the number of normal windows to learn from (e.g. 1000)"),
    (c"DDAEBM_ERR_FIELD_CALIBRATION_INCOMPLETE", c"the field calibration is still learning and the model file has no calibrated threshold; feed more normal windows (ddaebm_field_observe), or export the model with --calibrate"),
];

/// A static, NUL-terminated sentence describing `status` and what to do
/// about it ("unknown status code" for a value that is not a status).
/// Never NULL; the string must not be freed or modified.
#[no_mangle]
pub extern "C" fn ddaebm_status_message(status: i32) -> *const c_char {
    usize::try_from(status)
        .ok()
        .and_then(|i| STATUS_TEXT.get(i))
        .map_or(c"unknown status code".as_ptr(), |(_, message)| message.as_ptr())
}

/// The name of `status` as a static, NUL-terminated string, e.g.
/// `"DDAEBM_ERR_TOO_SHORT"` (`"DDAEBM_UNKNOWN"` for a value that is not a
/// status). Never NULL; the string must not be freed or modified.
#[no_mangle]
pub extern "C" fn ddaebm_status_name(status: i32) -> *const c_char {
    usize::try_from(status)
        .ok()
        .and_then(|i| STATUS_TEXT.get(i))
        .map_or(c"DDAEBM_UNKNOWN".as_ptr(), |(name, _)| name.as_ptr())
}

// ---------------------------------------------------------------------------
// Object storage

/// Size of `ddaebm_model_t`, in 8-byte words, on 32-bit targets (a model
/// holds pointers into the file).
#[cfg(target_pointer_width = "32")]
pub const DDAEBM_MODEL_WORDS: usize = 128;
/// Size of `ddaebm_model_t`, in 8-byte words, on 64-bit targets.
#[cfg(not(target_pointer_width = "32"))]
pub const DDAEBM_MODEL_WORDS: usize = 256;
/// Size of `ddaebm_window_t`, in 8-byte words.
pub const DDAEBM_WINDOW_WORDS: usize = 272;
/// Size of `ddaebm_field_t`, in 8-byte words.
pub const DDAEBM_FIELD_WORDS: usize = 48;
/// Size of `ddaebm_rng_t`, in 8-byte words.
pub const DDAEBM_RNG_WORDS: usize = 4;
/// The largest window a `ddaebm_window_t` holds, in values (window length x
/// channels), e.g. 64 samples of 4 channels.
pub const DDAEBM_WINDOW_CAPACITY: usize = 256;

/// Storage for a loaded model (`ddaebm_model_load`). Opaque: its size is
/// fixed for every target (checked when the library is compiled); declare
/// one per model, typically `static`. It borrows the model bytes.
#[repr(C)]
pub struct ddaebm_model_t {
    _opaque: [u64; DDAEBM_MODEL_WORDS],
}

/// Storage for a window scorer (`ddaebm_window_init`): the last samples
/// of a stream, up to `DDAEBM_WINDOW_CAPACITY` values. Opaque.
#[repr(C)]
pub struct ddaebm_window_t {
    _opaque: [u64; DDAEBM_WINDOW_WORDS],
}

/// Storage for a field calibration (`ddaebm_field_init`): learns the
/// alarm threshold from the first windows of normal operation. Opaque.
#[repr(C)]
pub struct ddaebm_field_t {
    _opaque: [u64; DDAEBM_FIELD_WORDS],
}

/// Storage for the sampler's random number generator (`ddaebm_rng_init`):
/// the runtime's seeded xoshiro128++, the same stream as on the host. Opaque.
#[repr(C)]
pub struct ddaebm_rng_t {
    _opaque: [u64; DDAEBM_RNG_WORDS],
}

/// What an initialised object holds: a tag that says so, then the value.
#[repr(C)]
struct Slot<T> {
    tag: u64,
    value: T,
}

const MODEL_TAG: u64 = 0xDDAE_B001_4D4F_4445; // "..MODE"
const WINDOW_TAG: u64 = 0xDDAE_B002_5749_4E44; // "..WIND"
const FIELD_TAG: u64 = 0xDDAE_B003_4649_454C; // "..FIEL"
const RNG_TAG: u64 = 0xDDAE_B004_524E_4720; // "..RNG "

type Window = WindowScorer<DDAEBM_WINDOW_CAPACITY>;

/// Compile-time check that an object's storage holds its slot, for the
/// target being compiled (the header's sizes are the same on every target).
const fn fits<T, S>() -> bool {
    size_of::<Slot<T>>() <= size_of::<S>() && align_of::<Slot<T>>() <= align_of::<S>()
}
const _: () =
    assert!(fits::<Model<'static>, ddaebm_model_t>(), "ddaebm_model_t is too small: raise DDAEBM_MODEL_WORDS");
const _: () = assert!(fits::<Window, ddaebm_window_t>(), "ddaebm_window_t is too small: raise DDAEBM_WINDOW_WORDS");
const _: () =
    assert!(fits::<FieldCalibration, ddaebm_field_t>(), "ddaebm_field_t is too small: raise DDAEBM_FIELD_WORDS");
const _: () = assert!(fits::<Rng, ddaebm_rng_t>(), "ddaebm_rng_t is too small: raise DDAEBM_RNG_WORDS");

// ---------------------------------------------------------------------------
// Argument checks. Every function checks all its pointers (NULL, alignment,
// length) and that they do not overlap before it reads or writes through any
// of them, then makes references.

/// A memory range `[start, end)` of an argument, for the overlap check.
type Range = (usize, usize);

/// Checks an object or out-pointer (non-NULL, aligned); its byte range.
fn obj<S>(p: *const S) -> Result<Range, ddaebm_status_t> {
    if p.is_null() {
        return Err(DDAEBM_ERR_NULL_POINTER);
    }
    if !p.is_aligned() {
        return Err(DDAEBM_ERR_MISALIGNED);
    }
    let start = p as usize;
    Ok((start, start.saturating_add(size_of::<S>())))
}

/// Checks a buffer of `len` `T` (NULL only with `len == 0`, aligned, within
/// the address space); its byte range (empty for `len == 0`).
fn buf<T>(p: *const T, len: usize) -> Result<Range, ddaebm_status_t> {
    if len == 0 {
        return Ok((0, 0));
    }
    if p.is_null() {
        return Err(DDAEBM_ERR_NULL_POINTER);
    }
    if !p.is_aligned() {
        return Err(DDAEBM_ERR_MISALIGNED);
    }
    let start = p as usize;
    match len.checked_mul(size_of::<T>()) {
        Some(bytes) if bytes <= isize::MAX as usize => {
            start.checked_add(bytes).map(|end| (start, end)).ok_or(DDAEBM_ERR_BAD_LENGTH)
        }
        _ => Err(DDAEBM_ERR_BAD_LENGTH),
    }
}

/// `DDAEBM_ERR_OVERLAP` if two non-empty ranges overlap.
fn disjoint(ranges: &[Range]) -> Result<(), ddaebm_status_t> {
    for (i, a) in ranges.iter().enumerate() {
        for b in ranges.iter().skip(i + 1) {
            if a.0 < a.1 && b.0 < b.1 && a.0 < b.1 && b.0 < a.1 {
                return Err(DDAEBM_ERR_OVERLAP);
            }
        }
    }
    Ok(())
}

/// The initialised value behind a checked ([`obj`]) storage pointer.
///
/// # Safety
/// `p` passed [`obj`] and points to a readable `S` nothing writes during the call.
unsafe fn get<'a, T, S>(p: *const S, tag: u64) -> Result<&'a T, ddaebm_status_t> {
    // SAFETY: a readable, aligned `S`, at least 8 bytes (`fits`).
    if unsafe { ptr::read(p.cast::<u64>()) } != tag {
        return Err(DDAEBM_ERR_NOT_INITIALISED);
    }
    // SAFETY: the tag is written only together with a valid value (`put`),
    // and `fits` checked size and alignment.
    Ok(unsafe { &(*p.cast::<Slot<T>>()).value })
}

/// As [`get`], mutable.
///
/// # Safety
/// `p` passed [`obj`] and points to a writable `S` nothing else references
/// during the call.
unsafe fn get_mut<'a, T, S>(p: *mut S, tag: u64) -> Result<&'a mut T, ddaebm_status_t> {
    // SAFETY: as `get`.
    if unsafe { ptr::read(p.cast::<u64>()) } != tag {
        return Err(DDAEBM_ERR_NOT_INITIALISED);
    }
    // SAFETY: as `get`; the caller's contract makes the reference unique.
    Ok(unsafe { &mut (*p.cast::<Slot<T>>()).value })
}

/// Marks checked ([`obj`]) storage as not initialised (so that a failed
/// `_init` leaves it so).
///
/// # Safety
/// `p` passed [`obj`] and points to a writable `S`.
unsafe fn clear<S>(p: *mut S) {
    // SAFETY: a writable, aligned `S` of at least 8 bytes.
    unsafe { ptr::write(p.cast::<u64>(), 0) };
}

/// Stores an initialised value in checked ([`obj`]) storage.
///
/// # Safety
/// `p` passed [`obj`] and points to a writable `S`.
unsafe fn put<T, S>(p: *mut S, tag: u64, value: T) {
    // SAFETY: `fits` checked size and alignment; the previous content is
    // plain data (nothing to drop).
    unsafe { ptr::write(p.cast::<Slot<T>>(), Slot { tag, value }) };
}

/// A checked ([`buf`]) input buffer as a slice.
///
/// # Safety
/// `(p, len)` passed [`buf`] and is `len` readable `T` nothing writes during the call.
unsafe fn input<'a, T>(p: *const T, len: usize) -> &'a [T] {
    if len == 0 {
        return &[];
    }
    // SAFETY: non-NULL, aligned and within the address space ([`buf`]);
    // readable by the caller's contract.
    unsafe { core::slice::from_raw_parts(p, len) }
}

/// A checked ([`buf`]) output buffer as a slice.
///
/// # Safety
/// `(p, len)` passed [`buf`] and is `len` writable `T` nothing else references during the call.
unsafe fn output<'a, T>(p: *mut T, len: usize) -> &'a mut [T] {
    if len == 0 {
        return &mut [];
    }
    // SAFETY: as `input`; exclusive by the caller's contract.
    unsafe { core::slice::from_raw_parts_mut(p, len) }
}

/// Writes a result through a checked ([`obj`]) out-pointer.
///
/// # Safety
/// `p` passed [`obj`] and is writable.
unsafe fn write_out<T>(p: *mut T, value: T) {
    // SAFETY: non-NULL, aligned, writable by the caller's contract.
    unsafe { ptr::write(p, value) };
}

fn status(r: Result<(), ddaebm_status_t>) -> ddaebm_status_t {
    match r {
        Ok(()) => DDAEBM_OK,
        Err(s) => s,
    }
}

// ---------------------------------------------------------------------------
// Model

/// Weight dtype of a model file (`ddaebm_model_info_t.weight_dtype`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ddaebm_weight_dtype_t {
    /// IEEE binary32 (also for files that mix dtypes).
    DDAEBM_WEIGHTS_F32 = 0,
    /// IEEE binary16.
    DDAEBM_WEIGHTS_F16 = 1,
    /// bfloat16.
    DDAEBM_WEIGHTS_BF16 = 2,
    /// int8 with one f32 scale per output row.
    DDAEBM_WEIGHTS_INT8 = 3,
}

/// The anomaly score a model file declares (`ddaebm_model_info_t.score_kind`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ddaebm_score_kind_t {
    /// -f(x, 0), the energy at step 0.
    DDAEBM_SCORE_ENERGY = 0,
    /// The generator's denoising reconstruction error at step 0.
    DDAEBM_SCORE_RECONSTRUCTION = 1,
}

/// What a loaded model is and needs (`ddaebm_model_info`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ddaebm_model_info_t {
    /// The data dimension D: the length of `x` (one reading or one window).
    pub data_dim: usize,
    /// The generator's latent size.
    pub nz: usize,
    /// The number of denoising steps T (valid steps: 0 .. T-1).
    pub steps: usize,
    /// The largest layer width.
    pub max_width: usize,
    /// The number of floats every `scratch` buffer must hold (at least).
    pub scratch_len: usize,
    /// The weight matrices' dtype.
    pub weight_dtype: ddaebm_weight_dtype_t,
    /// The anomaly score the file declares.
    pub score_kind: ddaebm_score_kind_t,
    /// Whether the file holds a calibration (`export --calibrate`).
    pub calibrated: bool,
    /// The calibrated threshold (scores above it are anomalies); NaN
    /// without calibration.
    pub threshold: f32,
    /// The file's input contract: samples per window (1 for single rows);
    /// 0 when the file declares none.
    pub window: usize,
    /// The contract's stride between training windows; 0 without contract.
    pub stride: usize,
    /// The contract's values per sample (columns); 0 without contract.
    pub channels: usize,
}

/// Loads a model file from `bytes[0 .. len]` into `model`, without copying:
/// checks the whole file (structure, shapes, finite parameters, CRC-32 when
/// the file has one). The bytes must stay in place and unchanged while the
/// model is used. On failure `model` is left not initialised.
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_NULL_POINTER` / `DDAEBM_ERR_MISALIGNED` /
/// `DDAEBM_ERR_BAD_LENGTH` for bad arguments, or the file's first problem
/// (`DDAEBM_ERR_TOO_SHORT` ... `DDAEBM_ERR_INVALID_PARAMETER`).
///
/// # Safety
/// `model` is NULL or points to a writable `ddaebm_model_t`; `bytes` is
/// NULL with `len` 0 or points to `len` readable bytes that outlive every
/// use of the model.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_model_load(
    model: *mut ddaebm_model_t,
    bytes: *const u8,
    len: usize,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(model)?, buf(bytes, len)?])?;
        // SAFETY: checked; the caller's contract: the bytes outlive the model.
        unsafe { clear(model) };
        let bytes: &'static [u8] = unsafe { input(bytes, len) };
        let loaded = Model::from_bytes(bytes)?;
        // SAFETY: checked.
        unsafe { put(model, MODEL_TAG, loaded) };
        Ok(())
    })())
}

/// Fills `info` with the model's dimensions, the scratch length it needs,
/// its dtype, score, calibration and input contract.
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_NULL_POINTER`, `DDAEBM_ERR_MISALIGNED`
/// or `DDAEBM_ERR_NOT_INITIALISED`.
///
/// # Safety
/// `model` is NULL or a readable `ddaebm_model_t`; `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_model_info(
    model: *const ddaebm_model_t,
    info: *mut ddaebm_model_info_t,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(model)?, obj(info)?])?;
        // SAFETY: checked; the caller's contract.
        let m: &Model<'static> = unsafe { get(model, MODEL_TAG)? };
        let (window, stride, channels) = m.window().unwrap_or((0, 0, 0));
        let value = ddaebm_model_info_t {
            data_dim: m.data_dim(),
            nz: m.nz(),
            steps: m.steps(),
            max_width: m.max_width(),
            scratch_len: m.scratch_len(),
            weight_dtype: match m.weight_dtype() {
                WeightDtype::F32 => ddaebm_weight_dtype_t::DDAEBM_WEIGHTS_F32,
                WeightDtype::F16 => ddaebm_weight_dtype_t::DDAEBM_WEIGHTS_F16,
                WeightDtype::Bf16 => ddaebm_weight_dtype_t::DDAEBM_WEIGHTS_BF16,
                WeightDtype::Int8 => ddaebm_weight_dtype_t::DDAEBM_WEIGHTS_INT8,
            },
            score_kind: match m.score_kind() {
                ScoreKind::Energy => ddaebm_score_kind_t::DDAEBM_SCORE_ENERGY,
                ScoreKind::Reconstruction => ddaebm_score_kind_t::DDAEBM_SCORE_RECONSTRUCTION,
            },
            calibrated: m.is_calibrated(),
            threshold: m.threshold().unwrap_or(f32::NAN),
            window,
            stride,
            channels,
        };
        // SAFETY: checked.
        unsafe { write_out(info, value) };
        Ok(())
    })())
}

/// The scratch length (floats) of a model with data dimension `data_dim`,
/// latent size `nz` and widest layer `max_width`:
/// `2 * max(data_dim + nz, max_width) + data_dim` (saturating). The macro
/// `DDAEBM_SCRATCH_LEN_FOR` computes the same at compile time.
#[no_mangle]
pub extern "C" fn ddaebm_scratch_len_for(data_dim: usize, nz: usize, max_width: usize) -> usize {
    scratch_len_for(data_dim, nz, max_width)
}

/// The model's anomaly score of one reading (or window) `x[0 .. x_len]`
/// in raw units, higher = more anomalous, into `*score`.
///
/// Returns `DDAEBM_OK`; `DDAEBM_ERR_DIMENSION_MISMATCH` unless
/// `x_len == data_dim`; `DDAEBM_ERR_SCRATCH_TOO_SMALL`;
/// `DDAEBM_ERR_NON_FINITE_OUTPUT`; argument errors (NULL, misaligned,
/// overlapping, not initialised).
///
/// # Safety
/// Every pointer is NULL or valid for its length (`x`: `x_len` floats,
/// `scratch`: `scratch_len` floats), `model` a `ddaebm_model_t`.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_anomaly_score(
    model: *const ddaebm_model_t,
    x: *const f32,
    x_len: usize,
    scratch: *mut f32,
    scratch_len: usize,
    score: *mut f32,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(model)?, buf(x, x_len)?, buf(scratch, scratch_len)?, obj(score)?])?;
        // SAFETY: checked; the caller's contract.
        let m: &Model<'static> = unsafe { get(model, MODEL_TAG)? };
        let (x, scratch) = unsafe { (input(x, x_len), output(scratch, scratch_len)) };
        let s = m.anomaly_score(x, scratch)?;
        // SAFETY: checked.
        unsafe { write_out(score, s) };
        Ok(())
    })())
}

/// The energy f(x, t) of `x[0 .. x_len]` (raw units) at step `t`, into
/// `*energy` (higher = more likely; the anomaly score of an energy-scored
/// file is -f(x, 0)).
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_STEP_OUT_OF_RANGE` unless `t < steps`,
/// or the errors of `ddaebm_anomaly_score`.
///
/// # Safety
/// As `ddaebm_anomaly_score`.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_energy(
    model: *const ddaebm_model_t,
    x: *const f32,
    x_len: usize,
    t: usize,
    scratch: *mut f32,
    scratch_len: usize,
    energy: *mut f32,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(model)?, buf(x, x_len)?, buf(scratch, scratch_len)?, obj(energy)?])?;
        // SAFETY: checked; the caller's contract.
        let m: &Model<'static> = unsafe { get(model, MODEL_TAG)? };
        let (x, scratch) = unsafe { (input(x, x_len), output(scratch, scratch_len)) };
        let f = m.energy(x, t, scratch)?;
        // SAFETY: checked.
        unsafe { write_out(energy, f) };
        Ok(())
    })())
}

/// A calibrated decision on one reading: score, tail probability, anomaly
/// (`ddaebm_verdict`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ddaebm_verdict_t {
    /// The anomaly score, higher = more anomalous.
    pub score: f32,
    /// The fraction of normal readings expected to score at least this high.
    pub tail_probability: f32,
    /// Whether the score is above the file's calibrated threshold.
    pub is_anomaly: bool,
}

/// Scores `x[0 .. x_len]` and decides with the file's calibration: score,
/// tail probability and `score > threshold`, from one model evaluation.
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_NOT_CALIBRATED` for a file without
/// calibration, or the errors of `ddaebm_anomaly_score`.
///
/// # Safety
/// As `ddaebm_anomaly_score`; `verdict` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_verdict(
    model: *const ddaebm_model_t,
    x: *const f32,
    x_len: usize,
    scratch: *mut f32,
    scratch_len: usize,
    verdict: *mut ddaebm_verdict_t,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(model)?, buf(x, x_len)?, buf(scratch, scratch_len)?, obj(verdict)?])?;
        // SAFETY: checked; the caller's contract.
        let m: &Model<'static> = unsafe { get(model, MODEL_TAG)? };
        let (x, scratch) = unsafe { (input(x, x_len), output(scratch, scratch_len)) };
        let v = m.verdict(x, scratch)?;
        let value = ddaebm_verdict_t { score: v.score, tail_probability: v.tail_probability, is_anomaly: v.is_anomaly };
        // SAFETY: checked.
        unsafe { write_out(verdict, value) };
        Ok(())
    })())
}

/// The fraction of normal readings expected to score at least `score`
/// (from the file's calibration quantiles), into `*probability`.
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_NOT_CALIBRATED`,
/// `DDAEBM_ERR_NON_FINITE_OUTPUT` for a NaN score, or argument errors.
///
/// # Safety
/// `model` NULL or a `ddaebm_model_t`; `probability` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_tail_probability(
    model: *const ddaebm_model_t,
    score: f32,
    probability: *mut f32,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(model)?, obj(probability)?])?;
        // SAFETY: checked; the caller's contract.
        let m: &Model<'static> = unsafe { get(model, MODEL_TAG)? };
        let p = m.tail_probability(score)?;
        // SAFETY: checked.
        unsafe { write_out(probability, p) };
        Ok(())
    })())
}

/// Initialises the generator `rng` with `seed` (the same seed gives the
/// same samples as `Rng::new(seed)` in the Rust runtime, on every target).
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_NULL_POINTER` or `DDAEBM_ERR_MISALIGNED`.
///
/// # Safety
/// `rng` NULL or a writable `ddaebm_rng_t`.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_rng_init(rng: *mut ddaebm_rng_t, seed: u64) -> ddaebm_status_t {
    status((|| {
        obj(rng)?;
        // SAFETY: checked; the caller's contract.
        unsafe { put(rng, RNG_TAG, Rng::new(seed)) };
        Ok(())
    })())
}

/// Draws one sample of the model (raw units) into `out[0 .. out_len]`
/// (`out_len == data_dim`) with T generator steps, advancing `rng`.
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_DIMENSION_MISMATCH`,
/// `DDAEBM_ERR_SCRATCH_TOO_SMALL`, `DDAEBM_ERR_NON_FINITE_OUTPUT`, or
/// argument errors (an `rng` not initialised: `DDAEBM_ERR_NOT_INITIALISED`).
///
/// # Safety
/// As `ddaebm_anomaly_score`; `rng` NULL or a `ddaebm_rng_t`, `out`
/// NULL/0 or `out_len` writable floats.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_sample(
    model: *const ddaebm_model_t,
    rng: *mut ddaebm_rng_t,
    out: *mut f32,
    out_len: usize,
    scratch: *mut f32,
    scratch_len: usize,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(model)?, obj(rng)?, buf(out, out_len)?, buf(scratch, scratch_len)?])?;
        // SAFETY: checked; the caller's contract.
        let m: &Model<'static> = unsafe { get(model, MODEL_TAG)? };
        let r: &mut Rng = unsafe { get_mut(rng, RNG_TAG)? };
        let (out, scratch) = unsafe { (output(out, out_len), output(scratch, scratch_len)) };
        m.sample(r, out, scratch)?;
        Ok(())
    })())
}

// ---------------------------------------------------------------------------
// Window scorer

/// Initialises `window` for a stream of samples of `channels` values,
/// scored in windows of `window_len` samples every `stride` samples, for
/// `model` (`window_len * channels` must be its data dimension). The
/// window is laid out as `trainer fit --window` and `export score --window`
/// cut it: the oldest sample first, each sample's channels in order.
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_INVALID_WINDOW_SHAPE` (a 0),
/// `DDAEBM_ERR_WINDOW_MISMATCH`, `DDAEBM_ERR_WINDOW_TOO_LARGE` (more than
/// `DDAEBM_WINDOW_CAPACITY` values), or argument errors. On failure
/// `window` is left not initialised.
///
/// # Safety
/// `window` NULL or a writable `ddaebm_window_t`; `model` NULL or a
/// `ddaebm_model_t`.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_window_init(
    window: *mut ddaebm_window_t,
    model: *const ddaebm_model_t,
    window_len: usize,
    stride: usize,
    channels: usize,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(window)?, obj(model)?])?;
        // SAFETY: checked; the caller's contract.
        unsafe { clear(window) };
        let m: &Model<'static> = unsafe { get(model, MODEL_TAG)? };
        let scorer = Window::new(m, WindowShape::new(window_len, stride, channels))?;
        // SAFETY: checked.
        unsafe { put(window, WINDOW_TAG, scorer) };
        Ok(())
    })())
}

/// As `ddaebm_window_init`, with the window length, stride and channel
/// count the model file declares (its input contract).
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_NO_WINDOW_CONTRACT` for a file without
/// one, or the errors of `ddaebm_window_init`.
///
/// # Safety
/// As `ddaebm_window_init`.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_window_init_from_model(
    window: *mut ddaebm_window_t,
    model: *const ddaebm_model_t,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(window)?, obj(model)?])?;
        // SAFETY: checked; the caller's contract.
        unsafe { clear(window) };
        let m: &Model<'static> = unsafe { get(model, MODEL_TAG)? };
        let scorer = Window::for_model(m)?;
        // SAFETY: checked.
        unsafe { put(window, WINDOW_TAG, scorer) };
        Ok(())
    })())
}

/// Appends one sample `sample[0 .. sample_len]` (`sample_len == channels`,
/// raw units) and sets `*due` to whether it completes a window to score:
/// the window length-th sample, then every stride-th.
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_DIMENSION_MISMATCH` (nothing pushed),
/// or argument errors.
///
/// # Safety
/// `window` NULL or a `ddaebm_window_t`; `sample` NULL/0 or `sample_len`
/// readable floats; `due` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_window_push(
    window: *mut ddaebm_window_t,
    sample: *const f32,
    sample_len: usize,
    due: *mut bool,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(window)?, buf(sample, sample_len)?, obj(due)?])?;
        // SAFETY: checked; the caller's contract.
        let w: &mut Window = unsafe { get_mut(window, WINDOW_TAG)? };
        let sample = unsafe { input(sample, sample_len) };
        let d = w.push(sample)?;
        // SAFETY: checked.
        unsafe { write_out(due, d) };
        Ok(())
    })())
}

/// Scores the most recent window (due or not) with `model`, into `*score`:
/// bit for bit the score `export score --window` computes on the host for
/// the window starting at the same sample.
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_WINDOW_NOT_FULL`,
/// `DDAEBM_ERR_WINDOW_MISMATCH` (a model of another shape), or the errors of
/// `ddaebm_anomaly_score`.
///
/// # Safety
/// As `ddaebm_anomaly_score`; `window` NULL or a `ddaebm_window_t`.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_window_score(
    window: *mut ddaebm_window_t,
    model: *const ddaebm_model_t,
    scratch: *mut f32,
    scratch_len: usize,
    score: *mut f32,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(window)?, obj(model)?, buf(scratch, scratch_len)?, obj(score)?])?;
        // SAFETY: checked; the caller's contract.
        let w: &mut Window = unsafe { get_mut(window, WINDOW_TAG)? };
        let m: &Model<'static> = unsafe { get(model, MODEL_TAG)? };
        let scratch = unsafe { output(scratch, scratch_len) };
        let s = w.score(m, scratch)?;
        // SAFETY: checked.
        unsafe { write_out(score, s) };
        Ok(())
    })())
}

/// `ddaebm_window_push` then, when a window is due, `ddaebm_window_score`:
/// `*scored` says whether `*score` was written.
///
/// Returns the errors of the two.
///
/// # Safety
/// As the two; `scored` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_window_push_score(
    window: *mut ddaebm_window_t,
    model: *const ddaebm_model_t,
    sample: *const f32,
    sample_len: usize,
    scratch: *mut f32,
    scratch_len: usize,
    scored: *mut bool,
    score: *mut f32,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[
            obj(window)?,
            obj(model)?,
            buf(sample, sample_len)?,
            buf(scratch, scratch_len)?,
            obj(scored)?,
            obj(score)?,
        ])?;
        // SAFETY: checked; the caller's contract.
        let w: &mut Window = unsafe { get_mut(window, WINDOW_TAG)? };
        let m: &Model<'static> = unsafe { get(model, MODEL_TAG)? };
        let (sample, scratch) = unsafe { (input(sample, sample_len), output(scratch, scratch_len)) };
        let s = w.push_score(m, sample, scratch)?;
        // SAFETY: checked.
        unsafe { write_out(scored, s.is_some()) };
        if let Some(s) = s {
            // SAFETY: checked.
            unsafe { write_out(score, s) };
        }
        Ok(())
    })())
}

/// Forgets every sample of `window` (same shape): the next window is due
/// after the window length of new samples.
///
/// Returns `DDAEBM_OK` or argument errors.
///
/// # Safety
/// `window` NULL or a `ddaebm_window_t`.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_window_reset(window: *mut ddaebm_window_t) -> ddaebm_status_t {
    status((|| {
        obj(window)?;
        // SAFETY: checked; the caller's contract.
        let w: &mut Window = unsafe { get_mut(window, WINDOW_TAG)? };
        w.reset();
        Ok(())
    })())
}

// ---------------------------------------------------------------------------
// Field calibration

/// Initialises `field` to learn the alarm threshold as the `level`-quantile
/// (e.g. 0.99) of the scores of the next `windows` windows of normal
/// operation. Exact (the quantile `export --calibrate` computes from the
/// same scores) while `windows - floor((windows - 1) * level) <= 64`, e.g.
/// up to 6,300 windows at 0.99; the P² estimate beyond.
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_INVALID_CALIBRATION_LEVEL`,
/// `DDAEBM_ERR_FIELD_CALIBRATION_WINDOWS` (0 windows), or argument errors.
///
/// # Safety
/// `field` NULL or a writable `ddaebm_field_t`.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_field_init(field: *mut ddaebm_field_t, level: f32, windows: u32) -> ddaebm_status_t {
    status((|| {
        obj(field)?;
        // SAFETY: checked; the caller's contract.
        unsafe { clear(field) };
        let f = FieldCalibration::new(level, windows)?;
        // SAFETY: checked.
        unsafe { put(field, FIELD_TAG, f) };
        Ok(())
    })())
}

/// Adds the score of one normal window; `*complete` says whether the
/// calibration has seen all its windows (later scores are ignored).
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_NON_FINITE_OUTPUT` for a NaN or
/// infinite score (not counted), or argument errors.
///
/// # Safety
/// `field` NULL or a `ddaebm_field_t`; `complete` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_field_observe(
    field: *mut ddaebm_field_t,
    score: f32,
    complete: *mut bool,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(field)?, obj(complete)?])?;
        // SAFETY: checked; the caller's contract.
        let f: &mut FieldCalibration = unsafe { get_mut(field, FIELD_TAG)? };
        let c = f.observe(score)?;
        // SAFETY: checked.
        unsafe { write_out(complete, c) };
        Ok(())
    })())
}

/// The threshold to flag with, into `*threshold`: the learned one once the
/// calibration is complete, the model file's calibrated threshold before.
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_FIELD_CALIBRATION_INCOMPLETE` (still
/// learning and the file holds no threshold), or argument errors.
///
/// # Safety
/// `field` NULL or a `ddaebm_field_t`; `model` NULL or a `ddaebm_model_t`;
/// `threshold` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_field_threshold(
    field: *const ddaebm_field_t,
    model: *const ddaebm_model_t,
    threshold: *mut f32,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(field)?, obj(model)?, obj(threshold)?])?;
        // SAFETY: checked; the caller's contract.
        let f: &FieldCalibration = unsafe { get(field, FIELD_TAG)? };
        let m: &Model<'static> = unsafe { get(model, MODEL_TAG)? };
        let t = f.threshold(m)?;
        // SAFETY: checked.
        unsafe { write_out(threshold, t) };
        Ok(())
    })())
}

/// Whether `score` is above the threshold of `ddaebm_field_threshold`,
/// into `*anomaly`.
///
/// Returns `DDAEBM_OK`, `DDAEBM_ERR_NON_FINITE_OUTPUT` for a NaN score, or
/// the errors of `ddaebm_field_threshold`.
///
/// # Safety
/// As `ddaebm_field_threshold`; `anomaly` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_field_is_anomaly(
    field: *const ddaebm_field_t,
    model: *const ddaebm_model_t,
    score: f32,
    anomaly: *mut bool,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(field)?, obj(model)?, obj(anomaly)?])?;
        // SAFETY: checked; the caller's contract.
        let f: &FieldCalibration = unsafe { get(field, FIELD_TAG)? };
        let m: &Model<'static> = unsafe { get(model, MODEL_TAG)? };
        let a = f.is_anomaly(m, score)?;
        // SAFETY: checked.
        unsafe { write_out(anomaly, a) };
        Ok(())
    })())
}

/// Progress of a field calibration (`ddaebm_field_progress`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ddaebm_field_progress_t {
    /// Scores observed so far (at most `windows`).
    pub seen: u32,
    /// Windows the calibration learns from.
    pub windows: u32,
    /// Whether it has learned its threshold.
    pub complete: bool,
    /// Whether the learned threshold is (or will be) the exact quantile
    /// rather than the P² estimate.
    pub exact: bool,
    /// The learned threshold; NaN until complete.
    pub learned_threshold: f32,
}

/// Fills `progress` with how far the field calibration is.
///
/// Returns `DDAEBM_OK` or argument errors.
///
/// # Safety
/// `field` NULL or a `ddaebm_field_t`; `progress` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_field_progress(
    field: *const ddaebm_field_t,
    progress: *mut ddaebm_field_progress_t,
) -> ddaebm_status_t {
    status((|| {
        disjoint(&[obj(field)?, obj(progress)?])?;
        // SAFETY: checked; the caller's contract.
        let f: &FieldCalibration = unsafe { get(field, FIELD_TAG)? };
        let value = ddaebm_field_progress_t {
            seen: f.seen(),
            windows: f.windows(),
            complete: f.is_complete(),
            exact: f.is_exact(),
            learned_threshold: f.learned_threshold().unwrap_or(f32::NAN),
        };
        // SAFETY: checked.
        unsafe { write_out(progress, value) };
        Ok(())
    })())
}

/// Forgets the scores and the learned threshold: learns again from the
/// next windows (e.g. after the machine was serviced).
///
/// Returns `DDAEBM_OK` or argument errors.
///
/// # Safety
/// `field` NULL or a `ddaebm_field_t`.
#[no_mangle]
pub unsafe extern "C" fn ddaebm_field_restart(field: *mut ddaebm_field_t) -> ddaebm_status_t {
    status((|| {
        obj(field)?;
        // SAFETY: checked; the caller's contract.
        let f: &mut FieldCalibration = unsafe { get_mut(field, FIELD_TAG)? };
        f.restart();
        Ok(())
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_name_and_a_message() {
        for code in 0..DDAEBM_STATUS_COUNT {
            // SAFETY: static NUL-terminated strings.
            let name = unsafe { core::ffi::CStr::from_ptr(ddaebm_status_name(code)) };
            let message = unsafe { core::ffi::CStr::from_ptr(ddaebm_status_message(code)) };
            assert!(name.to_bytes().starts_with(b"DDAEBM_"), "{code}: {name:?}");
            assert!(message.to_bytes().len() > 5, "{code}");
        }
        // SAFETY: as above.
        let unknown = unsafe { core::ffi::CStr::from_ptr(ddaebm_status_message(DDAEBM_STATUS_COUNT)) };
        assert_eq!(unknown, c"unknown status code");
        assert_eq!(DDAEBM_ERR_FIELD_CALIBRATION_INCOMPLETE as i32 + 1, DDAEBM_STATUS_COUNT);
    }
}
