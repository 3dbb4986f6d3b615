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
}
