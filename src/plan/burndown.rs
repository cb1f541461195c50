//! The burn-down: from the recorded daily counts of a rollout, the rate at which failures go
//! away (a least-squares line through the recent points), the day they would reach zero at that
//! rate, and a status against the enforcement date — ready, on track, at risk, no progress,
//! no data.
//!
//! Pure arithmetic on dated points; `today` is an argument. Never reads the clock, the store
//! or the inventory, and holds no words beyond the status names (messages word the trend in
//! templates).

use chrono::{Duration, NaiveDate};
use serde::Serialize;

/// How a rollout's failures are going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Status {
    /// Nothing fails any more (the latest point is zero).
    #[serde(rename = "ready")]
    Ready,
    /// Falling, and at this rate zero on or before the enforcement date (or falling, with no
    /// date).
    #[serde(rename = "on track")]
    OnTrack,
    /// Falling, but at this rate zero only after the enforcement date.
    #[serde(rename = "at risk")]
    AtRisk,
    /// Flat or rising: at this rate never zero.
    #[serde(rename = "no progress")]
    NoProgress,
    /// Fewer than two days recorded in the window: no trend yet.
    #[serde(rename = "no data")]
    NoData,
}

impl Status {
    /// The status as messages and documents name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ready => "ready",
            Status::OnTrack => "on track",
            Status::AtRisk => "at risk",
            Status::NoProgress => "no progress",
            Status::NoData => "no data",
        }
    }
}

/// Projections further out than this are "no progress" (a rate of a few resources a decade).
const HORIZON_DAYS: f64 = 3650.0;

/// A projection from the points of one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Projection {
    /// The first point in the window: day and failing.
    pub from: Option<(NaiveDate, u64)>,
    /// The latest point in the window.
    pub to: Option<(NaiveDate, u64)>,
    /// Failing resources fixed per day (positive when falling), by least squares over the
    /// window; none with fewer than two points.
    pub fixed_per_day: Option<f64>,
    /// The day failures reach zero at that rate (the latest point's day when already zero).
    pub projected_ready: Option<NaiveDate>,
    pub status: Status,
    /// How many points the window held.
    pub points: usize,
}

/// Projects `points` (day, failing; any order, at most one per day), using those in the
/// `window_days` days up to `today` (today included), against the enforcement day `enforce`.
///
/// The rate is the slope of the least-squares line through the window's points, with days as
/// x (gaps — weekends, downtime — count as the days they are); the projection starts at the
/// latest point: `latest + ceil(failing / rate)` days.
pub fn project(
    points: &[(NaiveDate, u64)],
    today: NaiveDate,
    window_days: u32,
    enforce: Option<NaiveDate>,
) -> Projection {
    let first = today - Duration::days(i64::from(window_days.max(1)) - 1);
    let mut window: Vec<(NaiveDate, u64)> = points
        .iter()
        .copied()
        .filter(|(d, _)| *d >= first && *d <= today)
        .collect();
    window.sort_by_key(|(d, _)| *d);
    window.dedup_by_key(|(d, _)| *d);
    let from = window.first().copied();
    let to = window.last().copied();
    let mut out = Projection {
        from,
        to,
        fixed_per_day: None,
        projected_ready: None,
        status: Status::NoData,
        points: window.len(),
    };
    let Some((last_day, last)) = to else {
        return out;
    };
    if last == 0 {
        out.status = Status::Ready;
        out.projected_ready = Some(last_day);
    }
    if window.len() < 2 {
        return out;
    }
    let n = window.len() as f64;
    let xs: Vec<f64> = window
        .iter()
        .map(|(d, _)| (*d - first).num_days() as f64)
        .collect();
    let ys: Vec<f64> = window.iter().map(|(_, y)| *y as f64).collect();
    let mean_x = xs.iter().sum::<f64>() / n;
    let mean_y = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mean_x).powi(2)).sum();
    let sxy: f64 = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    // Two points on distinct days at least: sxx > 0.
    let slope = sxy / sxx;
    out.fixed_per_day = Some(-slope);
    if last == 0 {
        return out;
    }
    let days = last as f64 / -slope;
    if slope >= 0.0 || !days.is_finite() || days > HORIZON_DAYS {
        out.status = Status::NoProgress;
        return out;
    }
    let ready = last_day + Duration::days(days.ceil() as i64);
    out.projected_ready = Some(ready);
    out.status = match enforce {
        Some(e) if ready > e => Status::AtRisk,
        _ => Status::OnTrack,
    };
    out
}

/// The trend a message words, from one series' failing `points`: `None` when nothing was
/// recorded in the window.
pub fn trend_view(
    points: &[(NaiveDate, u64)],
    today: NaiveDate,
    window_days: u32,
    enforce: Option<NaiveDate>,
) -> Option<crate::plan::views::TrendView> {
    let p = project(points, today, window_days, enforce);
    let ((first, from), (last, to)) = (p.from?, p.to?);
    let short = |d: NaiveDate| d.format("%-d %b").to_string();
    Some(crate::plan::views::TrendView {
        from,
        to,
        days: (last - first).num_days(),
        ready_by: p.projected_ready.map(short),
        enforce_on: enforce.map(short),
        status: p.status.as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
    }

    /// Points on consecutive days ending `today` (2026-12-14).
    fn series(values: &[u64]) -> Vec<(NaiveDate, u64)> {
        let today = day("2026-12-14");
        let start = today - Duration::days(values.len() as i64 - 1);
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (start + Duration::days(i as i64), *v))
            .collect()
    }

    const TODAY: &str = "2026-12-14";

    #[test]
    fn falling_steadily_is_projected_to_zero() {
        // 2 a day from 26: 14 days later 0 → 13 points 26..2, then ready the next day.
        let p = project(
            &series(&[26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2]),
            day(TODAY),
            14,
            Some(day("2026-12-20")),
        );
        assert_eq!(p.fixed_per_day, Some(2.0));
        assert_eq!(p.projected_ready, Some(day("2026-12-15")));
        assert_eq!(p.status, Status::OnTrack);
        assert_eq!(p.from.map(|f| f.1), Some(26));
        assert_eq!(p.to, Some((day(TODAY), 2)));
    }

    #[test]
    fn falling_too_slowly_for_the_date_is_at_risk() {
        // 23 → 11 in 14 days: about 0.9 a day, 11 left → 13 more days.
        let values = [23, 22, 22, 20, 19, 18, 17, 17, 15, 14, 13, 13, 12, 11];
        let p = project(&series(&values), day(TODAY), 14, Some(day("2026-12-18")));
        assert_eq!(p.status, Status::AtRisk);
        let ready = p.projected_ready.expect("a date");
        assert!(
            ready > day("2026-12-25") && ready < day("2027-01-01"),
            "{ready}"
        );
        // The same without a date is simply on track.
        let p = project(&series(&values), day(TODAY), 14, None);
        assert_eq!(p.status, Status::OnTrack);
    }

    #[test]
    fn flat_and_rising_make_no_progress() {
        for values in [&[7u64, 7, 7, 7, 7][..], &[3, 4, 6, 8, 9][..]] {
            let p = project(&series(values), day(TODAY), 14, Some(day("2026-12-20")));
            assert_eq!(p.status, Status::NoProgress, "{values:?}");
            assert_eq!(p.projected_ready, None);
        }
    }

    #[test]
    fn noise_around_a_fall_still_reads_as_a_fall() {
        let values = [40, 44, 37, 39, 33, 36, 30, 31, 27, 29, 24, 25, 21, 22];
        let p = project(&series(&values), day(TODAY), 14, Some(day("2027-02-01")));
        assert_eq!(p.status, Status::OnTrack);
        let rate = p.fixed_per_day.expect("rate");
        assert!((1.0..2.0).contains(&rate), "{rate}");
    }

    #[test]
    fn one_point_or_none_is_no_data_and_zero_is_ready() {
        let p = project(&series(&[12]), day(TODAY), 14, Some(day("2026-12-20")));
        assert_eq!((p.status, p.projected_ready), (Status::NoData, None));
        let p = project(&[], day(TODAY), 14, None);
        assert_eq!((p.status, p.from), (Status::NoData, None));
        // Points older than the window do not count.
        let old = vec![(day("2026-11-01"), 9), (day("2026-11-02"), 8)];
        assert_eq!(project(&old, day(TODAY), 14, None).status, Status::NoData);
        let p = project(&series(&[5, 2, 0]), day(TODAY), 14, None);
        assert_eq!(
            (p.status, p.projected_ready),
            (Status::Ready, Some(day(TODAY)))
        );
    }

    #[test]
    fn gaps_count_as_the_days_they_are() {
        // Mondays to Fridays only: 10 → 8 over a weekend is 2 in 3 days, not 2 in 1.
        let points = vec![
            (day("2026-12-03"), 12),
            (day("2026-12-04"), 10),
            (day("2026-12-07"), 8),
            (day("2026-12-08"), 7),
        ];
        let p = project(&points, day("2026-12-08"), 14, None);
        let rate = p.fixed_per_day.expect("rate");
        assert!((0.9..1.2).contains(&rate), "{rate}");
        assert_eq!(p.status, Status::OnTrack);
    }
}
