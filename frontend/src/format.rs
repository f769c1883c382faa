//! Numbers and times for people.

/// `1234567` → `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Bytes as people read them: `512 B`, `12.3 KB`, `4.5 MB`, `1.2 GB` (units of 1,024, as
/// storage quotas are set in MB).
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 100.0 { format!("{value:.0} {}", UNITS[unit]) } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// `$0.0123` with as many decimals as a small amount needs.
pub fn usd(amount: f64) -> String {
    if amount >= 100.0 {
        format!("${amount:.0}")
    } else if amount >= 1.0 {
        format!("${amount:.2}")
    } else {
        format!("${amount:.4}")
    }
}

/// An RFC 3339 time in the reader's language (`locale`, e.g. `ko`) and time zone.
pub fn local_time(rfc3339: &str, locale: &str) -> String {
    let date = js_sys::Date::new(&rfc3339.into());
    if date.get_time().is_nan() {
        return rfc3339.to_owned();
    }
    date.to_locale_string(locale, &js_sys::Object::new()).into()
}

/// An RFC 3339 time as a short date and the minute (`Mar 12, 2026, 2:05 PM`), for lists.
pub fn local_time_short(rfc3339: &str, locale: &str) -> String {
    let date = js_sys::Date::new(&rfc3339.into());
    if date.get_time().is_nan() {
        return rfc3339.to_owned();
    }
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into());
    let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into());
    date.to_locale_string(locale, &options).into()
}

/// Today and the day `days_back` days before it, as UTC `YYYY-MM-DD` (the API's days are UTC).
pub fn utc_day(days_back: u32) -> String {
    let ms = js_sys::Date::now() - f64::from(days_back) * 86_400_000.0;
    let iso: String = js_sys::Date::new(&ms.into()).to_iso_string().into();
    iso[..10].to_owned()
}

/// The first letters of up to two words: the avatar when there is no picture.
pub fn monogram(name: &str) -> String {
    name.split_whitespace().filter_map(|word| word.chars().next()).take(2).flat_map(char::to_uppercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-1000), "-1,000");
    }

    #[test]
    fn monograms() {
        assert_eq!(monogram("Captain Nemo of the Nautilus"), "CN");
        assert_eq!(monogram("세종"), "세");
        assert_eq!(monogram(""), "");
    }
}
