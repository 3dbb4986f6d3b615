//! Property tests: random small models written in memory (tests/common)
//! against a plain f64 reference forward pass, and `from_bytes` on mutated
//! valid files.
//!
//! `PROPTEST_CASES=N` changes the number of cases per property (default 256).

use crate::common::*;
use ddaebm_runtime::{Model, Rng};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

/// |runtime − reference| ≤ TOL · (1 + |reference|).
const TOL: f64 = 1e-4;

fn within(got: f32, want: f64) -> bool {
    (got as f64 - want).abs() <= TOL * (1.0 + want.abs())
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(256);
    ProptestConfig {
        cases,
        // No regression files in the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One layer `inp → out`; the last layer of a chain has no PReLU.
fn layer(inp: usize, out: usize, steps: usize, last: bool) -> impl Strategy<Value = LayerSpec> {
    // Weights ±1.5/√inp keep activations O(1..10), so f32 rounding stays
    // far below the tolerance.
    let scale = 1.5 / (inp as f32).sqrt();
    (any::<bool>(), proptest::option::of(-0.5f32..1.0)).prop_flat_map(move |(per_step, prelu)| {
        let prelu = if last { None } else { prelu };
        let nb = if per_step { steps * out } else { out };
        (vec(-scale..scale, out * inp), vec(-0.5f32..0.5, nb)).prop_map(move |(w, b)| LayerSpec {
            out,
            inp,
            w,
            b,
            per_step,
            prelu,
        })
    })
}

/// A chain `inp → hidden… → out` (1..=4 layers).
fn chain(inp: usize, hidden: Vec<usize>, out: usize, steps: usize) -> Vec<BoxedStrategy<LayerSpec>> {
    let mut dims = vec![inp];
    dims.extend(hidden);
    dims.push(out);
    dims.windows(2).enumerate().map(|(i, w)| layer(w[0], w[1], steps, i + 2 == dims.len()).boxed()).collect()
}

/// A random model: D 1..=4, nz 0..=3, T 1..=5, hidden widths 1..=16,
/// 1..=4 layers per network, optionally a base measure (a single Gaussian
/// or a mixture of 2 or 3).
fn spec() -> impl Strategy<Value = Spec> {
    (1usize..=4, 0usize..=3, 1usize..=5, vec(1usize..=16, 0..=3), vec(1usize..=16, 0..=3)).prop_flat_map(
        |(d, nz, steps, eh, gh)| {
            (
                chain(d, eh, 1, steps),
                chain(d + nz, gh, d, steps),
                vec(0.1f32..1.0, steps),
                vec(0.0f32..1.0, steps),
                vec(0.0f32..0.5, steps),
                vec(-2.0f32..2.0, d),
                vec(0.5f32..3.0, d),
                proptest::option::of((any::<u64>(), 1usize..=3)),
            )
                .prop_map(move |(energy, generator, coef1, coef2, post_std, mean, std, base)| Spec {
                    d,
                    nz,
                    steps,
                    coef1,
                    coef2,
                    post_std,
                    mean,
                    inv_std: std.iter().map(|s| 1.0 / s).collect(),
                    std,
                    energy,
                    generator,
                    base: base.map(|(seed, k)| match k {
                        // Without the `mixture` feature, mixture files are refused at load.
                        k if k > 1 && cfg!(feature = "mixture") => BaseSpec::mixture(seed, d, steps, k),
                        _ => BaseSpec::random(seed, d, steps),
                    }),
                })
        },
    )
}

fn wt() -> impl Strategy<Value = Wt> {
    prop_oneof![Just(Wt::F32), Just(Wt::F16)]
}

/// The runtime's normalisation, in f32 as it does it, widened to f64.
fn normalised(spec: &Spec, raw: &[f32]) -> Vec<f64> {
    raw.iter().zip(spec.mean.iter().zip(&spec.inv_std)).map(|(&x, (&m, &s))| ((x - m) * s) as f64).collect()
}

/// How a valid file is damaged.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that matter to the JSON reader, plus anything.
    let byte =
        prop_oneof![proptest::sample::select(b"{}[]\":, \\-0123456789.eEFf_\n\t\x00\xff".to_vec()), any::<u8>(),];
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<Index>(), byte.clone()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), vec(byte, 1..8)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

fn apply(file: &mut Vec<u8>, m: &Mutation) {
    let n = file.len();
    match m {
        Mutation::FlipBit(i, b) => file[i.index(n)] ^= 1 << b,
        Mutation::SetByte(i, v) => file[i.index(n)] = *v,
        Mutation::Truncate(i) => file.truncate(i.index(n)),
        Mutation::Insert(i, bytes) => {
            let at = i.index(n + 1);
            file.splice(at..at, bytes.iter().copied());
        }
        Mutation::Delete(i, k) => {
            let at = i.index(n);
            file.drain(at..(at + k).min(n));
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// energy(x, t) and anomaly_score(x) against the f64 reference, every t.
    #[test]
    fn energy_matches_reference(spec in spec(), wt in wt(), raw in vec(-4.0f32..4.0, 4)) {
        let file = spec.build(wt);
        let model = Model::from_bytes(&file).expect("valid file loads");
        prop_assert_eq!((model.data_dim(), model.nz(), model.steps()), (spec.d, spec.nz, spec.steps));
        let mut scratch = scratch_for(&model);
        let x = &raw[..spec.d];
        let xn = normalised(&spec, x);
        for t in 0..spec.steps {
            let r = reference_forward(&spec.energy, t, &xn, wt)[0];
            let want = match &spec.base {
                Some(b) => b.reference(r, &xn, t),
                None => r,
            };
            let got = model.energy(x, t, &mut scratch).expect("finite energy");
            prop_assert!(within(got, want), "t = {}: energy {} vs reference {}", t, got, want);
        }
        let score = model.anomaly_score(x, &mut scratch).unwrap();
        prop_assert_eq!(score.to_bits(), (-model.energy(x, 0, &mut scratch).unwrap()).to_bits());
    }

    /// generate(x_{t+1}, z, t) against the f64 reference, every t.
    #[test]
    fn generate_matches_reference(
        spec in spec(),
        wt in wt(),
        xs in vec(-3.0f32..3.0, 4),
        zs in vec(-3.0f32..3.0, 3),
    ) {
        let file = spec.build(wt);
        let model = Model::from_bytes(&file).expect("valid file loads");
        let mut scratch = scratch_for(&model);
        let (x, z) = (&xs[..spec.d], &zs[..spec.nz]);
        let input: Vec<f64> = x.iter().chain(z).map(|&v| v as f64).collect();
        let mut x0 = vec![0.0f32; spec.d];
        for t in 0..spec.steps {
            let want = reference_forward(&spec.generator, t, &input, wt);
            model.generate(x, z, t, &mut x0, &mut scratch).expect("finite output");
            for (i, (&g, &w)) in x0.iter().zip(&want).enumerate() {
                prop_assert!(within(g, w), "t = {}, i = {}: x0_hat {} vs reference {}", t, i, g, w);
            }
        }
    }

    /// sample(): the documented draw order and posterior update, in f64,
    /// with the runtime's own Rng for the normals.
    #[test]
    fn sample_matches_reference(spec in spec(), wt in wt(), seed in any::<u64>()) {
        let file = spec.build(wt);
        let model = Model::from_bytes(&file).expect("valid file loads");
        let mut scratch = scratch_for(&model);
        let mut out = vec![0.0f32; spec.d];
        model.sample(&mut Rng::new(seed), &mut out, &mut scratch).expect("finite sample");

        let mut rng = Rng::new(seed);
        let mut x: Vec<f64> = (0..spec.d).map(|_| rng.normal() as f64).collect();
        for t in (0..spec.steps).rev() {
            let mut input = x.clone();
            input.extend((0..spec.nz).map(|_| rng.normal() as f64));
            let x0 = reference_forward(&spec.generator, t, &input, wt);
            let (c1, c2, s) = (spec.coef1[t] as f64, spec.coef2[t] as f64, spec.post_std[t] as f64);
            for (xi, &x0i) in x.iter_mut().zip(&x0) {
                let e = if t > 0 { rng.normal() as f64 } else { 0.0 };
                *xi = c1 * x0i + c2 * *xi + s * e;
            }
        }
        for (i, (&got, &xi)) in out.iter().zip(&x).enumerate() {
            let want = xi * spec.std[i] as f64 + spec.mean[i] as f64;
            prop_assert!(within(got, want), "i = {}: sample {} vs reference {}", i, got, want);
        }
    }

    /// Damaged valid files load or fail; never panic. What loads runs, and
    /// every Ok value is finite.
    #[test]
    fn mutated_files_never_panic(
        spec in spec(),
        wt in wt(),
        muts in vec(mutation(), 1..6),
    ) {
        let mut file = spec.build(wt);
        for m in &muts {
            if file.is_empty() {
                break;
            }
            apply(&mut file, m);
        }
        if let Ok(model) = Model::from_bytes(&file) {
            let need = model.scratch_len();
            prop_assert!(need <= file.len(), "scratch_len {} for {} bytes", need, file.len());
            let mut scratch = vec![0.0f32; need];
            let x = vec![0.25f32; model.data_dim()];
            for t in 0..model.steps() {
                if let Ok(e) = model.energy(&x, t, &mut scratch) {
                    prop_assert!(e.is_finite());
                }
            }
            let mut out = vec![0.0f32; model.data_dim()];
            if model.sample(&mut Rng::new(1), &mut out, &mut scratch).is_ok() {
                prop_assert!(out.iter().all(|v| v.is_finite()));
            }
        }
    }
}
