//! Brute force: truncated and corrupted files load or fail, never panic,
//! and a model that loads runs (Ok or Err) without panicking.

use crate::common::*;
use ddaebm_runtime::{Model, Rng};

/// Loads `bytes`; if that works, exercises every call. Returns whether it loaded.
fn exercise(bytes: &[u8]) -> bool {
    let Ok(model) = Model::from_bytes(bytes) else {
        return false;
    };
    let (d, nz) = (model.data_dim(), model.nz());
    let mut scratch = vec![0.0f32; model.scratch_len()];
    let x = vec![0.5f32; d];
    for t in 0..model.steps() {
        let _ = model.energy(&x, t, &mut scratch);
        let _ = (model.coef1(t), model.coef2(t), model.posterior_std(t));
        let mut x0 = vec![0.0f32; d];
        let _ = model.generate(&x, &vec![0.1; nz], t, &mut x0, &mut scratch);
        let mut y = x.clone();
        let _ = model.denoise_step(&mut y, &vec![0.1; nz], &vec![0.2; d], t, &mut scratch);
    }
    let _ = model.anomaly_score(&x, &mut scratch);
    let mut out = vec![0.0f32; d];
    let _ = model.sample(&mut Rng::new(3), &mut out, &mut scratch);
    true
}

fn files() -> Vec<Vec<u8>> {
    #[allow(unused_mut)]
    let mut files = vec![
        random_spec_dims(1, 2, 1, 2, &[3]).build(Wt::F32),
        random_spec(2).build(Wt::F16),
        random_spec_dims(3, 2, 1, 2, &[3]).build(Wt::Bf16),
        random_spec_dims(4, 2, 1, 2, &[3]).build(Wt::Int8),
    ];
    // A Gaussian-mixture base (K = 2).
    #[cfg(feature = "mixture")]
    files.push({
        let mut s = random_spec_dims(5, 2, 1, 2, &[3]);
        s.base = Some(BaseSpec::mixture(50, 2, 2, 2));
        s.build(Wt::F32)
    });
    files
}

#[test]
fn every_truncation() {
    for file in files() {
        assert!(exercise(&file));
        for len in 0..file.len() {
            // Only the full file (data buffer complete) can load: every
            // tensor is needed and the data is laid out to the end.
            assert!(!exercise(&file[..len]), "truncated to {len} loaded");
        }
    }
}

/// Every byte of the header (length prefix and JSON) is replaced by each of
/// a set of values that are special to the reader; every byte of the data
/// buffer is xor-ed with 0xFF (other values there only change numbers).
#[test]
fn every_single_byte_corruption() {
    let mut loaded = 0usize;
    let mut total = 0usize;
    for file in files() {
        let header_end = 8 + u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
        let mut f = file.clone();
        for i in 0..file.len() {
            let original = file[i];
            let header_values = [original ^ 0xFF, original ^ 0x01, 0x00, b'9', b'"', b'\\', b'{'];
            let values = if i < header_end { &header_values[..] } else { &header_values[..1] };
            for &value in values {
                f[i] = value;
                loaded += exercise(&f) as usize;
                total += 1;
            }
            f[i] = original;
        }
    }
    eprintln!("{loaded} of {total} single-byte corruptions still load");
}

#[test]
fn random_multi_byte_corruption_and_garbage() {
    let files = files();
    let mut rng = Rng::new(0xF00D);
    for round in 0..5_000 {
        let mut f = files[round % files.len()].clone();
        let n = 1 + (rng.next_u32() % 4) as usize;
        for _ in 0..n {
            let i = rng.next_u32() as usize % f.len();
            f[i] = rng.next_u32() as u8;
        }
        exercise(&f);
    }
    // Random garbage after a plausible header length.
    for _ in 0..1_000 {
        let len = (rng.next_u32() % 512) as usize;
        let mut f: Vec<u8> = (0..len + 8).map(|_| rng.next_u32() as u8).collect();
        let n = (rng.next_u32() as usize % (len + 1)) as u64;
        f[..8].copy_from_slice(&n.to_le_bytes());
        exercise(&f);
    }
}
