//! Without the `mixture` cargo feature, a file whose energy base is a
//! Gaussian mixture is refused at load with an error that names the fix,
//! and single-Gaussian files still load.

use crate::common::*;
use ddaebm_runtime::{Error, Model};

#[test]
fn without_the_feature_mixture_files_are_refused_and_gaussian_files_load() {
    let mut s = random_spec_dims(7, 3, 2, 4, &[6]);
    s.base = Some(BaseSpec::mixture(8, s.d, s.steps, 3));
    assert_eq!(Model::from_bytes(&s.build(Wt::F32)).map(|_| ()), Err(Error::MixtureNotBuilt));
    let message = Error::MixtureNotBuilt.to_string();
    assert!(message.contains("`mixture` cargo feature") && message.contains("--base-components 1"), "{message}");
    s.base = Some(BaseSpec::random(8, s.d, s.steps));
    assert_eq!(Model::from_bytes(&s.build(Wt::F32)).unwrap().base_components(), 1);
}
