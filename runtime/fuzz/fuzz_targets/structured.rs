//! Structure-aware fuzzing: the fuzzer's bytes drive a generator of
//! valid-looking model files (`ddaebm_runtime_fuzz::gen`: shapes up to and
//! past the limits, every dtype, int8 scales, base measure, calibration,
//! reconstruction, input contract, extreme numbers, a correct checksum), so
//! loading reaches validation and then the kernels, the sampler and the
//! scores. On every file: all of `check` (nothing panics, every `Ok` is
//! finite, misuse is an error), then the differential check of every kernel
//! path against the portable reference (`differential`).
#![no_main]

use arbitrary::Unstructured;
use ddaebm_runtime_fuzz::{check, differential, gen};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(file) = gen::model_file(&mut u) else {
        return;
    };
    check(&file);
    differential::compare_kernel_paths(&file);
});
