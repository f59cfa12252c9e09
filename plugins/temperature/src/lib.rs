//! A simulated temperature sensor at `/temperature`.
//!
//! The reading follows a slow daily curve (cooler at night, warmest in the
//! afternoon) plus a small random walk, so that observers see a value that moves
//! plausibly rather than jumping around. The random walk's position lives in the
//! key-value store: the host may replace or multiply instances at any time, and
//! a global would make the walk restart or fork.
//!
//! GET answers `{"temperature":T,"timestamp":"...","unit":"celsius","value":T}`
//! (`value` for the implementation guide's clients, `temperature` for the
//! tutorial's: the same number), plus any configuration keys stored by PUT; or
//! `T C` as text/plain.
//!
//! PUT takes a JSON object (Content-Format 50, or none):
//! - `value` (or its alias `temperature`), a number in the sensor's range,
//!   sets the reading, like a thermostat: the plugin stores the offset that
//!   makes the reading equal that number now (see [`set_point_offset`]); the
//!   daily curve and the random walk carry on from there;
//! - `unit`, if present, must be `"celsius"`, and `timestamp` is ignored, so
//!   that a body read by GET can be PUT back;
//! - every other key is configuration (a `threshold`, say): stored in the
//!   key-value store and shown by GET beside the reading; `null` removes it.
//!
//! It answers 2.04 with the new representation. Anything else (not JSON, not
//! an object, a `value` that is not a number, an unknown unit) is 4.00 with a
//! diagnostic, a Content-Format other than JSON 4.15, and changes nothing.
//! Observers are notified by the host after a 2.04, with the new reading.

use std::f64::consts::TAU;
use std::hash::{BuildHasher, RandomState};
use std::time::{SystemTime, UNIX_EPOCH};

use coapwasm_sdk::content_format::{JSON, TEXT_PLAIN};
use coapwasm_sdk::{
    Method, Methods, Plugin, PluginDescription, Request, ResourceDescription, Response,
    ResponseCode, kv, log,
};
use serde_json::{Map, Value};

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

/// Key of the offset a PUT of `value` set, in °C, added to the simulated
/// reading (daily curve plus walk); absent means 0.
const OFFSET_KEY: &str = "offset";
/// Key of the configuration PUT stored: a JSON object.
const CONFIG_KEY: &str = "config";
/// The readings a PUT may set: the range of a common digital sensor.
const SETTABLE: std::ops::RangeInclusive<f64> = -40.0..=85.0;
/// The most configuration keys, and bytes of their JSON, a PUT may leave.
const MAX_CONFIG_KEYS: usize = 16;
const MAX_CONFIG_BYTES: usize = 1024;
/// Keys of the representation that are not configuration.
const READING_KEYS: [&str; 4] = ["value", "temperature", "unit", "timestamp"];

struct Temperature;

impl Plugin for Temperature {
    fn describe() -> PluginDescription {
        PluginDescription::new("temperature", env!("CARGO_PKG_VERSION")).resource(
            ResourceDescription::new("/temperature", Methods::GET | Methods::PUT)
                .observable()
                .sample_interval_ms(SAMPLE_INTERVAL_MS)
                .content_format(JSON)
                .content_format(TEXT_PLAIN)
                // RFC 6690 §3.1: one rt, space-separated values. Ours, the
                // tutorial's and the implementation guide's.
                .resource_type("temperature-c temperature-celsius sensor")
                .interface("sensor")
                .title("Temperature"),
        )
    }

    fn sample(_path: &str) -> bool {
        sample_changed()
    }

    fn handle(request: Request) -> Response {
        // The host only routes GET and PUT /temperature here and has already
        // refused an Accept other than the two formats we list.
        if request.method == Method::Put {
            return match put(&request) {
                Ok(response) | Err(response) => response,
            };
        }
        let now = unix_now();
        let celsius = reading(now, current_drift(), stored_offset());

        let response = if request.accept == Some(TEXT_PLAIN) {
            Response::text(format!("{celsius:.1} C"))
        } else {
            Response::json(representation(celsius, now, stored_config()))
        };
        response.with_max_age(MAX_AGE_SECS)
    }
}

/// The JSON representation: the reading under both names, its unit and time,
/// and the configuration keys beside them.
fn representation(celsius: f64, unix_secs: u64, config: Map<String, Value>) -> String {
    if config.is_empty() {
        // What serde_json writes for the four keys alone (sorted, the
        // number as ryu prints it), without a map built and walked for
        // every GET.
        let number = Value::from(celsius);
        let timestamp = rfc3339(unix_secs);
        return format!(
            r#"{{"temperature":{number},"timestamp":"{timestamp}","unit":"celsius","value":{number}}}"#
        );
    }
    let mut body = config;
    body.insert("value".into(), celsius.into());
    body.insert("temperature".into(), celsius.into());
    body.insert("unit".into(), "celsius".into());
    body.insert("timestamp".into(), rfc3339(unix_secs).into());
    Value::Object(body).to_string()
}

/// What a valid PUT body asks for.
#[derive(Debug, PartialEq)]
struct Update {
    /// The reading to set, if any.
    value: Option<f64>,
    /// Configuration keys to store (`Value::Null`: to remove).
    config: Map<String, Value>,
}

/// Parses a PUT body: see the module's documentation for what it accepts.
fn parse_update(payload: &[u8]) -> Result<Update, String> {
    let body: Value =
        serde_json::from_slice(payload).map_err(|error| format!("invalid JSON: {error}"))?;
    let Value::Object(mut body) = body else {
        return Err(format!(
            r#"expected a JSON object such as {{"value":25.0}}, got {body}"#
        ));
    };
    let mut value = None;
    for key in ["value", "temperature"] {
        let Some(given) = body.remove(key) else {
            continue;
        };
        let number = given
            .as_f64()
            .ok_or_else(|| format!("{key} must be a number (degrees Celsius), got {given}"))?;
        if !SETTABLE.contains(&number) {
            return Err(format!(
                "{key} {number} is outside the sensor's range {}..{} celsius",
                SETTABLE.start(),
                SETTABLE.end()
            ));
        }
        if value.is_some_and(|earlier| earlier != number) {
            return Err("value and temperature differ: give one, or the same number".into());
        }
        value = Some(number);
    }
    if let Some(unit) = body.remove("unit")
        && unit != "celsius"
    {
        return Err(format!(r#"unit must be "celsius", got {unit}"#));
    }
    body.remove("timestamp");
    Ok(Update {
        value,
        config: body,
    })
}

/// Answers a PUT: 2.04 with the new representation, or the 4.xx/5.00 that
/// says why nothing changed.
fn put(request: &Request) -> Result<Response, Response> {
    // No Content-Format is taken as JSON, as the tutorial's client sends none.
    if let Some(format) = request.content_format.filter(|&format| format != JSON) {
        return Err(Response::unsupported_content_format(format!(
            "content-format {format} not supported: send application/json (50)"
        )));
    }
    let update = parse_update(&request.payload).map_err(Response::bad_request)?;

    let now = unix_now();
    let drift = current_drift();
    let mut offset = stored_offset();
    // Checked before anything is stored: a refused PUT changes nothing.
    merged_config(stored_config(), update.config.clone()).map_err(Response::bad_request)?;
    if let Some(value) = update.value {
        offset = set_point_offset(value, now, drift);
        store(OFFSET_KEY, offset.to_string())?;
        log::info(&format!("temperature set to {value} by {}", request.source));
    }
    let mut config = stored_config();
    if !update.config.is_empty() {
        config = merged_config(config, update.config).map_err(Response::bad_request)?;
        store(CONFIG_KEY, Value::Object(config.clone()).to_string())?;
    }
    let celsius = reading(now, drift, offset);
    // Observers are about to be told this reading by the host: the sampler
    // need not tell them again.
    let _ = kv::set(NOTIFIED_KEY, format!("{celsius:.1}"));
    Ok(Response::json(representation(celsius, now, config)).with_code(ResponseCode::Changed))
}

/// `config` with `update` applied (`null` removes a key), within
/// [`MAX_CONFIG_KEYS`] and [`MAX_CONFIG_BYTES`]: every GET carries the
/// configuration, so a client must not be able to make it large.
fn merged_config(
    mut config: Map<String, Value>,
    update: Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    for (key, value) in update {
        if value.is_null() {
            config.remove(&key);
        } else {
            config.insert(key, value);
        }
    }
    let bytes = Value::Object(config.clone()).to_string().len();
    if config.len() > MAX_CONFIG_KEYS || bytes > MAX_CONFIG_BYTES {
        return Err(format!(
            "configuration is limited to {MAX_CONFIG_KEYS} keys and {MAX_CONFIG_BYTES} bytes \
             of JSON; this would make {} keys, {bytes} bytes (null removes a key)",
            config.len()
        ));
    }
    Ok(config)
}

fn store(key: &str, value: String) -> Result<(), Response> {
    kv::set(key, value).map_err(|error| {
        Response::internal_server_error(format!("cannot store {key:?}: {error:?}"))
    })
}

/// The offset that makes the reading at `unix_secs`, with the walk at
/// `drift`, equal `value`. The reading is the daily curve plus the walk
/// (clamped to the simulation's 15..30 °C) plus this offset, so after a PUT
/// the curve and the walk move it on from `value` as they moved it before.
fn set_point_offset(value: f64, unix_secs: u64, drift: f64) -> f64 {
    value - simulated(unix_secs, drift)
}

/// The offset a PUT of `value` stored; 0 if none (or an unreadable one).
fn stored_offset() -> f64 {
    kv::get(OFFSET_KEY)
        .ok()
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse::<f64>().ok())
        .filter(|offset| offset.is_finite())
        .unwrap_or(0.0)
}

/// The configuration PUT stored; empty if none (or an unreadable one).
fn stored_config() -> Map<String, Value> {
    let stored = kv::get(CONFIG_KEY).ok().flatten().unwrap_or_default();
    match serde_json::from_slice(&stored) {
        Ok(Value::Object(mut config)) => {
            // Never let configuration shadow the reading.
            config.retain(|key, _| !READING_KEYS.contains(&key.as_str()));
            config
        }
        _ => Map::new(),
    }
}

/// Reads the sensor: a new step of the walk, and whether the reading moved
/// off the last one reported to observers.
fn sample_changed() -> bool {
    let celsius = reading(unix_now(), next_drift(), stored_offset());
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

/// The temperature at `unix_secs` for a random-walk position `drift` and a
/// set-point offset `offset` (see [`set_point_offset`]), rounded to the
/// sensor's resolution of 0.1 °C.
fn reading(unix_secs: u64, drift: f64, offset: f64) -> f64 {
    let celsius = simulated(unix_secs, drift) + offset;
    (celsius * 10.0).round() / 10.0
}

/// The simulation alone: the daily curve plus the walk, kept to 15..30 °C.
fn simulated(unix_secs: u64, drift: f64) -> f64 {
    let time_of_day = (unix_secs % SECS_PER_DAY) as f64;
    let daily =
        DAILY_AMPLITUDE * (TAU * (time_of_day - DAILY_RISE_SECS) / SECS_PER_DAY as f64).sin();
    (BASE + daily + drift).clamp(15.0, 30.0)
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
    fn the_bare_representation_is_what_serde_json_writes() {
        for celsius in [21.0, 21.3, -0.5, 85.0, 15.1] {
            let mut body = Map::new();
            body.insert("value".into(), celsius.into());
            body.insert("temperature".into(), celsius.into());
            body.insert("unit".into(), "celsius".into());
            body.insert("timestamp".into(), rfc3339(1_795_341_600).into());
            assert_eq!(
                representation(celsius, 1_795_341_600, Map::new()),
                Value::Object(body).to_string()
            );
        }
    }

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
        assert_eq!(reading(day + 15 * 3600, 0.0, 0.0), 23.5);
        assert_eq!(reading(day + 3 * 3600, 0.0, 0.0), 18.5);
        assert_eq!(reading(day + 9 * 3600, 0.4, 0.0), 21.4);
    }

    #[test]
    fn a_set_point_reads_back_and_drifts_from_there() {
        let now = 20_000 * SECS_PER_DAY + 15 * 3600;
        let offset = set_point_offset(25.0, now, 0.3);
        assert_eq!(reading(now, 0.3, offset), 25.0);
        // The walk and the curve move it on from the set point.
        assert_eq!(reading(now, 0.4, offset), 25.1);
        assert_eq!(reading(now + 12 * 3600, 0.3, offset), 20.0);
        // Beyond the simulation's own 15..30 too.
        let offset = set_point_offset(-12.5, now, -1.5);
        assert_eq!(reading(now, -1.5, offset), -12.5);
    }

    #[test]
    fn parses_updates() {
        assert_eq!(
            parse_update(br#"{"value": 25.0}"#),
            Ok(Update {
                value: Some(25.0),
                config: Map::new()
            })
        );
        assert_eq!(
            parse_update(br#"{"temperature":19}"#).unwrap().value,
            Some(19.0)
        );
        assert_eq!(
            parse_update(br#"{"value":20,"temperature":20.0}"#)
                .unwrap()
                .value,
            Some(20.0)
        );
        let update = parse_update(br#"{"threshold": 28.5, "mode": null}"#).unwrap();
        assert_eq!(update.value, None);
        assert_eq!(
            Value::Object(update.config),
            serde_json::json!({"threshold": 28.5, "mode": null})
        );
        // What GET answered can be PUT back.
        let body = representation(21.5, 0, Map::new());
        assert_eq!(parse_update(body.as_bytes()).unwrap().value, Some(21.5));
        assert_eq!(
            parse_update(b"{}").unwrap(),
            Update {
                value: None,
                config: Map::new()
            }
        );
    }

    #[test]
    fn explains_bad_updates() {
        assert_eq!(
            parse_update(b"25").unwrap_err(),
            r#"expected a JSON object such as {"value":25.0}, got 25"#
        );
        assert_eq!(
            parse_update(b"{value: 25}").unwrap_err(),
            "invalid JSON: key must be a string at line 1 column 2"
        );
        assert_eq!(
            parse_update(br#"{"value":"hot"}"#).unwrap_err(),
            r#"value must be a number (degrees Celsius), got "hot""#
        );
        assert_eq!(
            parse_update(br#"{"value":1000}"#).unwrap_err(),
            "value 1000 is outside the sensor's range -40..85 celsius"
        );
        assert!(parse_update(br#"{"value":20,"temperature":21}"#).is_err());
        assert_eq!(
            parse_update(br#"{"value":20,"unit":"F"}"#).unwrap_err(),
            r#"unit must be "celsius", got "F""#
        );
    }

    #[test]
    fn the_reading_goes_by_both_names() {
        let mut config = Map::new();
        config.insert("threshold".into(), 28.into());
        let body: Value = serde_json::from_str(&representation(22.4, 0, config)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "value": 22.4,
                "temperature": 22.4,
                "unit": "celsius",
                "timestamp": "1970-01-01T00:00:00Z",
                "threshold": 28,
            })
        );
    }

    #[test]
    fn walk_stays_bounded() {
        assert_eq!(step(0.0, 0.5), 0.0);
        assert_eq!(step(DRIFT_LIMIT, 0.999), DRIFT_LIMIT);
        assert_eq!(step(-DRIFT_LIMIT, 0.0), -DRIFT_LIMIT);
        let unit = random_unit();
        assert!((0.0..1.0).contains(&unit));
    }

    #[test]
    fn configuration_stays_small() {
        let object = |text: &str| match serde_json::from_str(text).unwrap() {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let config = merged_config(Map::new(), object(r#"{"threshold":30}"#)).unwrap();
        let removed = merged_config(config.clone(), object(r#"{"threshold":null}"#)).unwrap();
        assert!(removed.is_empty());
        let big = format!(r#"{{"note":"{}"}}"#, "x".repeat(MAX_CONFIG_BYTES));
        assert!(
            merged_config(config.clone(), object(&big))
                .unwrap_err()
                .contains("limited")
        );
        let mut many = Map::new();
        for i in 0..=MAX_CONFIG_KEYS {
            many.insert(format!("k{i}"), Value::from(i));
        }
        assert!(merged_config(Map::new(), many).is_err());
    }
}
