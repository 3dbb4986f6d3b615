//! Every x86-64 kernel path (portable, SSE2, AVX, AVX2, AVX-512; those the CPU has)
//! gives the same bits as the portable reference, on random models of every
//! weight dtype with widths that exercise the SIMD bodies and their tails:
//! energy at every step, batched energy, the anomaly score and the sampler.
#![cfg(target_arch = "x86_64")]

use crate::common::*;
use ddaebm_runtime::kernel_path::{force_kernel_path, widest_kernel_path, KernelPath};
use ddaebm_runtime::{Model, Rng};

/// Bits of everything the model computes on a few inputs.
fn results(m: &Model<'_>, n: usize) -> Vec<u32> {
    let d = m.data_dim();
    let mut scratch = vec![0.0f32; m.scratch_len().max(m.batch_scratch_len(n))];
    let xs: Vec<f32> = (0..n * d).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.173).collect();
    let mut out = Vec::new();
    for x in xs.chunks(d) {
        for t in 0..m.steps() {
            out.push(m.energy(x, t, &mut scratch).unwrap().to_bits());
        }
        out.push(m.anomaly_score(x, &mut scratch).unwrap().to_bits());
    }
    let mut batch = vec![0.0f32; n];
    m.energy_batch(&xs, 0, &mut batch, &mut scratch).unwrap();
    out.extend(batch.iter().map(|v| v.to_bits()));
    let mut s = vec![0.0f32; d];
    m.sample(&mut Rng::new(7), &mut s, &mut scratch).unwrap();
    out.extend(s.iter().map(|v| v.to_bits()));
    out
}

#[test]
fn every_kernel_path_gives_the_portable_bits() {
    let paths: Vec<KernelPath> = KernelPath::ALL.into_iter().filter(|&p| p <= widest_kernel_path()).collect();
    assert!(paths.len() >= 2, "x86-64 has at least the portable and SSE2 paths");
    let mut compared = 0;
    // Widths past the SIMD bodies' tails, odd row counts, and (530) more
    // than one int8 QBLOCK; 21 inputs span more than one batch cache block
    // (16) plus a register block of 4 and a leftover one.
    for (seed, d, widths) in
        [(1u64, 3usize, vec![5usize, 7]), (2, 17, vec![33, 40]), (3, 40, vec![71, 9]), (4, 6, vec![530, 3])]
    {
        let mut spec = random_spec_dims(seed, d, 2, 3, &widths);
        spec.base = Some(BaseSpec::orthonormal(seed, d, 3));
        for wt in Wt::ALL {
            let bytes = spec.build(wt);
            let m = Model::from_bytes(&bytes).unwrap();
            assert!(force_kernel_path(Some(KernelPath::Portable)));
            let reference = results(&m, 21);
            for &p in &paths[1..] {
                assert!(force_kernel_path(Some(p)));
                assert_eq!(results(&m, 21), reference, "{p:?} differs from the portable kernels: {wt:?}, D = {d}");
                compared += 1;
            }
            force_kernel_path(None);
        }
    }
    assert!(compared >= 16);
}
