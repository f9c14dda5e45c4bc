//! Order statistics of the pure DORA computation (`crate::dora`) used by the API.
//!
//! - Median: the middle value of the sorted samples; for an even count, the mean of the two
//!   middle values.
//! - Percentile p (p90 for lead time): nearest rank, the value at 1-based rank `ceil(p/100 * n)`
//!   of the sorted samples (always one of the samples, never interpolated).
//!
//! - Ratio (change failure rate, rework rate): a part of the production deployments over all of
//!   them, from 0 to 1; none without deployments.
//!
//! The keys take them from unsorted samples with [`median_and_percentile`], which selects the
//! ranks it needs in linear time instead of sorting (millions of lead times per window).

/// `part / whole`, from 0 to 1 when `part <= whole`; `None` when `whole` is 0.
pub fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Median of ascending `sorted` samples; `None` when empty.
pub fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        sorted.get(n / 2).copied()
    } else {
        let low = sorted.get(n / 2 - 1)?;
        let high = sorted.get(n / 2)?;
        Some((low + high) / 2.0)
    }
}

/// Nearest-rank percentile (`percent` in 1..=100) of ascending `sorted` samples; `None` when
/// empty. Rank = ceil(percent * n / 100), computed in integers.
pub fn nearest_rank(sorted: &[f64], percent: u32) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let percent = usize::try_from(percent.clamp(1, 100)).ok()?;
    let rank = (percent * n).div_ceil(100);
    sorted.get(rank.max(1) - 1).copied()
}

/// [`median`] and [`nearest_rank`] of unsorted `samples` (reordered in place), in linear time.
pub fn median_and_percentile(samples: &mut [f64], percent: u32) -> (Option<f64>, Option<f64>) {
    median_and_percentile_by(samples, percent, f64::total_cmp, |v| v)
}

/// [`median_and_percentile`] of whole seconds.
pub fn median_and_percentile_of_seconds(
    samples: &mut [i32],
    percent: u32,
) -> (Option<f64>, Option<f64>) {
    median_and_percentile_by(samples, percent, i32::cmp, f64::from)
}

fn median_and_percentile_by<T: Copy>(
    samples: &mut [T],
    percent: u32,
    compare: fn(&T, &T) -> std::cmp::Ordering,
    value: fn(T) -> f64,
) -> (Option<f64>, Option<f64>) {
    let n = samples.len();
    if n == 0 {
        return (None, None);
    }
    let middle = n / 2;
    let (below, &mut upper_middle, above) = samples.select_nth_unstable_by(middle, compare);
    let median = if n % 2 == 1 {
        value(upper_middle)
    } else {
        // The lower middle value is the largest of the values selected below the upper one.
        let lower_middle = below
            .iter()
            .copied()
            .max_by(compare)
            .unwrap_or(upper_middle);
        (value(lower_middle) + value(upper_middle)) / 2.0
    };
    let percent = usize::try_from(percent.clamp(1, 100)).unwrap_or(100);
    let index = (percent * n).div_ceil(100).max(1) - 1;
    let percentile = match index.checked_sub(middle + 1) {
        // At or below the middle: below and the middle are not sorted, select among them.
        None if index == middle => upper_middle,
        None => *below.select_nth_unstable_by(index, compare).1,
        Some(rank_above) => *above.select_nth_unstable_by(rank_above, compare).1,
    };
    (Some(median), Some(value(percentile)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Sorts samples ascending (total order; the computation never produces NaN).
    fn sorted(mut samples: Vec<f64>) -> Vec<f64> {
        samples.sort_by(f64::total_cmp);
        samples
    }

    #[test]
    fn median_odd_and_even() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[1.0, 2.0, 10.0]), Some(2.0));
        // Even count: mean of the two middle values, not the lower or the upper one.
        assert_eq!(median(&[1.0, 2.0, 4.0, 10.0]), Some(3.0));
        assert_eq!(median(&[1.0, 2.0]), Some(1.5));
    }

    #[test]
    fn p90_nearest_rank() {
        assert_eq!(nearest_rank(&[], 90), None);
        assert_eq!(nearest_rank(&[5.0], 90), Some(5.0));
        // n = 2: rank ceil(1.8) = 2.
        assert_eq!(nearest_rank(&[1.0, 2.0], 90), Some(2.0));
        // n = 10: rank 9 (not 10, not interpolated).
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(nearest_rank(&ten, 90), Some(9.0));
        // n = 11: rank ceil(9.9) = 10.
        let eleven: Vec<f64> = (1..=11).map(f64::from).collect();
        assert_eq!(nearest_rank(&eleven, 90), Some(10.0));
        // n = 20: rank 18.
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(nearest_rank(&twenty, 90), Some(18.0));
        assert_eq!(nearest_rank(&twenty, 100), Some(20.0));
        assert_eq!(nearest_rank(&twenty, 50), Some(10.0));
    }

    #[test]
    fn selection_agrees_with_sorting() {
        // Pseudo-random samples with duplicates, every length up to 60, several percents.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for n in 0..60 {
            let samples: Vec<f64> = (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % 25) as f64
                })
                .collect();
            let sorted_samples = sorted(samples.clone());
            for percent in [1, 10, 50, 90, 99, 100] {
                let mut scratch = samples.clone();
                let (m, p) = median_and_percentile(&mut scratch, percent);
                assert_eq!(m, median(&sorted_samples), "median of {n}");
                assert_eq!(
                    p,
                    nearest_rank(&sorted_samples, percent),
                    "p{percent} of {n}"
                );
            }
        }
    }

    #[test]
    fn sorting() {
        assert_eq!(sorted(vec![3.0, -1.0, 2.0]), vec![-1.0, 2.0, 3.0]);
    }
}
