//! Statistical and determinism tests of `Rng`.

use ddaebm_runtime::Rng;

fn normal_cdf(x: f64) -> f64 {
    0.5 * (1.0 + libm::erf(x / core::f64::consts::SQRT_2))
}

#[test]
fn normal_moments_and_ks() {
    const N: usize = 200_000;
    let mut rng = Rng::new(0x5EED);
    let mut draws: Vec<f64> = (0..N).map(|_| rng.normal() as f64).collect();
    assert!(draws.iter().all(|x| x.is_finite()));
    let mean = draws.iter().sum::<f64>() / N as f64;
    let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (N - 1) as f64;
    draws.sort_by(f64::total_cmp);
    let ks = draws
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = normal_cdf(x);
            ((i + 1) as f64 / N as f64 - f).max(f - i as f64 / N as f64)
        })
        .fold(0.0f64, f64::max);
    eprintln!("normal(): n={N} mean={mean:.5} var={var:.5} KS={ks:.5}");
    assert!(mean.abs() < 0.01, "mean {mean}");
    assert!((var - 1.0).abs() < 0.01, "var {var}");
    assert!(ks < 0.005, "KS {ks}");
}

#[test]
fn uniform_moments() {
    const N: usize = 200_000;
    let mut rng = Rng::new(3);
    let u: Vec<f64> = (0..N).map(|_| rng.uniform() as f64).collect();
    assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
    let mean = u.iter().sum::<f64>() / N as f64;
    let var = u.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / N as f64;
    assert!((mean - 0.5).abs() < 0.005, "{mean}");
    assert!((var - 1.0 / 12.0).abs() < 0.002, "{var}");
}

#[test]
fn determinism() {
    let stream = |seed: u64| {
        let mut rng = Rng::new(seed);
        (0..1000).map(|i| if i % 3 == 0 { rng.next_u32() } else { rng.normal().to_bits() }).collect::<Vec<u32>>()
    };
    assert_eq!(stream(99), stream(99));
    assert_ne!(stream(99), stream(100));
    // Seed 0 is fine too (splitmix64 seeding).
    assert_ne!(stream(0), stream(1));
    // Pinned values: a change of the generator is a breaking change for
    // anyone who stored seeds.
    let mut rng = Rng::new(0);
    let first: Vec<u32> = (0..3).map(|_| rng.next_u32()).collect();
    assert_eq!(first, [1_179_900_579, 1_938_959_192, 3_089_844_957]);
    let mut rng = Rng::new(0);
    assert_eq!([rng.normal().to_bits(), rng.normal().to_bits()], [0xbfdc_3ed4, 0xbebd_dc6a]);
}

#[test]
fn cloned_rng_continues_identically() {
    let mut a = Rng::new(5);
    a.normal(); // leaves a spare
    let mut b = a.clone();
    for _ in 0..100 {
        assert_eq!(a.normal().to_bits(), b.normal().to_bits());
    }
}
