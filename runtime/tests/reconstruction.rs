//! The reconstruction anomaly score: what the file declares is what
//! `anomaly_score` computes, it matches an f64 reference of its documented
//! definition, it is deterministic, and files that cannot support it are
//! refused with typed errors. Without the `reconstruction` feature
//! (`cargo test -p ddaebm-runtime --no-default-features`), such files are
//! refused at load and energy files still score.

use crate::common::*;
#[cfg(feature = "reconstruction")]
use ddaebm_runtime::{Rng, TensorName, RECONSTRUCTION_SEED};
use ddaebm_runtime::{Error, Model, ScoreKind};

const A_BAR: [f32; 3] = [0.8, 0.5, 0.2];
const SIGMA_BAR: [f32; 3] = [0.6, 0.866, 0.98];

/// The random test model (D, nz, T = 3 steps) with the reconstruction
/// tensors and the given metadata additions.
fn file(spec: &Spec, extra_meta: &[(&str, &str)], with_tensors: bool) -> Vec<u8> {
    let mut meta = spec.metadata(Wt::F32);
    meta.extend(extra_meta.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut tensors = spec.tensors(Wt::F32);
    if with_tensors {
        tensors.push(f32_tensor("schedule.a_bar", &[spec.steps], &A_BAR[..spec.steps]));
        tensors.push(f32_tensor("schedule.sigma_bar", &[spec.steps], &SIGMA_BAR[..spec.steps]));
    }
    assemble(&meta, &tensors, 8)
}

fn spec() -> Spec {
    random_spec_dims(5, 3, 2, 3, &[7, 5])
}

#[cfg(feature = "reconstruction")]
#[test]
fn reconstruction_score_matches_its_definition() {
    let s = spec();
    let bytes = file(&s, &[("anomaly_score", "reconstruction"), ("reconstruction_draws", "4")], true);
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!(m.score_kind(), ScoreKind::Reconstruction);
    let mut scratch = scratch_for(&m);
    for k in 0..6 {
        let x: Vec<f32> = (0..3).map(|j| (k * 3 + j) as f32 * 0.41 - 2.0).collect();
        let score = m.anomaly_score(&x, &mut scratch).unwrap();
        assert_eq!(score.to_bits(), m.reconstruction_score(&x, &mut scratch).unwrap().to_bits());
        // f64 reference: the same draws, the documented formula.
        let xn: Vec<f64> = x.iter().enumerate().map(|(j, &v)| f64::from((v - s.mean[j]) * s.inv_std[j])).collect();
        let mut rng = Rng::new(RECONSTRUCTION_SEED);
        let mut total = 0.0;
        for _ in 0..4 {
            let mut input: Vec<f64> = xn
                .iter()
                .map(|&v| f64::from(A_BAR[0]) * v + f64::from(SIGMA_BAR[0]) * f64::from(rng.normal()))
                .collect();
            input.extend([0.0, 0.0]);
            let out = reference_forward(&s.generator, 0, &input, Wt::F32);
            total += xn.iter().zip(&out).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
        }
        let want = total / 4.0;
        assert!(close(f64::from(score), want, 1e-4), "{score} vs {want}");
        assert!(score >= 0.0);
    }
}

#[cfg(feature = "reconstruction")]
#[test]
fn energy_files_keep_the_energy_score_and_can_still_reconstruct() {
    let s = spec();
    let bytes = file(&s, &[], true);
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!(m.score_kind(), ScoreKind::Energy);
    let mut scratch = scratch_for(&m);
    let x = [0.3f32, -1.0, 2.0];
    let e = m.energy(&x, 0, &mut scratch).unwrap();
    assert_eq!(m.anomaly_score(&x, &mut scratch).unwrap().to_bits(), (-e).to_bits());
    // The reconstruction score is available (default draws) when the tensors are there.
    assert!(m.reconstruction_score(&x, &mut scratch).unwrap() >= 0.0);
    // Without them (files from before they were added), a typed error.
    let old = Model::from_bytes(&file(&s, &[], false)).map(|_| ()).and_then(|_| Ok(()));
    assert!(old.is_ok());
    let old_bytes = file(&s, &[], false);
    let old = Model::from_bytes(&old_bytes).unwrap();
    assert_eq!(old.reconstruction_score(&x, &mut scratch), Err(Error::MissingTensor(TensorName::ABar)));
    // The scratch must hold 2W + D now.
    let mut small = vec![0f32; m.scratch_len() - 1];
    assert!(matches!(m.reconstruction_score(&x, &mut small), Err(Error::ScratchTooSmall { .. })));
}

#[cfg(feature = "reconstruction")]
#[test]
fn bad_reconstruction_declarations_are_refused() {
    let s = spec();
    let load = |b: Vec<u8>| Model::from_bytes(&b).map(|_| ());
    assert_eq!(
        load(file(&s, &[("anomaly_score", "reconstruction"), ("reconstruction_draws", "4")], false)),
        Err(Error::MissingTensor(TensorName::ABar))
    );
    assert_eq!(
        load(file(&s, &[("anomaly_score", "reconstruction")], true)),
        Err(Error::MissingMetadata("reconstruction_draws"))
    );
    assert_eq!(
        load(file(&s, &[("anomaly_score", "reconstruction"), ("reconstruction_draws", "0")], true)),
        Err(Error::MetadataOutOfRange("reconstruction_draws"))
    );
    assert_eq!(load(file(&s, &[("anomaly_score", "likelihood")], true)), Err(Error::BadMetadata("anomaly_score")));
}

#[cfg(not(feature = "reconstruction"))]
#[test]
fn without_the_feature_reconstruction_files_are_refused_and_energy_files_score() {
    let s = spec();
    let load = |b: &[u8]| Model::from_bytes(b).map(|_| ());
    let declared = file(&s, &[("anomaly_score", "reconstruction"), ("reconstruction_draws", "4")], true);
    assert_eq!(load(&declared), Err(Error::ReconstructionNotBuilt));
    let message = Error::ReconstructionNotBuilt.to_string();
    assert!(message.contains("`reconstruction` cargo feature") && message.contains("--score energy"), "{message}");
    // An energy file with the schedule tensors loads and scores.
    let energy = file(&s, &[], true);
    let m = Model::from_bytes(&energy).unwrap();
    assert_eq!(m.score_kind(), ScoreKind::Energy);
    let mut scratch = scratch_for(&m);
    let x = [0.3f32, -0.2, 0.1];
    assert_eq!(m.anomaly_score(&x, &mut scratch).unwrap(), -m.energy(&x, 0, &mut scratch).unwrap());
}
