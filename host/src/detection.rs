//! Detection metrics for anomaly scores (higher = more anomalous):
//! AUROC, average precision, empirical quantiles and the tail probability
//! they imply. Shared by `export --calibrate`, `export score` and the
//! trainer's evaluation, all in f64.

/// Area under the ROC curve for anomaly scores: `labels[i]` is true for an
/// anomaly (the positive class) and a higher score means more anomalous.
/// Computed as the Mann–Whitney statistic: the fraction of (anomaly,
/// normal) pairs in which the anomaly scores higher, ties counting ½.
/// 1 is perfect, 0.5 chance, 0 perfectly reversed. NaN when either class
/// is empty.
///
/// # Panics
/// If the slices differ in length.
pub fn auroc(scores: &[f64], labels: &[bool]) -> f64 {
    assert_eq!(scores.len(), labels.len(), "scores and labels differ in length");
    let pos = labels.iter().filter(|&&l| l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the positives' (1-based, tie-averaged) ranks.
    let mut rank_sum = 0.0;
    let mut k = 0;
    while k < idx.len() {
        let mut e = k;
        while e + 1 < idx.len() && scores[idx[e + 1]] == scores[idx[k]] {
            e += 1;
        }
        let mid = (k + e) as f64 / 2.0 + 1.0;
        rank_sum += mid * idx[k..=e].iter().filter(|&&i| labels[i]).count() as f64;
        k = e + 1;
    }
    let u = rank_sum - (pos * (pos + 1)) as f64 / 2.0;
    u / (pos as f64 * neg as f64)
}

/// Average precision, as scikit-learn's `average_precision_score`:
/// Σₙ (Rₙ − Rₙ₋₁) Pₙ, where Pₙ and Rₙ are the precision and recall when
/// everything scoring at least the n-th highest distinct score is flagged
/// (labels and score direction as in [`auroc`]). It equals the fraction of
/// anomalies when all scores tie. NaN when there is no anomaly.
///
/// # Panics
/// If the slices differ in length.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> f64 {
    assert_eq!(scores.len(), labels.len(), "scores and labels differ in length");
    let pos = labels.iter().filter(|&&l| l).count();
    if pos == 0 {
        return f64::NAN;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp, mut ap, mut last_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut k = 0;
    while k < idx.len() {
        let mut e = k;
        while e + 1 < idx.len() && scores[idx[e + 1]] == scores[idx[k]] {
            e += 1;
        }
        for &i in &idx[k..=e] {
            if labels[i] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        let recall = tp as f64 / pos as f64;
        ap += (recall - last_recall) * tp as f64 / (tp + fp) as f64;
        last_recall = recall;
        k = e + 1;
    }
    ap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_known_answers() {
        let l = [false, false, true, true];
        assert_eq!(auroc(&[0.1, 0.2, 0.3, 0.4], &l), 1.0);
        assert_eq!(auroc(&[0.4, 0.3, 0.2, 0.1], &l), 0.0);
        assert_eq!(auroc(&[0.5; 4], &l), 0.5);
        assert_eq!(auroc(&[0.1, 0.4, 0.35, 0.8], &l), 0.75);
        // One tie between a positive and a negative: (1 + 1 + 1 + ½) / 4.
        assert_eq!(auroc(&[0.1, 0.4, 0.4, 0.8], &l), 0.875);
        assert!(auroc(&[0.1, 0.2], &[true, true]).is_nan());
    }

    #[test]
    fn average_precision_known_answers() {
        let l = [false, false, true, true];
        // Descending: 0.8 (T): P 1, R ½; 0.4 (F): P ½, R ½; 0.35 (T): P ⅔, R 1.
        // AP = ½·1 + 0·½ + ½·⅔ = 5/6.
        let ap = average_precision(&[0.1, 0.4, 0.35, 0.8], &l);
        assert!((ap - 5.0 / 6.0).abs() < 1e-12, "{ap}");
        assert_eq!(average_precision(&[0.1, 0.2, 0.3, 0.4], &l), 1.0);
        assert_eq!(average_precision(&[0.5; 4], &l), 0.5);
        // Reversed: positives found last: R jumps ½ at P ⅓ and ½ at P ½.
        let ap = average_precision(&[0.4, 0.3, 0.2, 0.1], &l);
        assert!((ap - (0.5 / 3.0 + 0.25)).abs() < 1e-12, "{ap}");
        assert!(average_precision(&[0.1], &[false]).is_nan());
    }
}
