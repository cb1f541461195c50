//! When notices can go out: the configured cron schedule in the configured time zone.
//!
//! Maps a milestone (T-d before an enforcement) to the scheduled tick that sends it. Pure
//! arithmetic on the schedule; the clock is always an argument.

use crate::model::time::{EnforceOn, start_of_day};
use chrono::{DateTime, Days, Duration};
use chrono_tz::Tz;

/// The tick at which the milestone `days` before `enforce` is sent.
///
/// The milestone's day is the enforcement date minus `days` (calendar days in `tz`). It is sent
/// at the first tick on that day. When the schedule has no tick that day (a weekend under
/// `Mon-Fri`), it is sent at the latest tick before it instead, never later. The day-of
/// milestone (`days == 0`) of an enforcement with a time of day is sent no later than that time.
/// `None` when the schedule has no tick in the year before the milestone.
pub fn send_time(
    schedule: &cron::Schedule,
    tz: Tz,
    enforce: &EnforceOn,
    days: u32,
) -> Option<DateTime<Tz>> {
    let day = enforce.date.checked_sub_days(Days::new(u64::from(days)))?;
    let day_start = start_of_day(day, tz)?;
    let next_day_start = start_of_day(day.succ_opt()?, tz)?;
    let first_that_day = schedule
        .after(&(day_start - Duration::seconds(1)))
        .next()
        .filter(|t| *t < next_day_start);
    let limit = if days == 0 && !enforce.date_only {
        enforce.instant
    } else {
        next_day_start
    };
    match first_that_day {
        Some(t) if t <= limit => Some(t),
        _ => {
            let before = if days == 0 && !enforce.date_only {
                enforce.instant + Duration::seconds(1)
            } else {
                day_start
            };
            let t = schedule.after(&before).next_back()?;
            (before - t <= Duration::days(366)).then_some(t)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::parse_enforce_on;
    use std::str::FromStr;

    fn berlin() -> Tz {
        "Europe/Berlin".parse().expect("zone")
    }

    fn weekdays() -> cron::Schedule {
        cron::Schedule::from_str("0 0 9 * * Mon-Fri").expect("cron")
    }

    #[test]
    fn weekday_milestone_is_sent_that_morning() {
        // 2026-12-14 is a Monday; T-7 is Monday 2026-12-07.
        let e = parse_enforce_on("2026-12-14", berlin()).expect("date");
        let t = send_time(&weekdays(), berlin(), &e, 7).expect("tick");
        assert_eq!(t.to_rfc3339(), "2026-12-07T09:00:00+01:00");
    }

    #[test]
    fn weekend_milestone_moves_to_the_friday_before() {
        // T-1 of a Monday is Sunday: sent on Friday.
        let e = parse_enforce_on("2026-12-14", berlin()).expect("date");
        let t = send_time(&weekdays(), berlin(), &e, 1).expect("tick");
        assert_eq!(t.to_rfc3339(), "2026-12-11T09:00:00+01:00");
    }

    #[test]
    fn same_day_with_a_time_is_never_after_enforcement() {
        let e = parse_enforce_on("2026-12-14T08:00:00+01:00", berlin()).expect("date");
        let t = send_time(&weekdays(), berlin(), &e, 0).expect("tick");
        assert_eq!(t.to_rfc3339(), "2026-12-11T09:00:00+01:00");
        let e = parse_enforce_on("2026-12-14T12:00:00+01:00", berlin()).expect("date");
        let t = send_time(&weekdays(), berlin(), &e, 0).expect("tick");
        assert_eq!(t.to_rfc3339(), "2026-12-14T09:00:00+01:00");
    }
}
