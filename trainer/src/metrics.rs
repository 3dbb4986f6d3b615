//! Sample-quality metrics, computed on the host in f64.

/// The RBF bandwidths h of the MMD kernel k(x, y) = Σ_h exp(−‖x − y‖² / (2h²)).
pub const MMD_BANDWIDTHS: [f64; 3] = [0.05, 0.2, 1.0];

fn kernel_mean(a: &[f32], b: &[f32], dim: usize) -> f64 {
    let inv: Vec<f64> = MMD_BANDWIDTHS.iter().map(|h| -1.0 / (2.0 * h * h)).collect();
    let mut sum = 0.0;
    for x in a.chunks_exact(dim) {
        for y in b.chunks_exact(dim) {
            let d2: f64 = x.iter().zip(y).map(|(p, q)| (*p as f64 - *q as f64).powi(2)).sum();
            sum += inv.iter().map(|c| (c * d2).exp()).sum::<f64>();
        }
    }
    sum / ((a.len() / dim) as f64 * (b.len() / dim) as f64)
}

/// Squared maximum mean discrepancy between two row-major point sets of
/// dimension `dim` (the biased V-statistic: mean k(x,x') + mean k(y,y') −
/// 2 mean k(x,y), over all pairs including i = j). Two independent draws of
/// the same distribution give a small positive value, the noise floor.
pub fn mmd2(x: &[f32], y: &[f32], dim: usize) -> f64 {
    kernel_mean(x, x, dim) + kernel_mean(y, y, dim) - 2.0 * kernel_mean(x, y, dim)
}

/// Mode coverage of 2-D samples on a Gaussian mixture.
#[derive(Debug, Clone, PartialEq)]
pub struct ModeCoverage {
    /// Modes with at least `min_count` samples within 3σ of their centre.
    pub modes_covered: usize,
    /// Number of modes.
    pub modes_total: usize,
    /// Percentage of samples within 3σ of some centre.
    pub high_quality_pct: f64,
}

/// Counts, for each centre, the samples within 3σ of it; a mode is covered
/// with at least `min_count` of them (20 of 10,000 in the benchmark).
pub fn mode_coverage(samples: &[f32], centres: &[[f64; 2]], sigma: f64, min_count: usize) -> ModeCoverage {
    let r2 = (3.0 * sigma).powi(2);
    let mut counts = vec![0usize; centres.len()];
    let mut good = 0usize;
    for p in samples.chunks_exact(2) {
        let (x, y) = (p[0] as f64, p[1] as f64);
        if let Some(k) = centres.iter().position(|c| (x - c[0]).powi(2) + (y - c[1]).powi(2) <= r2) {
            counts[k] += 1;
            good += 1;
        }
    }
    let n = samples.len() / 2;
    ModeCoverage {
        modes_covered: counts.iter().filter(|&&c| c >= min_count).count(),
        modes_total: centres.len(),
        high_quality_pct: if n == 0 { 0.0 } else { 100.0 * good as f64 / n as f64 },
    }
}

/// The centres of an `n × n` grid of equal cells over the box [lo, hi], as
/// row-major 2-D points: point `j·n + i` is
/// (lo₀ + (i + ½)·Δ₀, lo₁ + (j + ½)·Δ₁) with Δ = (hi − lo)/n, so rows run
/// along x and row j = 0 is the bottom (y = lo₁) one. [`grid_nll`] and the
/// heat maps of `plots::heatmaps` use this order.
pub fn grid_centres(lo: [f64; 2], hi: [f64; 2], n: usize) -> Vec<f32> {
    let d = [(hi[0] - lo[0]) / n as f64, (hi[1] - lo[1]) / n as f64];
    let mut out = Vec::with_capacity(2 * n * n);
    for j in 0..n {
        for i in 0..n {
            out.push((lo[0] + (i as f64 + 0.5) * d[0]) as f32);
            out.push((lo[1] + (j as f64 + 0.5) * d[1]) as f32);
        }
    }
    out
}

/// Average negative log-likelihood (nats) of the 2-D `points` (row-major)
/// under the density p(x) = exp f(x) / Z, with f given by `log_density`
/// (an unnormalised log-density) and Z computed numerically by the midpoint
/// rule on the box [lo, hi]:
///
/// log Z = logsumexp_k f(c_k) + ln(Δ₀ Δ₁),  Δ = (hi − lo)/n,
///
/// over the n² cell centres c_k of [`grid_centres`]. The result is
/// mean_p (log Z − f(p)). `log_density` is called exactly twice, once with
/// all n² centres and once with all points, each a row-major batch of 2-D
/// points, and must return one f per point (so a caller can batch it
/// through libtorch and chunk it as it likes). Points outside the box are
/// evaluated all the same; Z is the box integral only, so mass outside the
/// box is ignored (the NLL is then the model's density restricted to, and
/// renormalised on, the box; with a box that holds almost all of the
/// model's mass this is the model's NLL).
///
/// # Panics
/// If `n == 0`, the box is empty, or `log_density` returns the wrong count.
pub fn grid_nll(log_density: impl Fn(&[f32]) -> Vec<f64>, points: &[f32], lo: [f64; 2], hi: [f64; 2], n: usize) -> f64 {
    assert!(n > 0 && hi[0] > lo[0] && hi[1] > lo[1], "empty grid: n = {n}, box {lo:?}..{hi:?}");
    let centres = grid_centres(lo, hi, n);
    let f_grid = log_density(&centres);
    assert_eq!(f_grid.len(), n * n, "log_density returned {} values for {} grid points", f_grid.len(), n * n);
    let m = f_grid.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let log_z = m
        + f_grid.iter().map(|f| (f - m).exp()).sum::<f64>().ln()
        + ((hi[0] - lo[0]) * (hi[1] - lo[1]) / (n * n) as f64).ln();
    let count = points.len() / 2;
    let f_pts = log_density(&points[..2 * count]);
    assert_eq!(f_pts.len(), count, "log_density returned {} values for {count} points", f_pts.len());
    f_pts.iter().map(|f| log_z - f).sum::<f64>() / count as f64
}

pub use ddaebm_host::detection::{auroc, average_precision};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmd_of_identical_sets_is_zero_and_of_shifted_sets_matches_closed_form() {
        let x = [0.0f32, 0.0, 1.0, 0.0];
        assert!(mmd2(&x, &x, 2).abs() < 1e-12);
        // One point each, distance d: MMD² = 2 Σ_h (1 − exp(−d²/2h²)).
        let a = [0.0f32, 0.0];
        let b = [0.3f32, 0.4];
        let expect: f64 = MMD_BANDWIDTHS.iter().map(|h| 2.0 * (1.0 - (-0.25 / (2.0 * h * h)).exp())).sum();
        assert!((mmd2(&a, &b, 2) - expect).abs() < 1e-7);
    }

    #[test]
    fn mode_coverage_counts_modes_and_quality() {
        let centres = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];
        let mut s = Vec::new();
        for _ in 0..30 {
            s.extend([0.1f32, 0.0]);
        }
        for _ in 0..10 {
            s.extend([10.0f32, 0.2]);
        }
        for _ in 0..60 {
            s.extend([5.0f32, 5.0]);
        }
        let m = mode_coverage(&s, &centres, 0.1, 20);
        assert_eq!(m.modes_covered, 1); // the second mode has 10 < 20
        assert_eq!(m.modes_total, 3);
        assert!((m.high_quality_pct - 40.0).abs() < 1e-9);
    }

    fn normal_points(n: usize, seed: u64) -> Vec<f32> {
        use rand::SeedableRng;
        use rand_distr::{Distribution, StandardNormal};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..2 * n).map(|_| StandardNormal.sample(&mut rng)).collect()
    }

    #[test]
    fn grid_centres_order() {
        let c = grid_centres([0.0, 10.0], [2.0, 14.0], 2);
        assert_eq!(c, [0.5, 11.0, 1.5, 11.0, 0.5, 13.0, 1.5, 13.0]);
    }

    #[test]
    fn grid_nll_of_standard_gaussian_is_its_entropy() {
        let calls = std::cell::Cell::new(0);
        let f = |x: &[f32]| {
            calls.set(calls.get() + 1);
            x.chunks_exact(2).map(|p| -0.5 * ((p[0] as f64).powi(2) + (p[1] as f64).powi(2))).collect()
        };
        let pts = normal_points(20_000, 3);
        let nll = grid_nll(f, &pts, [-6.0, -6.0], [6.0, 6.0], 400);
        let entropy = (2.0 * std::f64::consts::PI * std::f64::consts::E).ln();
        assert!((nll - entropy).abs() < 0.02, "nll {nll} vs entropy {entropy}");
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn grid_nll_of_uniform_is_log_area_even_outside_the_box() {
        let f = |x: &[f32]| vec![1.7; x.len() / 2];
        let pts = [0.0f32, 1.0, 2.5, 0.5, 100.0, -3.0];
        let nll = grid_nll(f, &pts, [-1.0, 0.0], [3.0, 2.0], 37);
        assert!((nll - 8f64.ln()).abs() < 1e-9, "{nll}");
    }
}
