//! Calibrated decisions: the threshold, `is_anomaly`, `verdict` and the
//! tail probability from the stored quantiles; malformed calibrations are
//! typed errors.

use crate::common::*;
use ddaebm_runtime::{Error, Model, TensorName};

/// The test model's file with the given calibration tensors appended.
fn calibrated(quantiles: Option<&[f32]>, threshold: Option<f32>) -> Vec<u8> {
    let spec = random_spec(7);
    let mut tensors = spec.tensors(Wt::F32);
    if let Some(q) = quantiles {
        tensors.push(f32_tensor("calibration.quantiles", &[q.len()], q));
    }
    if let Some(th) = threshold {
        tensors.push(f32_tensor("calibration.threshold", &[1], &[th]));
    }
    assemble(&spec.metadata(Wt::F32), &tensors, 8)
}

#[test]
fn tail_probability_interpolates_the_quantiles() {
    // Levels 0, ¼, ½, ¾, 1 at scores 0, 1, 2, 2, 4 (a tie at ½..¾).
    let bytes = calibrated(Some(&[0.0, 1.0, 2.0, 2.0, 4.0]), Some(3.0));
    let m = Model::from_bytes(&bytes).unwrap();
    assert!(m.is_calibrated());
    assert_eq!((m.threshold(), m.quantile_count()), (Some(3.0), 5));
    let tail = |s: f32| m.tail_probability(s).unwrap();
    assert_eq!(tail(-1.0), 1.0);
    assert_eq!(tail(0.0), 1.0);
    assert_eq!(tail(0.5), 0.875);
    assert_eq!(tail(1.0), 0.75);
    // At the tie the CDF jumps from ½ to ¾.
    assert_eq!(tail(1.999), 1.0 - (1.0 + 0.999) / 4.0);
    assert_eq!(tail(2.0), 0.25);
    assert_eq!(tail(3.0), 0.125);
    assert_eq!(tail(4.0), 0.0);
    assert_eq!(tail(1e30), 0.0);
    assert_eq!(tail(f32::INFINITY), 0.0);
    assert_eq!(tail(f32::NEG_INFINITY), 1.0);
    assert_eq!(m.tail_probability(f32::NAN), Err(Error::NonFiniteOutput));
    // Non-increasing over a fine sweep.
    let mut last = 1.0;
    for k in -100..600 {
        let p = tail(k as f32 / 100.0);
        assert!((0.0..=1.0).contains(&p) && p <= last, "{k}: {p} after {last}");
        last = p;
    }
}

#[test]
fn verdict_and_is_anomaly_follow_the_threshold() {
    let uncalibrated = random_spec(7).build(Wt::F32);
    let plain = Model::from_bytes(&uncalibrated).unwrap();
    let mut scratch = scratch_for(&plain);
    let d = plain.data_dim();
    // Scores of a few readings, to put the threshold between them.
    let xs: Vec<Vec<f32>> = (0..8).map(|k| (0..d).map(|j| (k * 3 + j) as f32 * 0.37 - 1.0).collect()).collect();
    let mut scores: Vec<f32> = xs.iter().map(|x| plain.anomaly_score(x, &mut scratch).unwrap()).collect();
    let threshold = {
        let mut s = scores.clone();
        s.sort_by(f32::total_cmp);
        0.5 * (s[3] + s[4])
    };
    assert!(!plain.is_calibrated());
    assert_eq!(plain.threshold(), None);
    assert_eq!(plain.is_anomaly(&xs[0], &mut scratch), Err(Error::NotCalibrated));
    assert_eq!(plain.tail_probability(0.0), Err(Error::NotCalibrated));

    let lo = scores.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let bytes = calibrated(Some(&[lo, threshold, hi]), Some(threshold));
    let m = Model::from_bytes(&bytes).unwrap();
    let mut flagged = 0;
    for (x, s) in xs.iter().zip(&mut scores) {
        let v = m.verdict(x, &mut scratch).unwrap();
        assert_eq!(v.score.to_bits(), s.to_bits(), "calibration must not change the score");
        assert_eq!(v.is_anomaly, *s > threshold);
        assert_eq!(m.is_anomaly(x, &mut scratch).unwrap(), v.is_anomaly);
        assert_eq!(v.tail_probability, m.tail_probability(*s).unwrap());
        assert_eq!(v.tail_probability > 0.5, *s < threshold, "{s} vs {threshold}");
        flagged += usize::from(v.is_anomaly);
    }
    assert_eq!(flagged, 4);
    // Wrong input length is still the usual error.
    assert!(matches!(m.is_anomaly(&[0.0; 1000], &mut scratch), Err(Error::DimensionMismatch { .. })));
}

#[test]
fn malformed_calibrations_are_refused() {
    let q = TensorName::CalibrationQuantiles;
    let th = TensorName::CalibrationThreshold;
    let load = |b: Vec<u8>| Model::from_bytes(&b).map(|_| ());
    assert_eq!(load(calibrated(Some(&[0.0, 1.0]), None)), Err(Error::MissingTensor(th)));
    assert_eq!(load(calibrated(None, Some(1.0))), Err(Error::MissingTensor(q)));
    assert_eq!(load(calibrated(Some(&[0.0, 2.0, 1.0]), Some(1.0))), Err(Error::InvalidParameter(q)));
    assert_eq!(load(calibrated(Some(&[0.0, f32::NAN]), Some(1.0))), Err(Error::NonFiniteParameter(q)));
    assert_eq!(load(calibrated(Some(&[0.0]), Some(1.0))), Err(Error::ShapeMismatch(q)));
    assert_eq!(load(calibrated(Some(&[0.0, 1.0]), Some(f32::INFINITY))), Err(Error::NonFiniteParameter(th)));
    // The messages say what to do.
    assert!(Error::NotCalibrated.to_string().contains("--calibrate"));
    assert!(Error::InvalidParameter(q).to_string().contains("calibration"));
}
