//! Time as forewarn speaks it: an enforcement moment in the configured zone, parsed once from
//! `YYYY-MM-DD` or RFC 3339, and the start of a calendar day.
//!
//! Pure values and parsers; never reads a clock.

use chrono::{DateTime, NaiveDate, TimeZone};
use chrono_tz::Tz;

/// When a policy is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnforceOn {
    /// The moment enforcement starts (midnight in the configured zone for a plain date).
    pub instant: DateTime<Tz>,
    /// The calendar day of enforcement in the configured zone.
    pub date: NaiveDate,
    /// Written as `YYYY-MM-DD` (no time of day).
    pub date_only: bool,
}

/// A day as messages show it: `Mon 14 Dec 2026`.
pub fn show_day<T: TimeZone>(t: DateTime<T>) -> String
where
    T::Offset: std::fmt::Display,
{
    t.format("%a %-d %b %Y").to_string()
}

impl EnforceOn {
    /// As messages show it in `tz`: the day, with the time of day when one was given
    /// (`Thu 10 Dec 2026, 14:00 CET`).
    pub fn shown(&self, tz: Tz) -> String {
        let local = self.instant.with_timezone(&tz);
        if self.date_only {
            show_day(local)
        } else {
            local.format("%a %-d %b %Y, %H:%M %Z").to_string()
        }
    }

    /// Whether enforcement is due by `now`: a plain date from the day after it (the whole day
    /// is "on the date"), a time of day from that moment.
    pub fn passed_at<T: TimeZone>(&self, now: DateTime<T>, tz: Tz) -> bool {
        if self.date_only {
            self.date < now.with_timezone(&tz).date_naive()
        } else {
            self.instant < now.with_timezone(&tz)
        }
    }

    /// As written back to users: the date, or the full RFC 3339 time.
    pub fn display(&self) -> String {
        if self.date_only {
            self.date.format("%Y-%m-%d").to_string()
        } else {
            self.instant.to_rfc3339()
        }
    }
}

/// Midnight at the start of `date` in `tz` (the first valid instant of the day when midnight is
/// skipped by a daylight-saving change).
pub fn start_of_day(date: NaiveDate, tz: Tz) -> Option<DateTime<Tz>> {
    (0..24).find_map(|h| {
        tz.from_local_datetime(&date.and_hms_opt(h, 0, 0)?)
            .earliest()
    })
}

/// Parses `YYYY-MM-DD` (midnight in `tz`) or an RFC 3339 time.
pub fn parse_enforce_on(text: &str, tz: Tz) -> Result<EnforceOn, String> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let instant =
            start_of_day(date, tz).ok_or_else(|| format!("'{text}' has no midnight in {tz}"))?;
        return Ok(EnforceOn {
            instant,
            date,
            date_only: true,
        });
    }
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => {
            let instant = t.with_timezone(&tz);
            Ok(EnforceOn {
                instant,
                date: instant.date_naive(),
                date_only: false,
            })
        }
        Err(_) => Err(format!(
            "'{text}' is not a date: expected YYYY-MM-DD (midnight in {tz}) or RFC 3339 such as 2026-12-14T09:00:00+01:00"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_midnight_in_the_zone() {
        let tz: Tz = "Europe/Berlin".parse().expect("zone");
        let e = parse_enforce_on("2026-12-14", tz).expect("date");
        assert_eq!(e.instant.to_rfc3339(), "2026-12-14T00:00:00+01:00");
        assert!(e.date_only);
        let e = parse_enforce_on("2026-12-14T08:00:00Z", tz).expect("rfc3339");
        assert_eq!(e.instant.to_rfc3339(), "2026-12-14T09:00:00+01:00");
        assert!(parse_enforce_on("14/12/2026", tz).is_err());
        assert!(parse_enforce_on("2026-02-30", tz).is_err());
    }
}
