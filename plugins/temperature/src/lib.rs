//! A simulated temperature sensor at `/temperature`.
//!
//! The reading follows a slow daily curve (cooler at night, warmest in the
//! afternoon) plus a small random walk, so that observers see a value that moves
//! plausibly rather than jumping around. The random walk's position lives in the
//! key-value store: the host may replace or multiply instances at any time, and
//! a global would make the walk restart or fork.

use std::f64::consts::TAU;
use std::hash::{BuildHasher, RandomState};
use std::time::{SystemTime, UNIX_EPOCH};

use coapwasm_sdk::content_format::{JSON, TEXT_PLAIN};
use coapwasm_sdk::{
    Methods, Plugin, PluginDescription, Request, ResourceDescription, Response, kv, log,
};

/// Key of the random walk's current offset from the daily curve, in °C.
const DRIFT_KEY: &str = "drift";
/// Largest change of the offset per reading, either way.
const DRIFT_STEP: f64 = 0.1;
/// The offset stays within ± this, so the walk cannot wander off.
const DRIFT_LIMIT: f64 = 1.5;

const BASE: f64 = 21.0;
/// Half the spread between the night's low and the afternoon's high.
const DAILY_AMPLITUDE: f64 = 2.5;
/// Time of day (UTC) at which the daily curve crosses `BASE` on its way up,
/// so that it peaks six hours later, at 15:00.
const DAILY_RISE_SECS: f64 = 9.0 * 3600.0;
const SECS_PER_DAY: u64 = 86_400;

/// A reading stays fresh for a few seconds; observers are notified no slower.
const MAX_AGE_SECS: u32 = 5;

/// How often the host samples the sensor for observers (RFC 7641): each sample
/// advances the random walk, and a reading that differs from the last one
/// observers were told of makes the host notify them.
const SAMPLE_INTERVAL_MS: u32 = 2000;
/// Key of the last reading observers were told of, as text.
const NOTIFIED_KEY: &str = "notified";

struct Temperature;

impl Plugin for Temperature {
    fn describe() -> PluginDescription {
        PluginDescription::new("temperature", env!("CARGO_PKG_VERSION")).resource(
            ResourceDescription::new("/temperature", Methods::GET)
                .observable()
                .sample_interval_ms(SAMPLE_INTERVAL_MS)
                .content_format(JSON)
                .content_format(TEXT_PLAIN)
                .resource_type("temperature-c")
                .interface("sensor")
                .title("Temperature"),
        )
    }

    fn sample(_path: &str) -> bool {
        sample_changed()
    }

    fn handle(request: Request) -> Response {
        // The host only routes GET /temperature here and has already refused an
        // Accept other than the two formats we list.
        let now = unix_now();
        let celsius = reading(now, current_drift());

        let response = if request.accept == Some(TEXT_PLAIN) {
            Response::text(format!("{celsius:.1} C"))
        } else {
            let body = serde_json::json!({
                "value": celsius,
                "unit": "celsius",
                "timestamp": rfc3339(now),
            });
            Response::json(body.to_string())
        };
        response.with_max_age(MAX_AGE_SECS)
    }
}

/// Reads the sensor: a new step of the walk, and whether the reading moved
/// off the last one reported to observers.
fn sample_changed() -> bool {
    let celsius = reading(unix_now(), next_drift());
    let text = format!("{celsius:.1}");
    let notified = kv::get(NOTIFIED_KEY).ok().flatten();
    if notified.as_deref() == Some(text.as_bytes()) {
        return false;
    }
    // If this write fails, observers are merely told again next time.
    let _ = kv::set(NOTIFIED_KEY, text);
    true
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The temperature at `unix_secs` for a random-walk offset of `drift`, rounded
/// to the sensor's resolution of 0.1 °C.
fn reading(unix_secs: u64, drift: f64) -> f64 {
    let time_of_day = (unix_secs % SECS_PER_DAY) as f64;
    let daily =
        DAILY_AMPLITUDE * (TAU * (time_of_day - DAILY_RISE_SECS) / SECS_PER_DAY as f64).sin();
    let celsius = (BASE + daily + drift).clamp(15.0, 30.0);
    (celsius * 10.0).round() / 10.0
}

/// The random walk's offset now, without moving it: reading the value does
/// not move the sensor; sampling does.
fn current_drift() -> f64 {
    kv::get(DRIFT_KEY)
        .ok()
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse::<f64>().ok())
        .filter(|drift| drift.is_finite())
        .unwrap_or(0.0)
}

/// Advances the random walk one step and returns its new offset.
///
/// A store failure must not take the sensor down: the reading then simply
/// lacks the walk, and the failure goes to the log.
fn next_drift() -> f64 {
    let previous = match kv::get(DRIFT_KEY) {
        Ok(stored) => stored
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse::<f64>().ok())
            .filter(|drift| drift.is_finite())
            .unwrap_or(0.0),
        Err(error) => {
            log::warn(&format!("cannot read {DRIFT_KEY:?}: {error:?}"));
            return 0.0;
        }
    };
    let drift = step(previous, random_unit());
    if let Err(error) = kv::set(DRIFT_KEY, drift.to_string()) {
        log::warn(&format!("cannot store {DRIFT_KEY:?}: {error:?}"));
    }
    drift
}

/// One step of the walk from `drift`, `unit` being uniform in [0, 1).
fn step(drift: f64, unit: f64) -> f64 {
    (drift + (unit * 2.0 - 1.0) * DRIFT_STEP).clamp(-DRIFT_LIMIT, DRIFT_LIMIT)
}

/// A uniformly distributed number in [0, 1).
///
/// `RandomState` is seeded by std from `wasi:random`, which spares a crate for
/// the few random bits a simulation needs; each new state hashes differently.
fn random_unit() -> f64 {
    let bits = RandomState::new().hash_one(());
    // The top 53 bits fill an f64 mantissa exactly.
    (bits >> 11) as f64 / (1_u64 << 53) as f64
}

/// `unix_secs` as an RFC 3339 UTC timestamp such as `2026-11-22T10:00:00Z`.
fn rfc3339(unix_secs: u64) -> String {
    let (days, secs) = (unix_secs / SECS_PER_DAY, unix_secs % SECS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// The proleptic Gregorian date `days` after 1970-01-01, after Howard Hinnant's
/// `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>),
/// restricted to dates from 1970 on since the clock cannot be earlier here.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Count from 0000-03-01 so that the leap day ends each 400-year era.
    let days = days + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

coapwasm_sdk::export!(Temperature);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_341_600), "2026-11-22T10:00:00Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn daily_curve_peaks_in_the_afternoon() {
        let day = 20_000 * SECS_PER_DAY;
        assert_eq!(reading(day + 15 * 3600, 0.0), 23.5);
        assert_eq!(reading(day + 3 * 3600, 0.0), 18.5);
        assert_eq!(reading(day + 9 * 3600, 0.4), 21.4);
    }

    #[test]
    fn walk_stays_bounded() {
        assert_eq!(step(0.0, 0.5), 0.0);
        assert_eq!(step(DRIFT_LIMIT, 0.999), DRIFT_LIMIT);
        assert_eq!(step(-DRIFT_LIMIT, 0.0), -DRIFT_LIMIT);
        let unit = random_unit();
        assert!((0.0..1.0).contains(&unit));
    }
}
