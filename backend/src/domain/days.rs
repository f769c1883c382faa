//! Ranges of UTC days, as the statistics take them (`?from=&to=`).

use chrono::{Duration as Days, NaiveDate, Utc};
use troupe_types::rules::RuleViolation;

use crate::clock::{DAY_MS, Millis};

/// Longest range the statistics accept, in days.
pub const MAX_RANGE_DAYS: i64 = 366;
/// Range when none is given: the last 30 days, today included.
pub const DEFAULT_RANGE_DAYS: i64 = 30;

/// An inclusive range of UTC days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    /// `from`/`to` as `YYYY-MM-DD`; either may be absent (defaults: the last 30 days to today).
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Self, RuleViolation> {
        let parse = |field: &'static str, value: &str| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| RuleViolation {
                field,
                code: "invalid_parameter",
                message: format!("{field} must be a day like 2026-11-21"),
            })
        };
        let today = Utc::now().date_naive();
        let to = to.map(|t| parse("to", t)).transpose()?.unwrap_or(today);
        let from = from.map(|f| parse("from", f)).transpose()?.unwrap_or(to - Days::days(DEFAULT_RANGE_DAYS - 1));
        let violation = |message: String| RuleViolation { field: "from", code: "invalid_parameter", message };
        if from > to {
            return Err(violation("from must not be after to".into()));
        }
        if (to - from).num_days() >= MAX_RANGE_DAYS {
            return Err(violation(format!("the range may span at most {MAX_RANGE_DAYS} days")));
        }
        Ok(Self { from, to })
    }

    pub fn from_key(&self) -> String {
        self.from.format("%Y-%m-%d").to_string()
    }

    pub fn to_key(&self) -> String {
        self.to.format("%Y-%m-%d").to_string()
    }

    /// Epoch ms of the first instant of `from`.
    pub fn start_millis(&self) -> Millis {
        self.from.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis()
    }

    /// Epoch ms just after the last day.
    pub fn end_millis(&self) -> Millis {
        self.start_millis() + ((self.to - self.from).num_days() + 1) * DAY_MS
    }

    pub fn days(&self) -> impl Iterator<Item = String> {
        let from = self.from;
        (0..=(self.to - self.from).num_days()).map(move |i| (from + Days::days(i)).format("%Y-%m-%d").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_default_to_the_last_30_days_and_are_bounded() {
        let r = DayRange::parse(Some("2026-01-01"), Some("2026-01-03")).unwrap();
        assert_eq!(r.days().collect::<Vec<_>>(), ["2026-01-01", "2026-01-02", "2026-01-03"]);
        assert_eq!(r.end_millis() - r.start_millis(), 3 * DAY_MS);
        assert_eq!(r.days().count(), 3);
        let default = DayRange::parse(None, None).unwrap();
        assert_eq!(default.days().count(), 30);
        assert!(DayRange::parse(Some("2026-01-05"), Some("2026-01-01")).is_err());
        assert!(DayRange::parse(Some("2025-01-01"), Some("2026-06-01")).is_err());
        assert_eq!(DayRange::parse(Some("yesterday"), None).unwrap_err().field, "from");
    }
}
