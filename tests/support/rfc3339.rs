//! Reads RFC 3339 UTC timestamps (`2024-05-01T12:00:00Z`, fractions allowed)
//! into Unix seconds, so a test can check a reported time is the present one.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix seconds of a `YYYY-MM-DDTHH:MM:SS[.fraction]Z` timestamp.
pub fn parse_utc(text: &str) -> Result<i64, String> {
    let bad = || format!("not an RFC 3339 UTC timestamp: {text:?}");
    let body = text.strip_suffix('Z').ok_or_else(bad)?;
    let (date, time) = body.split_once('T').ok_or_else(bad)?;
    let time = match time.split_once('.') {
        Some((whole, fraction))
            if !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit()) =>
        {
            whole
        }
        Some(_) => return Err(bad()),
        None => time,
    };
    let field = |s: &str, len: usize| -> Result<i64, String> {
        if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(s.parse().unwrap())
        } else {
            Err(bad())
        }
    };
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || t.len() != 3 {
        return Err(bad());
    }
    let (year, month, day) = (field(d[0], 4)?, field(d[1], 2)?, field(d[2], 2)?);
    let (hour, minute, second) = (field(t[0], 2)?, field(t[1], 2)?, field(t[2], 2)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_instants() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_utc("2000-03-01T00:00:01.5Z"), Ok(951_868_801));
        assert!(parse_utc("2000-03-01T00:00:01+01:00").is_err());
        assert!(parse_utc("2000-3-01T00:00:01Z").is_err());
    }
}
