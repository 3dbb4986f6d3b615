//! Streaming quantile estimators in fixed memory (field calibration).
//!
//! Three ways to estimate the `level`-quantile of a stream of scores without
//! storing it, all `no_std`, allocation-free and panic-free:
//!
//! * [`TailQuantile`]: keeps the K largest scores; exact (NumPy's linear
//!   interpolation of the order statistics, as `export --calibrate`) while
//!   `n − ⌊(n − 1)·level⌋ <= K`;
//! * [`P2Quantile`]: the P² algorithm (Jain & Chlamtac 1985), five markers;
//! * [`HistogramQuantile`]: B counting bins over a range taken from the
//!   first scores, doubled (neighbouring bins merged) when a score falls
//!   above it.
//!
//! [`FieldCalibration`] uses them to learn the alarm threshold on the device
//! from its first N windows of normal operation.

use crate::error::Error;
use crate::model::Model;

/// NumPy's linear-interpolation quantile position for `n` sorted values:
/// `(lower index, fraction)` with `h = (n − 1)·level`.
fn position(n: u32, level: f32) -> (u32, f32) {
    let h = n.saturating_sub(1) as f32 * level;
    let lo = libm::floorf(h);
    // `lo` is in 0..n (level < 1), so the conversion is exact.
    (lo as u32, h - lo)
}

/// Shifts `a[at..last]` one place right (dropping `a[last]`) and writes `x`
/// at `at`: an insertion, without the generic rotate's code size.
fn insert_at(a: &mut [f32], at: usize, last: usize, x: f32) {
    let mut j = last;
    while j > at {
        if let (Some(&prev), true) = (a.get(j - 1), j < a.len()) {
            if let Some(slot) = a.get_mut(j) {
                *slot = prev;
            }
        }
        j -= 1;
    }
    if let Some(slot) = a.get_mut(at) {
        *slot = x;
    }
}

/// The exact `level`-quantile of a stream, from its `K` largest values.
#[derive(Clone, Copy, Debug)]
pub struct TailQuantile<const K: usize> {
    level: f32,
    count: u32,
    /// The largest values seen, descending; `len` of them are valid.
    top: [f32; K],
    len: usize,
}

impl<const K: usize> TailQuantile<K> {
    /// An empty estimator of the `level`-quantile (`0 < level < 1`, not
    /// checked here).
    pub const fn new(level: f32) -> Self {
        TailQuantile { level, count: 0, top: [0.0; K], len: 0 }
    }

    /// The number of values observed.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// How many largest values an exact quantile of `n` values at `level`
    /// needs: `n − ⌊(n − 1)·level⌋` (the lower order statistic and all above it).
    pub fn needed(n: u32, level: f32) -> u32 {
        n - position(n, level).0
    }

    /// Adds a value (finite; not checked here).
    pub fn observe(&mut self, x: f32) {
        self.count = self.count.saturating_add(1);
        // Insertion point: after every value >= x (descending order).
        let valid = self.top.get(..self.len).unwrap_or(&[]);
        let at = valid.iter().position(|&v| v < x).unwrap_or(self.len);
        if at >= K {
            return;
        }
        let keep = self.len.min(K - 1);
        insert_at(&mut self.top, at, keep, x);
        self.len = keep + 1;
    }

    /// The quantile, or `None` while nothing was observed or once more than
    /// K of the largest values would be needed.
    pub fn estimate(&self) -> Option<f32> {
        let n = self.count;
        if n == 0 {
            return None;
        }
        let (lo, frac) = position(n, self.level);
        // Ascending rank r is descending index n − 1 − r.
        let below = self.top.get(..self.len)?.get((n - 1 - lo) as usize).copied()?;
        if lo + 1 >= n {
            return Some(below);
        }
        let above = self.top.get((n - 2 - lo) as usize).copied()?;
        Some(below + frac * (above - below))
    }
}

/// The P² estimate (Jain & Chlamtac, 1985) of the `level`-quantile of a
/// stream: five marker heights and positions, f32.
#[derive(Clone, Copy, Debug)]
pub struct P2Quantile {
    level: f32,
    count: u32,
    /// Marker heights; the first `count` values, sorted, while count < 5.
    q: [f32; 5],
    /// Marker positions (1-based).
    n: [f32; 5],
}

impl P2Quantile {
    /// An empty estimator of the `level`-quantile (`0 < level < 1`, not
    /// checked here).
    pub const fn new(level: f32) -> Self {
        P2Quantile { level, count: 0, q: [0.0; 5], n: [1.0, 2.0, 3.0, 4.0, 5.0] }
    }

    /// The number of values observed.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Adds a value (finite; not checked here).
    pub fn observe(&mut self, x: f32) {
        let (q, n) = (&mut self.q, &mut self.n);
        if self.count < 5 {
            // Insertion sort of the first five values.
            let len = self.count as usize;
            let at = q.get(..len).unwrap_or(&[]).iter().position(|&v| v > x).unwrap_or(len);
            insert_at(q, at, len, x);
            self.count += 1;
            return;
        }
        // The cell k with q[k] <= x < q[k + 1], extending the extremes.
        let k = if x < q[0] {
            q[0] = x;
            0
        } else if x < q[1] {
            0
        } else if x < q[2] {
            1
        } else if x < q[3] {
            2
        } else if x <= q[4] {
            3
        } else {
            q[4] = x;
            3
        };
        for ni in n.iter_mut().skip(k + 1) {
            *ni += 1.0;
        }
        self.count = self.count.saturating_add(1);
        let m = (self.count - 1) as f32;
        let p = self.level;
        let desired = [1.0, 1.0 + m * p * 0.5, 1.0 + m * p, 1.0 + m * (1.0 + p) * 0.5, 1.0 + m];
        for i in 1..4 {
            let d = desired[i] - n[i];
            if (d >= 1.0 && n[i + 1] - n[i] > 1.0) || (d <= -1.0 && n[i - 1] - n[i] < -1.0) {
                let s = if d > 0.0 { 1.0 } else { -1.0 };
                let parabolic = q[i]
                    + s / (n[i + 1] - n[i - 1])
                        * ((n[i] - n[i - 1] + s) * (q[i + 1] - q[i]) / (n[i + 1] - n[i])
                            + (n[i + 1] - n[i] - s) * (q[i] - q[i - 1]) / (n[i] - n[i - 1]));
                q[i] = if q[i - 1] < parabolic && parabolic < q[i + 1] {
                    parabolic
                } else if s > 0.0 {
                    q[i] + (q[i + 1] - q[i]) / (n[i + 1] - n[i])
                } else {
                    q[i] - (q[i - 1] - q[i]) / (n[i - 1] - n[i])
                };
                n[i] += s;
            }
        }
    }

    /// The estimate (exact while fewer than six values were observed), or
    /// `None` before the first.
    pub fn estimate(&self) -> Option<f32> {
        match self.count {
            0 => None,
            c @ 1..=5 => {
                let (lo, frac) = position(c, self.level);
                let below = self.q.get(lo as usize).copied()?;
                let above = self.q.get(lo as usize + 1).copied().unwrap_or(below);
                Some(below + frac * (above - below))
            }
            _ => Some(self.q[2]),
        }
    }
}

/// Scores kept exactly to set a [`HistogramQuantile`]'s range.
pub const HISTOGRAM_WARMUP: usize = 16;

/// The `level`-quantile of a stream from `B` counting bins. The first
/// [`HISTOGRAM_WARMUP`] values are kept; their range `[min, max]` is
/// stretched to `[min, max + (max − min)]` and split into B bins. A later
/// value above the range doubles the bin width (bins merged pairwise) until
/// it fits; values below it count in the first bin (the estimator is meant
/// for upper quantiles). The quantile is interpolated linearly within its
/// bin and clamped to the observed `[min, max]`.
#[derive(Clone, Copy, Debug)]
pub struct HistogramQuantile<const B: usize> {
    level: f32,
    count: u32,
    warm: [f32; HISTOGRAM_WARMUP],
    bins: [u32; B],
    lo: f32,
    width: f32,
    min: f32,
    max: f32,
}

impl<const B: usize> HistogramQuantile<B> {
    /// An empty estimator of the `level`-quantile (`0 < level < 1`, not
    /// checked here). B must be even and at least 2 (a compile-time check).
    pub const fn new(level: f32) -> Self {
        const { assert!(B >= 2 && B % 2 == 0, "HistogramQuantile needs an even number of bins, at least 2") };
        HistogramQuantile {
            level,
            count: 0,
            warm: [0.0; HISTOGRAM_WARMUP],
            bins: [0; B],
            lo: 0.0,
            width: 0.0,
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
        }
    }

    /// The number of values observed.
    pub fn count(&self) -> u32 {
        self.count
    }

    fn bin(&mut self, x: f32) {
        while x >= self.lo + self.width * B as f32 {
            for i in 0..B / 2 {
                let merged = self.bins.get(2 * i..2 * i + 2).map_or(0, |p| p.iter().sum());
                if let Some(b) = self.bins.get_mut(i) {
                    *b = merged;
                }
            }
            for b in self.bins.iter_mut().skip(B / 2) {
                *b = 0;
            }
            self.width *= 2.0;
        }
        let i = libm::floorf((x - self.lo) / self.width);
        let i = if i > 0.0 { (i as usize).min(B - 1) } else { 0 };
        if let Some(b) = self.bins.get_mut(i) {
            *b = b.saturating_add(1);
        }
    }

    /// Adds a value (finite; not checked here).
    pub fn observe(&mut self, x: f32) {
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        let c = self.count as usize;
        self.count = self.count.saturating_add(1);
        if c < HISTOGRAM_WARMUP {
            if let Some(w) = self.warm.get_mut(c) {
                *w = x;
            }
            if c + 1 == HISTOGRAM_WARMUP {
                self.lo = self.min;
                let span = self.max - self.min;
                let span = if span > 0.0 { span } else { libm::fabsf(self.max).max(1e-30) };
                self.width = 2.0 * span / B as f32;
                let warm = self.warm;
                for w in warm {
                    self.bin(w);
                }
            }
            return;
        }
        self.bin(x);
    }

    /// The estimate (exact over the first [`HISTOGRAM_WARMUP`] values), or
    /// `None` before the first.
    pub fn estimate(&self) -> Option<f32> {
        let n = self.count;
        if n == 0 {
            return None;
        }
        let (lo, frac) = position(n, self.level);
        if (n as usize) < HISTOGRAM_WARMUP {
            let mut sorted = self.warm;
            let s = sorted.get_mut(..n as usize)?;
            s.sort_unstable_by(f32::total_cmp);
            let below = s.get(lo as usize).copied()?;
            let above = s.get(lo as usize + 1).copied().unwrap_or(below);
            return Some(below + frac * (above - below));
        }
        let h = lo as f32 + frac;
        let mut before = 0u32;
        for (j, &c) in self.bins.iter().enumerate() {
            if c > 0 && (before + c) as f32 > h {
                let r = h - before as f32;
                let x = self.lo + self.width * (j as f32 + (r + 0.5) / c as f32);
                return Some(x.clamp(self.min, self.max));
            }
            before += c;
        }
        Some(self.max)
    }
}

/// How many of the largest scores [`FieldCalibration`] keeps: its threshold
/// is exact while `N − ⌊(N − 1)·level⌋ <= FIELD_TAIL` (N = 6,300 windows
/// at level 0.99), the P² estimate otherwise.
pub const FIELD_TAIL: usize = 64;

/// Learns the alarm threshold on the device: the `level`-quantile of the
/// anomaly scores of its first `windows` windows, taken to be normal
/// operation (see the [module](self) documentation).
///
/// Feed it scores with [`observe`](Self::observe); once it has seen
/// `windows` of them it holds the learned threshold and ignores later
/// scores. [`threshold`](Self::threshold) and
/// [`is_anomaly`](Self::is_anomaly) use the learned threshold when there is
/// one and the model file's calibrated threshold (`export --calibrate`)
/// until then. Fixed memory (`size_of::<FieldCalibration>()` bytes, no
/// allocation): the [`FIELD_TAIL`] largest scores, which give the exact
/// quantile (the one `export --calibrate` computes from the same scores, up
/// to f32 rounding of the interpolation) while `windows − ⌊(windows −
/// 1)·level⌋ <= FIELD_TAIL`, and a [`P2Quantile`] for larger runs.
#[derive(Clone, Copy, Debug)]
pub struct FieldCalibration {
    needed: u32,
    tail: TailQuantile<FIELD_TAIL>,
    p2: P2Quantile,
    learned: Option<f32>,
}

impl FieldCalibration {
    /// Learns the `level`-quantile (`0 < level < 1`, e.g. 0.99) of the
    /// scores of the next `windows` windows (at least 1).
    ///
    /// Errors: [`Error::InvalidCalibrationLevel`] for a level outside
    /// (0, 1), [`Error::FieldCalibrationWindows`] for 0 windows.
    pub fn new(level: f32, windows: u32) -> Result<FieldCalibration, Error> {
        if !(level > 0.0 && level < 1.0) {
            return Err(Error::InvalidCalibrationLevel);
        }
        if windows == 0 {
            return Err(Error::FieldCalibrationWindows { windows, minimum: 1, maximum: u32::MAX });
        }
        Ok(FieldCalibration {
            needed: windows,
            tail: TailQuantile::new(level),
            p2: P2Quantile::new(level),
            learned: None,
        })
    }

    /// Adds the score of one normal window; returns whether the calibration
    /// is complete (it is from the `windows`-th score on; later scores are
    /// ignored).
    ///
    /// Errors: [`Error::NonFiniteOutput`] for a NaN or infinite score (not
    /// counted).
    pub fn observe(&mut self, score: f32) -> Result<bool, Error> {
        if self.learned.is_some() {
            return Ok(true);
        }
        if !score.is_finite() {
            return Err(Error::NonFiniteOutput);
        }
        self.tail.observe(score);
        self.p2.observe(score);
        if self.tail.count() >= self.needed {
            self.learned = self.tail.estimate().or(self.p2.estimate());
        }
        Ok(self.learned.is_some())
    }

    /// Whether the calibration has seen its `windows` scores.
    pub fn is_complete(&self) -> bool {
        self.learned.is_some()
    }

    /// Scores observed so far (at most `windows`).
    pub fn seen(&self) -> u32 {
        self.tail.count()
    }

    /// The number of windows the calibration learns from.
    pub fn windows(&self) -> u32 {
        self.needed
    }

    /// Whether the learned threshold is (or will be) the exact quantile
    /// rather than the P² estimate.
    pub fn is_exact(&self) -> bool {
        TailQuantile::<FIELD_TAIL>::needed(self.needed, self.tail.level) as usize <= FIELD_TAIL
    }

    /// The learned threshold, once complete.
    pub fn learned_threshold(&self) -> Option<f32> {
        self.learned
    }

    /// The threshold to flag with: the learned one once complete, the
    /// model file's calibrated threshold before.
    ///
    /// Errors: [`Error::FieldCalibrationIncomplete`] while learning when
    /// the file holds no calibration.
    pub fn threshold(&self, model: &Model<'_>) -> Result<f32, Error> {
        self.learned
            .or(model.threshold())
            .ok_or(Error::FieldCalibrationIncomplete { seen: self.seen(), needed: self.needed })
    }

    /// Whether `score` is above [`threshold`](Self::threshold).
    ///
    /// Errors: as [`threshold`](Self::threshold); [`Error::NonFiniteOutput`]
    /// for a NaN score.
    pub fn is_anomaly(&self, model: &Model<'_>, score: f32) -> Result<bool, Error> {
        if score.is_nan() {
            return Err(Error::NonFiniteOutput);
        }
        Ok(score > self.threshold(model)?)
    }

    /// Forgets the scores and the learned threshold: learns again from the
    /// next `windows` scores (e.g. after the machine was serviced).
    pub fn restart(&mut self) {
        let level = self.tail.level;
        self.tail = TailQuantile::new(level);
        self.p2 = P2Quantile::new(level);
        self.learned = None;
    }
}
