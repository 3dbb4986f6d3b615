//! The safetensors header reader (docs/model-format.md, "Container").
//!
//! A model file is `N` (u64 LE) + `N` bytes of JSON header + the data buffer.
//! [`Header::parse`] scans the JSON once, checks its syntax completely, and
//! records, in fixed-capacity tables, where each entry the runtime uses
//! starts. [`Header::tensor`] later re-reads one recorded entry (already known
//! to be syntactically valid) and checks its dtype and byte range. No
//! allocation, no recursion, no panics: every index is checked, every loop
//! consumes at least one byte per iteration, and offsets and sizes use
//! checked arithmetic on `u64`.
//!
//! The JSON subset read here is exactly the one the format document allows:
//!
//! * the header is one object (leading and trailing whitespace, including
//!   safetensors' space padding, is allowed);
//! * each of its values is an object: `__metadata__` maps strings to
//!   strings, every other key is a tensor entry whose values are strings or
//!   arrays of non-negative integers (`dtype`, `shape`, `data_offsets`;
//!   other fields are ignored);
//! * strings contain no backslash escapes and no control characters; their
//!   bytes are compared as-is (not checked to be UTF-8);
//! * numbers are non-negative integers without sign, fraction or exponent,
//!   at most `u64::MAX`.
//!
//! Tensor entries whose names the runtime does not use (anything but the
//! names in the format document's tensor table) are checked for JSON syntax
//! only and otherwise ignored: their dtype, shape and offsets are not
//! validated. Duplicate keys are rejected among the keys the runtime reads
//! (`__metadata__`, the metadata keys it uses, the tensor names it uses,
//! and the fields of every tensor entry); duplicates among ignored keys are
//! not detected (that would need memory or quadratic time).

use core::fmt;

use crate::error::Error;

/// Maximum number of layers per network (energy or generator) that the
/// runtime stores. Models with more layers are rejected with
/// [`Error::TooManyLayers`].
pub const MAX_LAYERS: usize = 8;

/// One of the model's two networks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Net {
    /// The energy network f(x, t), tensors `energy.{i}.*`.
    Energy,
    /// The generator G(x_{t+1}, z, t), tensors `generator.{i}.*`.
    Generator,
}

impl Net {
    /// The tensor name prefix, `energy` or `generator`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Net::Energy => "energy",
            Net::Generator => "generator",
        }
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which parameter of a layer a tensor holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LayerParam {
    /// `{net}.{i}.weight`, shape `[out, in]`.
    Weight,
    /// `{net}.{i}.bias`, shape `[out]` or `[T, out]`.
    Bias,
    /// `{net}.{i}.prelu`, shape `[1]`.
    Prelu,
    /// `{net}.{i}.scale`, shape `[out]`: the per-output-channel scale of an
    /// `I8` weight matrix (present iff the weight is `I8`).
    Scale,
}

impl LayerParam {
    /// Number of layer parameters (slots per layer in the header table).
    pub(crate) const COUNT: usize = 4;

    /// Every layer parameter, in slot order.
    pub(crate) const ALL: [LayerParam; LayerParam::COUNT] =
        [LayerParam::Weight, LayerParam::Bias, LayerParam::Prelu, LayerParam::Scale];

    /// The tensor name suffix: `weight`, `bias` or `prelu`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LayerParam::Weight => "weight",
            LayerParam::Bias => "bias",
            LayerParam::Prelu => "prelu",
            LayerParam::Scale => "scale",
        }
    }
}

/// The name of a tensor the runtime reads, used in errors. Displays as the
/// tensor's name in the file, e.g. `schedule.coef1` or `generator.2.bias`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TensorName {
    /// `schedule.coef1`.
    Coef1,
    /// `schedule.coef2`.
    Coef2,
    /// `schedule.posterior_std`.
    PosteriorStd,
    /// `norm.mean`.
    NormMean,
    /// `norm.inv_std`.
    NormInvStd,
    /// `norm.std`.
    NormStd,
    /// `schedule.a_bar` (optional): coefficient of x_0 in x_{t+1}.
    ABar,
    /// `schedule.sigma_bar` (optional): noise scale of x_{t+1} given x_0.
    SigmaBar,
    /// `calibration.quantiles` (optional).
    CalibrationQuantiles,
    /// `calibration.threshold` (optional).
    CalibrationThreshold,
    /// `base.basis` (optional, format version 2): the energy's Gaussian base
    /// measure, `[D, D]`, row k = eigenvector v_k; `[K·D, D]` for a
    /// mixture of K components (rows k·D … k·D + D − 1: component k's).
    BaseBasis,
    /// `base.inv_var` (optional, with `base.basis`): `[T, D]` precisions;
    /// `[T, K·D]` for a mixture (component-major).
    BaseInvVar,
    /// `base.bound` (optional, with `base.basis`): `[1]`, the bound B of
    /// the energy network's residual.
    BaseBound,
    /// `base.mean` (optional, with `base.log_weight`): `[T, K, D]`, the
    /// means of a Gaussian-mixture base's K ≥ 2 components.
    BaseMean,
    /// `base.log_weight` (optional, with `base.mean`): `[T, K]`, the log
    /// mixture weights; K, 2..=16, is read from its shape.
    BaseLogWeight,
    /// `{net}.{index}.{param}`.
    Layer {
        /// The network.
        net: Net,
        /// The layer index (saturated to `u32::MAX` if the name's is larger).
        index: u32,
        /// Which parameter.
        param: LayerParam,
    },
}

impl TensorName {
    /// The fixed (non-layer) tensors, in slot order.
    const FIXED: [TensorName; 15] = [
        TensorName::Coef1,
        TensorName::Coef2,
        TensorName::PosteriorStd,
        TensorName::NormMean,
        TensorName::NormInvStd,
        TensorName::NormStd,
        TensorName::CalibrationQuantiles,
        TensorName::CalibrationThreshold,
        TensorName::ABar,
        TensorName::SigmaBar,
        TensorName::BaseBasis,
        TensorName::BaseInvVar,
        TensorName::BaseBound,
        TensorName::BaseMean,
        TensorName::BaseLogWeight,
    ];

    /// The name of a fixed tensor, `None` for layer tensors.
    const fn fixed_str(self) -> Option<&'static str> {
        match self {
            TensorName::Coef1 => Some("schedule.coef1"),
            TensorName::Coef2 => Some("schedule.coef2"),
            TensorName::PosteriorStd => Some("schedule.posterior_std"),
            TensorName::NormMean => Some("norm.mean"),
            TensorName::NormInvStd => Some("norm.inv_std"),
            TensorName::NormStd => Some("norm.std"),
            TensorName::ABar => Some("schedule.a_bar"),
            TensorName::SigmaBar => Some("schedule.sigma_bar"),
            TensorName::CalibrationQuantiles => Some("calibration.quantiles"),
            TensorName::CalibrationThreshold => Some("calibration.threshold"),
            TensorName::BaseBasis => Some("base.basis"),
            TensorName::BaseInvVar => Some("base.inv_var"),
            TensorName::BaseBound => Some("base.bound"),
            TensorName::BaseMean => Some("base.mean"),
            TensorName::BaseLogWeight => Some("base.log_weight"),
            TensorName::Layer { .. } => None,
        }
    }

    /// Parses a tensor name; `None` if the runtime does not use it.
    ///
    /// Layer names are `{energy|generator}.{i}.{weight|bias|prelu|scale}` with `i`
    /// in canonical decimal (no sign, no leading zeros).
    fn parse(s: &[u8]) -> Option<TensorName> {
        if let Some(name) = Self::FIXED.iter().find(|n| n.fixed_str().map(str::as_bytes) == Some(s)) {
            return Some(*name);
        }
        let (net, rest) = if let Some(rest) = s.strip_prefix(b"energy.") {
            (Net::Energy, rest)
        } else if let Some(rest) = s.strip_prefix(b"generator.") {
            (Net::Generator, rest)
        } else {
            return None;
        };
        let dot = rest.iter().position(|&c| c == b'.')?;
        let (digits, param) = rest.split_at_checked(dot)?;
        let param = match param.get(1..)? {
            b"weight" => LayerParam::Weight,
            b"bias" => LayerParam::Bias,
            b"prelu" => LayerParam::Prelu,
            b"scale" => LayerParam::Scale,
            _ => return None,
        };
        if digits.len() > 1 && digits.first() == Some(&b'0') {
            return None;
        }
        let index = parse_decimal(digits)?;
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        Some(TensorName::Layer { net, index, param })
    }

    /// Index of this tensor in [`Header`]'s slot table, `None` for a layer
    /// index at or beyond [`MAX_LAYERS`].
    fn slot(self) -> Option<usize> {
        match self {
            TensorName::Layer { net, index, param } => {
                let index = usize::try_from(index).ok().filter(|&i| i < MAX_LAYERS)?;
                let net = match net {
                    Net::Energy => 0,
                    Net::Generator => 1,
                };
                let param = match param {
                    LayerParam::Weight => 0,
                    LayerParam::Bias => 1,
                    LayerParam::Prelu => 2,
                    LayerParam::Scale => 3,
                };
                Some(Self::FIXED.len() + (net * MAX_LAYERS + index) * LayerParam::COUNT + param)
            }
            fixed => Self::FIXED.iter().position(|n| *n == fixed),
        }
    }
}

impl fmt::Display for TensorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.fixed_str(), *self) {
            (Some(s), _) => f.write_str(s),
            (None, TensorName::Layer { net, index, param }) => {
                write!(f, "{net}.{index}.{}", param.as_str())
            }
            (None, _) => Ok(()),
        }
    }
}

/// Parses a non-empty string of ASCII decimal digits, saturating at
/// `u64::MAX`; `None` if it is empty or contains anything else. Not
/// inlined: one copy serves every metadata value (inlined at each call site
/// it cost ~90 bytes of flash per copy on the Cortex-M4F).
#[inline(never)]
pub(crate) fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &c| {
        let digit = u64::from(c.checked_sub(b'0').filter(|d| *d < 10)?);
        Some(acc.saturating_mul(10).saturating_add(digit))
    })
}

/// A tensor element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dtype {
    /// IEEE binary32, little-endian.
    F32,
    /// IEEE binary16, little-endian.
    F16,
    /// bfloat16 (the upper 16 bits of an IEEE binary32), little-endian.
    Bf16,
    /// Signed 8-bit integer (two's complement).
    I8,
}

impl Dtype {
    /// Size of one element in bytes.
    pub(crate) const fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::Bf16 => 2,
            Dtype::I8 => 1,
        }
    }
}

/// The metadata values the runtime reads (raw string bytes, unparsed).
#[derive(Clone, Copy, Default)]
pub(crate) struct Metadata<'a> {
    pub format: Option<&'a [u8]>,
    pub format_version: Option<&'a [u8]>,
    pub data_dim: Option<&'a [u8]>,
    pub nz: Option<&'a [u8]>,
    pub steps: Option<&'a [u8]>,
    pub weight_dtype: Option<&'a [u8]>,
    pub energy_layers: Option<&'a [u8]>,
    pub generator_layers: Option<&'a [u8]>,
    pub anomaly_score: Option<&'a [u8]>,
    pub reconstruction_draws: Option<&'a [u8]>,
    pub crc32: Option<&'a [u8]>,
}

impl<'a> Metadata<'a> {
    /// The slot for a metadata key, `None` for keys the runtime ignores.
    fn slot(&mut self, key: &[u8]) -> Option<&mut Option<&'a [u8]>> {
        // A table and one comparison loop: a `match` on the byte strings
        // compiles to a long unrolled comparison chain (1 KB on the MCU).
        const KEYS: [&[u8]; 11] = [
            b"format",
            b"format_version",
            b"data_dim",
            b"nz",
            b"steps",
            b"weight_dtype",
            b"energy_layers",
            b"generator_layers",
            b"anomaly_score",
            b"reconstruction_draws",
            b"crc32",
        ];
        Some(match KEYS.iter().position(|k| *k == key)? {
            0 => &mut self.format,
            1 => &mut self.format_version,
            2 => &mut self.data_dim,
            3 => &mut self.nz,
            4 => &mut self.steps,
            5 => &mut self.weight_dtype,
            6 => &mut self.energy_layers,
            7 => &mut self.generator_layers,
            8 => &mut self.anomaly_score,
            9 => &mut self.reconstruction_draws,
            _ => &mut self.crc32,
        })
    }
}

/// Summary of a JSON array of non-negative integers.
#[derive(Clone, Copy, Debug)]
struct IntArray {
    /// Number of elements.
    len: usize,
    /// The first two elements (0 where absent).
    first: [u64; 2],
    /// Product of all elements (1 for an empty array), `None` on overflow.
    product: Option<u64>,
}

/// The fields of one tensor entry, syntactically valid but not yet checked.
#[derive(Clone, Copy, Default)]
struct Entry<'a> {
    dtype: Option<&'a [u8]>,
    shape: Option<IntArray>,
    offsets: Option<IntArray>,
}

/// A tensor whose dtype, byte range and byte length have been checked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawTensor<'a> {
    /// Element type.
    pub dtype: Dtype,
    /// Number of dimensions.
    pub rank: usize,
    /// The first two dimensions (0 where absent).
    pub dims: [u64; 2],
    /// The tensor's bytes; exactly `product(shape) × dtype size` long.
    pub bytes: &'a [u8],
}

/// Number of slots in the tensor table: the fixed tensors, then
/// weight/bias/prelu/scale for each layer of each network.
const N_SLOTS: usize = TensorName::FIXED.len() + 2 * MAX_LAYERS * LayerParam::COUNT;

/// The parsed header: where each used entry starts, plus the metadata.
pub(crate) struct Header<'a> {
    /// The JSON header bytes.
    pub json: &'a [u8],
    /// The data buffer, after the header.
    pub data: &'a [u8],
    /// Whether `__metadata__` was present.
    pub has_metadata: bool,
    /// The metadata values the runtime reads.
    pub meta: Metadata<'a>,
    /// For each known tensor, the position in `json` of its entry's `{`;
    /// 0 when absent (position 0 can only hold the header's own `{`).
    slots: [usize; N_SLOTS],
    /// The first layer tensor whose index is at or beyond [`MAX_LAYERS`].
    pub stray: Option<TensorName>,
}

/// Offset of the JSON header within the file.
const HEADER_START: usize = 8;

impl<'a> Header<'a> {
    /// An empty header, for [`parse`](Header::parse) to fill in place.
    pub(crate) fn new() -> Header<'a> {
        Header {
            json: &[],
            data: &[],
            has_metadata: false,
            meta: Metadata::default(),
            slots: [0; N_SLOTS],
            stray: None,
        }
    }

    /// Splits `bytes` into header and data and scans the whole header, into
    /// a [`new`](Header::new) header (in place: returning the header, ≈ 420
    /// bytes, by value cost three copies of it on the MCU).
    pub(crate) fn parse(&mut self, bytes: &'a [u8]) -> Result<(), Error> {
        let (len_bytes, rest) =
            bytes.split_first_chunk::<HEADER_START>().ok_or(Error::TooShort { len: bytes.len() })?;
        let header_len = u64::from_le_bytes(*len_bytes);
        let out_of_bounds = Error::HeaderOutOfBounds { header_len, available: rest.len() };
        let n = usize::try_from(header_len).map_err(|_| out_of_bounds)?;
        (self.json, self.data) = rest.split_at_checked(n).ok_or(out_of_bounds)?;
        self.scan()
    }

    /// Scans the top-level object, recording positions and metadata.
    fn scan(&mut self) -> Result<(), Error> {
        let mut s = Scanner { buf: self.json, pos: 0 };
        s.skip_ws();
        s.expect(b'{')?;
        s.skip_ws();
        if s.peek() == Some(b'}') {
            s.pos += 1;
        } else {
            loop {
                let key_offset = s.offset();
                let key = s.string()?;
                s.skip_ws();
                s.expect(b':')?;
                s.skip_ws();
                if key == b"__metadata__" {
                    if self.has_metadata {
                        return Err(Error::DuplicateKey { offset: key_offset });
                    }
                    self.has_metadata = true;
                    self.scan_metadata(&mut s)?;
                } else {
                    let position = s.pos;
                    s.entry()?;
                    if let Some(name) = TensorName::parse(key) {
                        match name.slot().and_then(|i| self.slots.get_mut(i)) {
                            Some(slot) if *slot != 0 => return Err(Error::DuplicateKey { offset: key_offset }),
                            Some(slot) => *slot = position,
                            None => {
                                self.stray.get_or_insert(name);
                            }
                        }
                    }
                }
                if s.list_continues(b'}')? {
                    continue;
                }
                break;
            }
        }
        s.skip_ws();
        if s.pos < s.buf.len() {
            return Err(s.syntax_error());
        }
        Ok(())
    }

    /// Scans the `__metadata__` object (string → string).
    fn scan_metadata(&mut self, s: &mut Scanner<'a>) -> Result<(), Error> {
        s.expect_value(b'{')?;
        s.skip_ws();
        if s.peek() == Some(b'}') {
            s.pos += 1;
            return Ok(());
        }
        loop {
            let key_offset = s.offset();
            let key = s.string()?;
            s.skip_ws();
            s.expect(b':')?;
            s.skip_ws();
            if s.peek() != Some(b'"') {
                return Err(s.unexpected_value());
            }
            let value = s.string()?;
            if let Some(slot) = self.meta.slot(key) {
                if slot.is_some() {
                    return Err(Error::DuplicateKey { offset: key_offset });
                }
                *slot = Some(value);
            }
            if !s.list_continues(b'}')? {
                return Ok(());
            }
        }
    }

    /// Whether the header has an entry for `name`.
    pub(crate) fn has(&self, name: TensorName) -> bool {
        self.position(name).is_some()
    }

    /// Position of `name`'s entry in the header, if present.
    fn position(&self, name: TensorName) -> Option<usize> {
        name.slot().and_then(|i| self.slots.get(i)).copied().filter(|&p| p != 0)
    }

    /// Reads and checks the entry of `name`: `Ok(None)` if the file has no
    /// such tensor; otherwise its dtype is F32/F16/BF16/I8, its `data_offsets` lie in
    /// the data buffer, and its length equals `product(shape) × dtype size`.
    pub(crate) fn tensor(&self, name: TensorName) -> Result<Option<RawTensor<'a>>, Error> {
        let Some(pos) = self.position(name) else {
            return Ok(None);
        };
        let entry = Scanner { buf: self.json, pos }.entry()?;
        let (Some(dtype), Some(shape), Some(offsets)) = (entry.dtype, entry.shape, entry.offsets) else {
            return Err(Error::BadTensorEntry(name));
        };
        let dtype = match dtype {
            b"F32" => Dtype::F32,
            b"F16" => Dtype::F16,
            b"BF16" => Dtype::Bf16,
            b"I8" => Dtype::I8,
            _ => return Err(Error::UnknownDtype(name)),
        };
        let [begin, end] = offsets.first;
        if offsets.len != 2 || end < begin {
            return Err(Error::InvalidOffsets(name));
        }
        let out_of_bounds = Error::TensorOutOfBounds(name);
        let begin = usize::try_from(begin).map_err(|_| out_of_bounds)?;
        let end = usize::try_from(end).map_err(|_| out_of_bounds)?;
        let bytes = self.data.get(begin..end).ok_or(out_of_bounds)?;
        let expected = shape.product.and_then(|n| n.checked_mul(dtype.size() as u64));
        if expected != Some(bytes.len() as u64) {
            return Err(Error::TensorSizeMismatch(name));
        }
        Ok(Some(RawTensor { dtype, rank: shape.len, dims: shape.first, bytes }))
    }
}

/// The value of the metadata key `key` in a header `json` that
/// [`Header::parse`] accepted, found by scanning it again (the first
/// occurrence; `None` when absent). For the keys the loader does not check
/// (the input contract), so that loading and scoring do not pay for them:
/// this code is linked only into firmware that asks for them.
pub(crate) fn metadata_value<'a>(json: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut s = Scanner { buf: json, pos: 0 };
    s.skip_ws();
    s.expect(b'{').ok()?;
    loop {
        s.skip_ws();
        let name = s.string().ok()?;
        s.skip_ws();
        s.expect(b':').ok()?;
        s.skip_ws();
        if name == b"__metadata__" {
            s.expect(b'{').ok()?;
            loop {
                s.skip_ws();
                let k = s.string().ok()?;
                s.skip_ws();
                s.expect(b':').ok()?;
                s.skip_ws();
                let v = s.string().ok()?;
                if k == key {
                    return Some(v);
                }
                if !s.list_continues(b'}').ok()? {
                    return None;
                }
            }
        }
        s.entry().ok()?;
        if !s.list_continues(b'}').ok()? {
            return None;
        }
    }
}

/// A cursor over the JSON header. Every method either consumes at least one
/// byte or returns; none indexes without a check.
struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// The current byte, `None` at the end of the header.
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The current position as an offset in the file.
    fn offset(&self) -> usize {
        self.pos.saturating_add(HEADER_START)
    }

    /// A syntax error at the current position.
    fn syntax_error(&self) -> Error {
        Error::Json { offset: self.offset() }
    }

    /// The error for a value that is not of the expected kind: valid JSON
    /// the reader does not support, or a syntax error.
    fn unexpected_value(&self) -> Error {
        match self.peek() {
            Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                Error::UnsupportedJson { offset: self.offset() }
            }
            _ => self.syntax_error(),
        }
    }

    /// Skips JSON whitespace.
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes the structural byte `b` or fails with a syntax error.
    fn expect(&mut self, b: u8) -> Result<(), Error> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// Consumes `b` (`{` or `[`), which starts the value expected here.
    fn expect_value(&mut self, b: u8) -> Result<(), Error> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected_value())
        }
    }

    /// After a list element: skips whitespace, then consumes `,` (returns
    /// true, whitespace after it skipped too) or `close` (returns false).
    fn list_continues(&mut self, close: u8) -> Result<bool, Error> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.skip_ws();
                Ok(true)
            }
            Some(c) if c == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.syntax_error()),
        }
    }

    /// A string without escapes; returns its bytes without the quotes.
    fn string(&mut self) -> Result<&'a [u8], Error> {
        self.expect(b'"')?;
        let start = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.syntax_error()),
                Some(b'"') => break,
                Some(b'\\') => return Err(Error::UnsupportedEscape { offset: self.offset() }),
                Some(0..=0x1f) => return Err(self.syntax_error()),
                Some(_) => self.pos += 1,
            }
        }
        let s = self.buf.get(start..self.pos).ok_or(self.syntax_error())?;
        self.pos += 1;
        Ok(s)
    }

    /// A non-negative integer.
    fn integer(&mut self) -> Result<u64, Error> {
        let start = self.offset();
        let mut value: u64 = 0;
        let mut digits = 0usize;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            if digits == 1 && value == 0 {
                // A leading zero is not JSON.
                return Err(self.syntax_error());
            }
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .ok_or(Error::UnsupportedJson { offset: start })?;
            digits += 1;
            self.pos += 1;
        }
        if digits == 0 {
            return Err(self.unexpected_value());
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return Err(Error::UnsupportedJson { offset: start });
        }
        Ok(value)
    }

    /// An array of non-negative integers.
    fn int_array(&mut self) -> Result<IntArray, Error> {
        self.expect_value(b'[')?;
        self.skip_ws();
        let mut array = IntArray { len: 0, first: [0; 2], product: Some(1) };
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(array);
        }
        loop {
            let value = self.integer()?;
            if let Some(slot) = array.first.get_mut(array.len) {
                *slot = value;
            }
            array.len = array.len.saturating_add(1);
            array.product = array.product.and_then(|p| p.checked_mul(value));
            if !self.list_continues(b']')? {
                return Ok(array);
            }
        }
    }

    /// A tensor entry: an object whose values are strings or integer arrays.
    fn entry(&mut self) -> Result<Entry<'a>, Error> {
        let mut entry = Entry::default();
        self.expect_value(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(entry);
        }
        loop {
            let key_offset = self.offset();
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let duplicate = Error::DuplicateKey { offset: key_offset };
            match (key, self.peek()) {
                (b"dtype", Some(b'"')) => {
                    let value = self.string()?;
                    if entry.dtype.replace(value).is_some() {
                        return Err(duplicate);
                    }
                }
                (b"shape", _) => {
                    let value = self.int_array()?;
                    if entry.shape.replace(value).is_some() {
                        return Err(duplicate);
                    }
                }
                (b"data_offsets", _) => {
                    let value = self.int_array()?;
                    if entry.offsets.replace(value).is_some() {
                        return Err(duplicate);
                    }
                }
                (b"dtype", _) => return Err(self.unexpected_value()),
                (_, Some(b'"')) => {
                    self.string()?;
                }
                (_, _) => {
                    self.int_array()?;
                }
            }
            if !self.list_continues(b'}')? {
                return Ok(entry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in TensorName::FIXED {
            let mut buf = [0u8; 64];
            let s = name.fixed_str().unwrap();
            buf[..s.len()].copy_from_slice(s.as_bytes());
            assert_eq!(TensorName::parse(&buf[..s.len()]), Some(name));
        }
        assert_eq!(
            TensorName::parse(b"generator.12.bias"),
            Some(TensorName::Layer { net: Net::Generator, index: 12, param: LayerParam::Bias })
        );
        assert_eq!(TensorName::parse(b"energy.01.bias"), None);
        assert_eq!(TensorName::parse(b"energy.1.gamma"), None);
        assert_eq!(TensorName::parse(b"energy..bias"), None);
        assert_eq!(TensorName::parse(b"energy.x.bias"), None);
        assert_eq!(TensorName::parse(b"encoder.0.weight"), None);
        assert_eq!(
            TensorName::parse(b"energy.3.scale"),
            Some(TensorName::Layer { net: Net::Energy, index: 3, param: LayerParam::Scale })
        );
        let big = TensorName::parse(b"energy.99999999999999999999.prelu");
        assert_eq!(big, Some(TensorName::Layer { net: Net::Energy, index: u32::MAX, param: LayerParam::Prelu }));
        assert_eq!(big.unwrap().slot(), None);
    }

    #[test]
    fn slots_are_distinct_and_in_range() {
        let mut seen = [false; N_SLOTS];
        let nets = [Net::Energy, Net::Generator];
        let params = LayerParam::ALL;
        let layer_names = nets.iter().flat_map(|&net| {
            (0..MAX_LAYERS as u32)
                .flat_map(move |index| params.into_iter().map(move |param| TensorName::Layer { net, index, param }))
        });
        for name in TensorName::FIXED.into_iter().chain(layer_names) {
            let i = name.slot().unwrap();
            assert!(!seen[i]);
            seen[i] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"1024"), Some(1024));
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"1 "), None);
        assert_eq!(parse_decimal(b"-1"), None);
        assert_eq!(parse_decimal(b"99999999999999999999999"), Some(u64::MAX));
    }

    fn scan(json: &[u8]) -> Result<(), Error> {
        let mut buf = [0u8; 256];
        buf[..8].copy_from_slice(&(json.len() as u64).to_le_bytes());
        buf[8..8 + json.len()].copy_from_slice(json);
        Header::new().parse(&buf[..8 + json.len()])
    }

    #[test]
    fn json_subset() {
        assert_eq!(scan(b"{}"), Ok(()));
        assert_eq!(scan(b" { } \n  "), Ok(()));
        assert_eq!(scan(b"{\"a\":{\"shape\":[1, 2],\"x\":\"y\"}}"), Ok(()));
        assert_eq!(scan(b""), Err(Error::Json { offset: 8 }));
        assert_eq!(scan(b"{"), Err(Error::Json { offset: 9 }));
        assert_eq!(scan(b"{}x"), Err(Error::Json { offset: 10 }));
        assert_eq!(scan(b"{\"a\":{},}"), Err(Error::Json { offset: 16 }));
        assert_eq!(scan(b"{\"a\" {}}"), Err(Error::Json { offset: 13 }));
        assert_eq!(scan(b"{\"a\":1}"), Err(Error::UnsupportedJson { offset: 13 }));
        assert_eq!(scan(b"{\"a\":{\"s\":[-1]}}"), Err(Error::UnsupportedJson { offset: 19 }));
        assert_eq!(scan(b"{\"a\":{\"s\":[1.5]}}"), Err(Error::UnsupportedJson { offset: 19 }));
        assert_eq!(scan(b"{\"a\":{\"s\":[01]}}"), Err(Error::Json { offset: 20 }));
        assert_eq!(scan(b"{\"a\":{\"s\":[99999999999999999999]}}"), Err(Error::UnsupportedJson { offset: 19 }));
        assert_eq!(scan(b"{\"a\":{\"s\":{}}}"), Err(Error::UnsupportedJson { offset: 18 }));
        assert_eq!(scan(b"{\"a\\n\":{}}"), Err(Error::UnsupportedEscape { offset: 11 }));
        assert_eq!(scan(b"{\"a\x01\":{}}"), Err(Error::Json { offset: 11 }));
        assert_eq!(scan(b"{\"a"), Err(Error::Json { offset: 11 }));
        assert_eq!(scan(b"{\"__metadata__\":{},\"__metadata__\":{}}"), Err(Error::DuplicateKey { offset: 27 }));
        assert_eq!(scan(b"{\"__metadata__\":{\"nz\":\"1\",\"nz\":\"2\"}}"), Err(Error::DuplicateKey { offset: 34 }));
        assert_eq!(scan(b"{\"__metadata__\":{\"nz\":2}}"), Err(Error::UnsupportedJson { offset: 30 }));
        // Ignored duplicates are not detected.
        assert_eq!(scan(b"{\"__metadata__\":{\"x\":\"1\",\"x\":\"2\"}}"), Ok(()));
        assert_eq!(scan(b"{\"norm.std\":{},\"norm.std\":{}}"), Err(Error::DuplicateKey { offset: 23 }));
        assert_eq!(scan(b"{\"q\":{\"dtype\":\"F32\",\"dtype\":\"F32\"}}"), Err(Error::DuplicateKey { offset: 28 }));
    }
}
