//! Streaming windows: score a multichannel sensor stream one sample at a time.
//!
//! A model trained with `trainer fit --data SERIES.csv --window W` reads one
//! window of W consecutive rows ("samples") of C channels each, flattened
//! row-major: `x = [s_k[0], …, s_k[C−1], s_{k+1}[0], …, s_{k+W−1}[C−1]]`,
//! D = W·C values. `export score --window W` and
//! `export … --calibrate … --window W` cut the same windows
//! (`windows_of` in `export/src/table.rs`).
//!
//! [`WindowScorer`] keeps the most recent samples in a fixed-capacity
//! mirrored ring buffer (no allocation): every value is stored twice, N
//! apart, so the newest W·C values are always one contiguous slice, in the
//! order above, and scoring a window copies nothing. Once W samples are in
//! it has a window due, and then again every `stride` samples; it calls
//! [`Model::anomaly_score`] on that slice: the same call on the same f32
//! values as the host, so the device's scores are the host's, bit for bit.
//!
//! Why not `heapless::HistoryBuf`: it was the first implementation, and it
//! cost flash and a panic path. Its `write` indexes its buffer (`data[i]`,
//! a bounds check the compiler keeps), which links `panic_bounds_check` and,
//! through its message, integer formatting: the C firmware example
//! (`scripts/c-firmware.sh`, fat LTO, `opt-level = "s"`) measured 58,958
//! bytes of flash with it and 52,786 with this buffer, the Rust `stream`
//! build of `scripts/runtime-flash.sh` 20,100 and 19,868 bytes of runtime.
//! This buffer only uses checked `get` / `get_mut`, as the rest of the
//! runtime, and needs no copy per window; it takes the same 2·N floats as
//! a `HistoryBuf` plus the assembled window did. Window k (counting from 0) starts at sample
//! k·stride: with stride 1 the scores are those of
//! `export score --window W`, row for row; with stride s they are its rows
//! 0, s, 2s, ….
//!
//! ```
//! # use ddaebm_runtime::{Model, WindowScorer, WindowShape, Error};
//! # fn run(model: &Model<'_>, adc: &mut dyn FnMut() -> [f32; 2]) -> Result<(), Error> {
//! // A model trained with `--window 16` on a 2-column series: D = 32.
//! let shape = WindowShape::new(16, 4, 2); // 16 samples, score every 4th, 2 channels
//! let mut scorer = WindowScorer::<32>::new(model, shape)?; // capacity >= 16 · 2 values
//! let mut scratch = [0.0f32; 1024];
//! loop {
//!     let sample = adc(); // one reading of both channels
//!     if let Some(score) = scorer.push_score(model, &sample, &mut scratch)? {
//!         // a window was due: compare `score` with a threshold
//! #       let _ = score; break;
//!     }
//! }
//! # Ok(()) }
//! ```

use crate::error::Error;
use crate::model::Model;

/// The window a model reads: `window` samples of `channels` values, scored
/// every `stride` samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WindowShape {
    /// Samples per window, W (`trainer fit --window W`).
    pub window: usize,
    /// Samples from one scored window to the next (1: every sample).
    pub stride: usize,
    /// Values per sample, C (the columns of the training series).
    pub channels: usize,
}

impl WindowShape {
    /// `window` samples of `channels` values, a window due every `stride`
    /// samples.
    pub const fn new(window: usize, stride: usize, channels: usize) -> WindowShape {
        WindowShape { window, stride, channels }
    }

    /// The shape the model file declares in its input contract
    /// ([`Model::window`]: the `--window` it was trained with, the training
    /// stride and the series' column count).
    ///
    /// Errors: [`Error::NoWindowContract`] for a file without one (format
    /// version 1, or exported before the contract existed): give the shape
    /// with [`WindowShape::new`] instead.
    pub fn of_model(model: &Model<'_>) -> Result<WindowShape, Error> {
        let (window, stride, channels) = model.window().ok_or(Error::NoWindowContract)?;
        Ok(WindowShape { window, stride, channels })
    }

    /// The number of values in one window, `window · channels` (saturating):
    /// the model's data dimension D.
    pub const fn values(&self) -> usize {
        self.window.saturating_mul(self.channels)
    }

    /// Checks the shape against a model: [`Error::InvalidWindowShape`] if
    /// the window, stride or channel count is 0, [`Error::WindowMismatch`]
    /// unless `window · channels` is the model's data dimension.
    pub fn check(&self, model: &Model<'_>) -> Result<(), Error> {
        if self.window == 0 || self.stride == 0 || self.channels == 0 {
            return Err(Error::InvalidWindowShape {
                window: self.window,
                stride: self.stride,
                channels: self.channels,
            });
        }
        if self.window.checked_mul(self.channels) != Some(model.data_dim()) {
            return Err(Error::WindowMismatch {
                window: self.window,
                channels: self.channels,
                data_dim: model.data_dim(),
            });
        }
        Ok(())
    }
}

/// Scores a stream of samples in windows (see the [module](self)
/// documentation): fed one sample at a time, it has a window due once
/// `window` samples are in and then every `stride` samples.
///
/// `N` is the capacity in values; it must hold one window,
/// `N >= window · channels`. The scorer holds `2·N` f32 (every value twice,
/// see the module documentation) plus a few counters, and does not borrow the model:
/// pass the model to each scoring call (it is checked against the shape
/// every time, so a scorer can sit in a `static`).
pub struct WindowScorer<const N: usize> {
    /// The last N values, each at `next − 1 − k` in both halves (mod N):
    /// `ring.as_flattened()[next .. next + N]` is them, oldest first.
    ring: [[f32; N]; 2],
    /// Where the next value goes, in `0..N`.
    next: usize,
    /// Values pushed, up to N.
    filled: usize,
    shape: WindowShape,
    /// Samples still to push before the next window is due.
    until_due: usize,
    /// Samples pushed since the last reset (saturating).
    samples: u64,
    /// Windows that became due since the last reset (saturating).
    windows: u64,
}

impl<const N: usize> WindowScorer<N> {
    /// The capacity in values, `N`.
    pub const CAPACITY: usize = N;

    /// An empty scorer for windows of `shape`, checked against `model`.
    ///
    /// Errors: [`Error::InvalidWindowShape`] (a zero window, stride or
    /// channel count), [`Error::WindowMismatch`] (`window · channels` is
    /// not the model's data dimension), [`Error::WindowTooLarge`]
    /// (`window · channels > N`).
    pub fn new(model: &Model<'_>, shape: WindowShape) -> Result<Self, Error> {
        shape.check(model)?;
        if shape.values() > N {
            return Err(Error::WindowTooLarge { values: shape.values(), capacity: N });
        }
        Ok(WindowScorer {
            ring: [[0.0; N]; 2],
            next: 0,
            filled: 0,
            shape,
            until_due: shape.window,
            samples: 0,
            windows: 0,
        })
    }

    /// An empty scorer for the window the model file declares
    /// ([`WindowShape::of_model`]), scored every `stride` samples of it.
    ///
    /// Errors: [`Error::NoWindowContract`] for a file without an input
    /// contract, otherwise as [`new`](Self::new).
    pub fn for_model(model: &Model<'_>) -> Result<Self, Error> {
        Self::new(model, WindowShape::of_model(model)?)
    }

    /// The shape this scorer was made for.
    pub fn shape(&self) -> WindowShape {
        self.shape
    }

    /// Forgets every sample: the next window is due after `window` new
    /// samples, as after [`new`](Self::new).
    pub fn reset(&mut self) {
        self.next = 0;
        self.filled = 0;
        self.until_due = self.shape.window;
        self.samples = 0;
        self.windows = 0;
    }

    /// Samples pushed since the scorer was made or reset (saturating).
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Windows that became due since the scorer was made or reset
    /// (saturating): window `windows() − 1` starts at sample
    /// `(windows() − 1) · stride`.
    pub fn windows(&self) -> u64 {
        self.windows
    }

    /// Whether `window` samples are in, so that [`score`](Self::score) has a
    /// window to score.
    pub fn is_full(&self) -> bool {
        self.samples >= self.shape.window as u64
    }

    /// Appends one sample (`channels` values, raw units, as the training
    /// series' row). Returns `true` when this sample completes a due window:
    /// the `window`-th sample, and every `stride`-th after it. Values are
    /// not checked: a NaN makes the scores of the windows that hold it
    /// [`Error::NonFiniteOutput`].
    ///
    /// Errors: [`Error::DimensionMismatch`] unless `sample.len() == channels`
    /// (nothing is pushed then).
    pub fn push(&mut self, sample: &[f32]) -> Result<bool, Error> {
        if sample.len() != self.shape.channels {
            return Err(Error::DimensionMismatch {
                argument: "sample",
                expected: self.shape.channels,
                found: sample.len(),
            });
        }
        for &v in sample {
            for half in &mut self.ring {
                if let Some(slot) = half.get_mut(self.next) {
                    *slot = v;
                }
            }
            self.next = if self.next + 1 >= N { 0 } else { self.next + 1 };
            self.filled = if self.filled < N { self.filled + 1 } else { N };
        }
        self.samples = self.samples.saturating_add(1);
        if self.until_due > 1 {
            self.until_due -= 1;
            Ok(false)
        } else {
            self.until_due = self.shape.stride;
            self.windows = self.windows.saturating_add(1);
            Ok(true)
        }
    }

    /// The most recent `window` samples, oldest first, flattened row-major
    /// (`window · channels` values): the model's input.
    ///
    /// Errors: [`Error::WindowNotFull`] before `window` samples are in.
    pub fn window(&self) -> Result<&[f32], Error> {
        let values = self.shape.values();
        let not_full = Error::WindowNotFull {
            samples: usize::try_from(self.samples).unwrap_or(usize::MAX),
            window: self.shape.window,
        };
        if self.filled < values || !self.is_full() {
            return Err(not_full);
        }
        // The newest `values` end just before `next` in the second half.
        let end = self.next + N;
        self.ring.as_flattened().get(end - values..end).ok_or(not_full)
    }

    /// The anomaly score ([`Model::anomaly_score`]) of the most recent
    /// window, whether or not it is due.
    ///
    /// Errors: [`Error::WindowNotFull`] before `window` samples are in,
    /// [`Error::WindowMismatch`] if `model` is not one this shape fits,
    /// otherwise as [`Model::anomaly_score`].
    pub fn score(&mut self, model: &Model<'_>, scratch: &mut [f32]) -> Result<f32, Error> {
        self.shape.check(model)?;
        let x = self.window()?;
        model.anomaly_score(x, scratch)
    }

    /// [`push`](Self::push) then, when a window is due,
    /// [`score`](Self::score): `Ok(Some(score))` for a due window,
    /// `Ok(None)` otherwise. Errors as the two.
    pub fn push_score(&mut self, model: &Model<'_>, sample: &[f32], scratch: &mut [f32]) -> Result<Option<f32>, Error> {
        if self.push(sample)? {
            self.score(model, scratch).map(Some)
        } else {
            Ok(None)
        }
    }
}
