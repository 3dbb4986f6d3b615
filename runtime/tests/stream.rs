//! The window scorer (bit for bit the scores of the windows `export score
//! --window` cuts, every stride) and field calibration (the exact quantile
//! while it fits, the P² estimate beyond), with their typed errors.

use crate::common::*;
use ddaebm_runtime::field_calibration::{HistogramQuantile, P2Quantile, TailQuantile, FIELD_TAIL};
use ddaebm_runtime::{Error, FieldCalibration, Model, Rng, WindowScorer, WindowShape};

/// A model of D = `window · channels`, with the input contract when `contract`.
fn model_file(window: usize, channels: usize, contract: Option<usize>) -> Vec<u8> {
    let spec = random_spec_dims(5, window * channels, 2, 3, &[6, 5]);
    let mut meta = spec.metadata(Wt::F16);
    if let Some(stride) = contract {
        for (k, v) in
            [("window", window.to_string()), ("window_stride", stride.to_string()), ("channels", channels.to_string())]
        {
            meta.push((k.into(), v));
        }
    }
    assemble(&meta, &spec.tensors(Wt::F16), 8)
}

/// A series of `rows` samples of `channels` values.
fn series(rows: usize, channels: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    (0..rows).map(|_| (0..channels).map(|_| rng.normal() * 2.0 + 1.0).collect()).collect()
}

/// `windows_of(series, window, stride)` of export/src/table.rs: window k =
/// rows k·stride .. k·stride + window, flattened row-major.
fn windows_of(rows: &[Vec<f32>], window: usize, stride: usize) -> Vec<Vec<f32>> {
    let count = (rows.len() - window) / stride + 1;
    (0..count).map(|k| rows[k * stride..k * stride + window].iter().flatten().copied().collect()).collect()
}

fn check_stream<const N: usize>(window: usize, stride: usize, channels: usize) {
    let bytes = model_file(window, channels, None);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = scratch_for(&model);
    let rows = series(40, channels, (window * 100 + stride * 10 + channels) as u64);
    let mut scorer = WindowScorer::<N>::new(&model, WindowShape::new(window, stride, channels)).unwrap();
    let mut got = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let due = scorer.push_score(&model, row, &mut scratch).unwrap();
        assert_eq!(due.is_some(), i + 1 >= window && (i + 1 - window) % stride == 0, "sample {i}");
        assert_eq!(scorer.is_full(), i + 1 >= window);
        got.extend(due);
    }
    let want: Vec<f32> =
        windows_of(&rows, window, stride).iter().map(|w| model.anomaly_score(w, &mut scratch).unwrap()).collect();
    assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "window {k} of ({window}, {stride}, {channels}), capacity {N}");
    }
    assert_eq!(scorer.samples(), rows.len() as u64);
    assert_eq!(scorer.windows(), want.len() as u64);
}

#[test]
fn window_scores_are_the_hosts_windows_bit_for_bit() {
    check_stream::<4>(4, 1, 1);
    check_stream::<8>(4, 1, 2);
    check_stream::<8>(4, 3, 2);
    check_stream::<9>(3, 2, 3);
    check_stream::<1>(1, 1, 1);
    // A capacity larger than the window: the newest values are taken.
    check_stream::<64>(4, 1, 2);
    check_stream::<13>(3, 5, 3);
}

#[test]
fn window_after_reset_and_the_assembled_window() {
    let bytes = model_file(3, 2, None);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = scratch_for(&model);
    let mut s = WindowScorer::<10>::new(&model, WindowShape::new(3, 2, 2)).unwrap();
    assert_eq!(s.window(), Err(Error::WindowNotFull { samples: 0, window: 3 }));
    for i in 0..7 {
        s.push(&[i as f32, 10.0 + i as f32]).unwrap();
    }
    assert_eq!(s.window().unwrap(), &[4.0, 14.0, 5.0, 15.0, 6.0, 16.0]);
    assert_eq!(
        s.score(&model, &mut scratch).unwrap(),
        model.anomaly_score(&[4.0, 14.0, 5.0, 15.0, 6.0, 16.0], &mut scratch).unwrap()
    );
    s.reset();
    assert_eq!((s.samples(), s.windows(), s.is_full()), (0, 0, false));
    assert_eq!(s.score(&model, &mut scratch), Err(Error::WindowNotFull { samples: 0, window: 3 }));
    assert_eq!(s.push(&[1.0, 2.0]), Ok(false));
    assert_eq!(s.push(&[1.0, 2.0]), Ok(false));
    assert_eq!(s.push(&[1.0, 2.0]), Ok(true));
    assert_eq!(s.push(&[1.0, 2.0]), Ok(false));
    assert_eq!(s.push(&[1.0, 2.0]), Ok(true));
}

#[test]
fn window_errors_are_typed() {
    let bytes = model_file(4, 2, None);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = scratch_for(&model);
    let new = |shape| WindowScorer::<16>::new(&model, shape).err();
    assert_eq!(new(WindowShape::new(0, 1, 2)), Some(Error::InvalidWindowShape { window: 0, stride: 1, channels: 2 }));
    assert_eq!(new(WindowShape::new(4, 0, 2)), Some(Error::InvalidWindowShape { window: 4, stride: 0, channels: 2 }));
    assert_eq!(new(WindowShape::new(4, 1, 0)), Some(Error::InvalidWindowShape { window: 4, stride: 1, channels: 0 }));
    assert_eq!(new(WindowShape::new(2, 1, 2)), Some(Error::WindowMismatch { window: 2, channels: 2, data_dim: 8 }));
    assert_eq!(new(WindowShape::new(usize::MAX, 1, 2)).map(|e| matches!(e, Error::WindowMismatch { .. })), Some(true));
    assert_eq!(
        WindowScorer::<7>::new(&model, WindowShape::new(4, 1, 2)).err(),
        Some(Error::WindowTooLarge { values: 8, capacity: 7 })
    );
    let mut s = WindowScorer::<8>::new(&model, WindowShape::new(4, 1, 2)).unwrap();
    assert_eq!(s.push(&[1.0]), Err(Error::DimensionMismatch { argument: "sample", expected: 2, found: 1 }));
    assert_eq!(s.samples(), 0, "a rejected sample is not pushed");
    for _ in 0..3 {
        s.push(&[1.0, 2.0]).unwrap();
    }
    assert_eq!(s.score(&model, &mut scratch), Err(Error::WindowNotFull { samples: 3, window: 4 }));
    s.push(&[f32::NAN, 2.0]).unwrap();
    assert_eq!(s.score(&model, &mut scratch), Err(Error::NonFiniteOutput));
    assert_eq!(
        s.score(&model, &mut scratch[..3]).err().map(|e| matches!(e, Error::ScratchTooSmall { .. })),
        Some(true)
    );
    // Another model's shape.
    let other_bytes = model_file(3, 2, None);
    let other = Model::from_bytes(&other_bytes).unwrap();
    assert_eq!(s.score(&other, &mut scratch), Err(Error::WindowMismatch { window: 4, channels: 2, data_dim: 6 }));
    // The error messages name the fix.
    assert!(Error::WindowTooLarge { values: 8, capacity: 7 }.to_string().contains("WindowScorer::<8>"));
    assert!(Error::WindowMismatch { window: 2, channels: 2, data_dim: 8 }.to_string().contains("--window"));
}

#[test]
fn the_model_files_window_contract_is_the_default() {
    let bytes = model_file(4, 2, Some(3));
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(WindowShape::of_model(&model), Ok(WindowShape::new(4, 3, 2)));
    let s = WindowScorer::<8>::for_model(&model).unwrap();
    assert_eq!(s.shape(), WindowShape::new(4, 3, 2));
    let plain = model_file(4, 2, None);
    let plain = Model::from_bytes(&plain).unwrap();
    assert_eq!(WindowShape::of_model(&plain), Err(Error::NoWindowContract));
    assert_eq!(WindowScorer::<8>::for_model(&plain).err(), Some(Error::NoWindowContract));
}

/// NumPy's linear-interpolation quantile, f64.
fn numpy_quantile(values: &[f32], level: f64) -> f64 {
    let mut s: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    s.sort_by(f64::total_cmp);
    let h = (s.len() - 1) as f64 * level;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    s[lo] + (h - lo as f64) * (s[hi] - s[lo])
}

fn scores(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    // A skewed, positive distribution like reconstruction scores.
    (0..n).map(|_| (rng.normal() * 0.6).exp()).collect()
}

#[test]
fn tail_quantile_is_exact_while_it_fits() {
    for (n, level) in [(1, 0.99), (2, 0.5), (7, 0.9), (200, 0.99), (1000, 0.99), (5000, 0.99), (300, 0.8), (6300, 0.99)]
    {
        let v = scores(n, n as u64);
        let mut t = TailQuantile::<FIELD_TAIL>::new(level as f32);
        v.iter().for_each(|&s| t.observe(s));
        let fits = TailQuantile::<FIELD_TAIL>::needed(n as u32, level as f32) as usize <= FIELD_TAIL;
        let exact = numpy_quantile(&v, level);
        match t.estimate() {
            Some(e) => {
                assert!(fits, "{n} at {level}");
                assert!((e as f64 - exact).abs() <= 1e-6 * exact.abs().max(1.0), "{n} at {level}: {e} vs {exact}");
            }
            None => assert!(!fits, "{n} at {level}: fits but no estimate"),
        }
    }
    // Ties and a constant stream.
    let mut t = TailQuantile::<4>::new(0.99);
    (0..100).for_each(|_| t.observe(3.5));
    assert_eq!(t.estimate(), Some(3.5));
    assert_eq!(TailQuantile::<4>::new(0.5).estimate(), None);
}

#[test]
fn p2_and_histogram_estimates_are_close() {
    for n in [200, 1000, 5000, 20000] {
        let v = scores(n, 99 + n as u64);
        let exact = numpy_quantile(&v, 0.99);
        let median = numpy_quantile(&v, 0.5);
        let mut p2 = P2Quantile::new(0.99);
        let mut h = HistogramQuantile::<64>::new(0.99);
        for &s in &v {
            p2.observe(s);
            h.observe(s);
        }
        // Within a fifth of the distance from the median to the quantile.
        for (name, e) in [("P2", p2.estimate().unwrap()), ("histogram", h.estimate().unwrap())] {
            let err = (e as f64 - exact).abs() / (exact - median);
            assert!(err < 0.2, "{name}, n = {n}: {e} vs {exact} ({err})");
        }
    }
    // Fewer values than the markers / the warm-up: exact.
    let mut p2 = P2Quantile::new(0.5);
    let mut h = HistogramQuantile::<8>::new(0.5);
    for s in [3.0, 1.0, 2.0] {
        p2.observe(s);
        h.observe(s);
    }
    assert_eq!((p2.estimate(), h.estimate()), (Some(2.0), Some(2.0)));
    assert_eq!((P2Quantile::new(0.5).estimate(), HistogramQuantile::<8>::new(0.5).estimate()), (None, None));
}

#[test]
fn field_calibration_learns_then_flags() {
    let bytes = model_file(2, 1, None);
    let plain = Model::from_bytes(&bytes).unwrap();
    let v = scores(1000, 3);
    let mut f = FieldCalibration::new(0.99, 1000).unwrap();
    assert!(f.is_exact());
    assert_eq!(f.threshold(&plain), Err(Error::FieldCalibrationIncomplete { seen: 0, needed: 1000 }));
    assert_eq!(f.is_anomaly(&plain, 1.0), Err(Error::FieldCalibrationIncomplete { seen: 0, needed: 1000 }));
    assert_eq!(f.observe(f32::NAN), Err(Error::NonFiniteOutput));
    assert_eq!(f.observe(f32::INFINITY), Err(Error::NonFiniteOutput));
    for (i, &s) in v.iter().enumerate() {
        assert_eq!(f.observe(s), Ok(i == 999));
    }
    assert_eq!((f.seen(), f.windows(), f.is_complete()), (1000, 1000, true));
    let t = f.threshold(&plain).unwrap();
    assert_eq!(f.learned_threshold(), Some(t));
    assert!((t as f64 - numpy_quantile(&v, 0.99)).abs() < 1e-5);
    // Later scores are ignored.
    assert_eq!(f.observe(1e9), Ok(true));
    assert_eq!(f.learned_threshold(), Some(t));
    assert_eq!(f.is_anomaly(&plain, t), Ok(false));
    assert_eq!(f.is_anomaly(&plain, t * 1.001), Ok(true));
    assert_eq!(f.is_anomaly(&plain, f32::NAN), Err(Error::NonFiniteOutput));
    let flagged = v.iter().filter(|&&s| f.is_anomaly(&plain, s).unwrap()).count();
    assert_eq!(flagged, 10, "1 % of the calibration scores are above the 0.99 quantile");
    f.restart();
    assert_eq!((f.seen(), f.is_complete(), f.learned_threshold()), (0, false, None));

    // Beyond the exact range: the P² estimate.
    let big = scores(20_000, 4);
    let mut f = FieldCalibration::new(0.99, 20_000).unwrap();
    assert!(!f.is_exact());
    big.iter().for_each(|&s| {
        f.observe(s).unwrap();
    });
    let (exact, median) = (numpy_quantile(&big, 0.99), numpy_quantile(&big, 0.5));
    let t = f.learned_threshold().unwrap() as f64;
    assert!((t - exact).abs() / (exact - median) < 0.1, "{t} vs {exact}");

    assert_eq!(FieldCalibration::new(1.0, 10).err(), Some(Error::InvalidCalibrationLevel));
    assert_eq!(FieldCalibration::new(0.0, 10).err(), Some(Error::InvalidCalibrationLevel));
    assert_eq!(FieldCalibration::new(f32::NAN, 10).err(), Some(Error::InvalidCalibrationLevel));
    assert_eq!(
        FieldCalibration::new(0.99, 0).err(),
        Some(Error::FieldCalibrationWindows { windows: 0, minimum: 1, maximum: u32::MAX })
    );
}

#[test]
fn field_calibration_falls_back_to_the_files_threshold() {
    let spec = random_spec_dims(5, 2, 2, 3, &[6, 5]);
    let mut tensors = spec.tensors(Wt::F32);
    tensors.push(f32_tensor("calibration.quantiles", &[2], &[0.0, 1.0]));
    tensors.push(f32_tensor("calibration.threshold", &[1], &[0.75]));
    let bytes = assemble(&spec.metadata(Wt::F32), &tensors, 8);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut f = FieldCalibration::new(0.5, 3).unwrap();
    assert_eq!(f.threshold(&model), Ok(0.75));
    assert_eq!(f.is_anomaly(&model, 0.8), Ok(true));
    for s in [1.0, 2.0, 3.0] {
        f.observe(s).unwrap();
    }
    assert_eq!(f.threshold(&model), Ok(2.0));
    assert_eq!(f.is_anomaly(&model, 0.8), Ok(false));
}
