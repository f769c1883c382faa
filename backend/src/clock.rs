//! Time as the database stores it (epoch milliseconds) and as the API shows it (RFC 3339, UTC).

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// A UTC day, in milliseconds.
pub const DAY_MS: Millis = 86_400_000;

pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}

/// `2026-11-21T08:00:00.123Z`
pub fn rfc3339(millis: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Seconds from `now` to the next UTC midnight, when daily quotas start again.
pub fn secs_until_midnight(now: Millis) -> u64 {
    ((DAY_MS - now.rem_euclid(DAY_MS)) as u64).div_ceil(1000)
}

/// The UTC day of an instant, `YYYY-MM-DD`: the key of daily usage.
pub fn day(millis: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis).unwrap_or_default().format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_utc_with_z() {
        assert_eq!(rfc3339(1_795_248_000_000), "2026-11-21T08:00:00.000Z");
        assert_eq!(day(1_795_248_000_000), "2026-11-21");
        assert_eq!(day(1_795_219_199_999), "2026-11-20");
    }
}
