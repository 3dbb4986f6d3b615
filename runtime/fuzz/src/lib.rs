//! What the fuzz targets share: [`check`] runs every public entry point of
//! a loaded model and asserts the runtime's promises; [`gen`] writes
//! valid-looking model files from the fuzzer's bytes; [`differential`]
//! compares every kernel path with the portable reference.

pub mod differential;
pub mod gen;

use ddaebm_runtime::{Error, FieldCalibration, Model, Rng, ScoreKind, WindowScorer, WindowShape};

/// Largest scratch buffer (f32 values) the target allocates; larger ones
/// are skipped. Not reached in practice: a loaded model's scratch_len is at
/// most the file's length in bytes (asserted below), because every layer
/// width and D + nz are backed by at least 2 bytes of weights per unit.
const MAX_SCRATCH: usize = 1 << 20;

/// Values the raw inputs are filled with (one input per value, plus an
/// alternating pattern).
const FILLS: [f32; 7] = [0.0, 0.5, -1.5, 1e30, -1e30, f32::NAN, f32::INFINITY];

/// `r`, after asserting that an `Ok` value is finite.
pub fn finite(r: Result<f32, Error>, what: &str) -> Result<f32, Error> {
    if let Ok(v) = r {
        assert!(v.is_finite(), "{what} returned Ok({v})");
    }
    r
}

/// Asserts that an `Ok` call left only finite values in `v`.
pub fn all_finite(r: &Result<(), Error>, v: &[f32], what: &str) {
    if r.is_ok() {
        assert!(v.iter().all(|x| x.is_finite()), "{what} returned Ok with {v:?}");
    }
}

/// Loads `data` and, when it loads, runs every entry point.
pub fn check(data: &[u8]) {
    let model = match Model::from_bytes(data) {
        Ok(m) => m,
        Err(e) => {
            // Every refusal has a message (allocation-free Display).
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let d = model.data_dim();
    let nz = model.nz();
    let steps = model.steps();
    let need = model.scratch_len();
    assert!(d >= 1 && steps >= 1, "loaded a model with D = {d}, T = {steps}");
    assert!(need >= 2 * (d + nz), "scratch_len {need} < 2 (D + nz)");
    assert!(need <= data.len(), "scratch_len {need} for a {}-byte file", data.len());
    if need > MAX_SCRATCH {
        return;
    }

    // The input contract: read on demand, consistent with D when present.
    if let Some((window, stride, channels)) = model.window() {
        assert!(window >= 1 && stride >= 1 && channels >= 1);
        assert_eq!(window * channels, d, "window() does not add up to data_dim");
        for i in 0..channels {
            let _ = model.column_name(i);
        }
        assert_eq!(model.column_name(channels), None);
    } else {
        assert_eq!(model.column_name(0), None);
    }

    // All buffers once per input; the calls below do not allocate.
    let mut scratch = vec![0.0f32; need];
    let mut x = vec![0.0f32; d];
    let mut y = vec![0.0f32; d];
    let mut z = vec![0.0f32; nz];
    let eps: Vec<f32> = (0..d).map(|i| if i % 2 == 0 { 0.3 } else { -0.7 }).collect();

    for (k, fill) in FILLS.iter().copied().enumerate() {
        for (i, xi) in x.iter_mut().enumerate() {
            *xi = if k == 1 && i % 2 == 1 { -fill } else { fill };
        }
        for zi in z.iter_mut() {
            *zi = fill;
        }
        for t in 0..steps {
            let _ = finite(model.energy(&x, t, &mut scratch), "energy");
            let _ = finite(model.energy_normalised(&x, t, &mut scratch), "energy_normalised");
            let r = model.generate(&x, &z, t, &mut y, &mut scratch);
            all_finite(&r, &y, "generate");
            y.copy_from_slice(&x);
            let r = model.denoise_step(&mut y, &z, &eps, t, &mut scratch);
            all_finite(&r, &y, "denoise_step");
        }
        let a = finite(model.anomaly_score(&x, &mut scratch), "anomaly_score");
        let e = model.energy(&x, 0, &mut scratch);
        let r = finite(model.reconstruction_score(&x, &mut scratch), "reconstruction_score");
        if let Ok(r) = r {
            assert!(r >= 0.0, "reconstruction_score {r} < 0");
        }
        if model.score_kind() == ScoreKind::Reconstruction {
            assert_eq!(a, r, "anomaly_score != reconstruction_score");
        } else if let (Ok(a), Ok(e)) = (a, e) {
            assert_eq!(a.to_bits(), (-e).to_bits(), "anomaly_score != -energy(x, 0)");
        }
        // Calibrated decisions: consistent with the score, probabilities in [0, 1].
        match model.verdict(&x, &mut scratch) {
            Ok(v) => {
                assert!(model.is_calibrated());
                assert!((0.0..=1.0).contains(&v.tail_probability), "tail probability {}", v.tail_probability);
                assert_eq!(Some(v.score.to_bits()), a.ok().map(f32::to_bits), "verdict score != anomaly_score");
                assert_eq!(v.is_anomaly, Some(v.score) > model.threshold());
            }
            Err(Error::NotCalibrated) => assert!(!model.is_calibrated()),
            Err(_) => {}
        }
        for s in [f32::NEG_INFINITY, -1e30, fill, 1e30, f32::INFINITY] {
            if let Ok(p) = model.tail_probability(s) {
                assert!((0.0..=1.0).contains(&p), "tail_probability({s}) = {p}");
            }
        }
        let r = model.normalise(&x, &mut y);
        assert!(r.is_ok());
        let r = model.denormalise(&x, &mut y);
        assert!(r.is_ok());
    }

    // Batched energies: the same bits as one at a time.
    let n = 3;
    let xs: Vec<f32> = (0..n * d).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.31).collect();
    let mut batch = vec![0.0f32; n];
    let mut big = vec![0.0f32; model.batch_scratch_len(n).min(MAX_SCRATCH)];
    if model.energy_batch(&xs, 0, &mut batch, &mut big).is_ok() {
        for (row, b) in xs.chunks(d).zip(&batch) {
            assert!(b.is_finite(), "energy_batch returned Ok with {b}");
            assert_eq!(model.energy(row, 0, &mut scratch).map(f32::to_bits), Ok(b.to_bits()), "energy_batch != energy");
        }
    }

    // The window scorer and field calibration: the file's window when it
    // declares one, else one sample of D values; scores equal anomaly_score.
    let shape = WindowShape::of_model(&model).unwrap_or(WindowShape::new(1, 1, d));
    if let Ok(mut scorer) = WindowScorer::<64>::new(&model, shape) {
        let mut field = FieldCalibration::new(0.9, 3).unwrap();
        let sample: Vec<f32> = (0..shape.channels).map(|c| c as f32 * 0.25 - 0.5).collect();
        // A file may declare any stride (up to usize::MAX): bound the pushes.
        for _ in 0..shape.window.saturating_add(shape.stride.saturating_mul(2)).min(256) {
            match scorer.push_score(&model, &sample, &mut scratch) {
                Ok(Some(s)) => {
                    assert!(s.is_finite());
                    let w = scorer.window().unwrap().to_vec();
                    assert_eq!(model.anomaly_score(&w, &mut scratch).map(f32::to_bits), Ok(s.to_bits()));
                    let _ = field.observe(s);
                    let _ = field.is_anomaly(&model, s);
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
        assert!(scorer.push(&sample[..0]).is_err() || shape.channels == 0);
    } else {
        assert!(shape.values() > 64 || shape.check(&model).is_err());
    }

    // The sampler, two seeds, each twice: same seed, same bits.
    for seed in [0u64, 0x5eed] {
        let r1 = model.sample(&mut Rng::new(seed), &mut x, &mut scratch);
        all_finite(&r1, &x, "sample");
        let r2 = model.sample(&mut Rng::new(seed), &mut y, &mut scratch);
        assert_eq!(r1.is_ok(), r2.is_ok(), "sample not deterministic");
        if r1.is_ok() {
            assert!(x.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    // Misuse is an error, never a panic.
    x.fill(0.1);
    assert!(model.energy(&x, steps, &mut scratch).is_err());
    assert!(model.energy(&x, usize::MAX, &mut scratch).is_err());
    assert!(model.energy(&x, 0, &mut scratch[..need - 1]).is_err());
    assert!(model.sample(&mut Rng::new(1), &mut x, &mut scratch[..need - 1]).is_err());
    assert!(model.generate(&x, &z, 0, &mut y, &mut scratch[..need - 1]).is_err());
    assert!(model.energy(&x[..d - 1], 0, &mut scratch).is_err());
    assert!(model.generate(&x, &eps[..0], 0, &mut y, &mut scratch).is_err() || nz == 0);
    // A longer scratch than needed is fine and gives the same bits.
    if let Ok(e) = model.energy(&x, 0, &mut scratch) {
        let mut big = vec![f32::NAN; need + 3];
        assert_eq!(model.energy(&x, 0, &mut big).map(f32::to_bits), Ok(e.to_bits()));
    }
}
