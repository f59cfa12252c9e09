//! A collection of sensors at `/sensors`, the RESTful creation of seed 000's
//! method table: `POST /sensors` creates `/sensors/{id}` (2.01 Created with
//! Location-Path, RFC 7252 §5.8.2), which GET, PUT (§5.8.3) and DELETE
//! (§5.8.4) reach, and Observe too. The members are a collection's
//! (`/sensors/*`): every path below `/sensors` comes here, and this plugin
//! answers 4.04 for the ones it has not created. Each member is listed in
//! /.well-known/core with its type as `rt`.
//!
//! A sensor is a JSON object kept in the key-value store under
//! `sensor/{id}`: `{"id": "3", "type": "temperature", "value": 21.5,
//! "unit": "celsius"}`; `type`, `value` and `unit` are the client's.

use coapwasm_sdk::content_format::JSON;
use coapwasm_sdk::{
    LinkAttribute, Method, Methods, Plugin, PluginDescription, Request, ResourceDescription,
    Response, ResponseCode, collection, kv, observe,
};
use serde::{Deserialize, Serialize};

const COLLECTION: &str = "/sensors";
/// Key of the next id to give; ids are never reused, so a deleted sensor's
/// observers and caches never meet another under its name.
const NEXT_ID_KEY: &str = "next-id";
const SENSOR_PREFIX: &str = "sensor/";
/// Sensors the collection holds at most: a client cannot fill the store.
const MAX_SENSORS: usize = 256;
/// The longest `type` or `unit`, and an id given by PUT.
const MAX_TEXT: usize = 64;

/// A member's state, as stored and as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sensor {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
}

/// What a client may send in a POST or PUT body; every field optional.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    #[serde(rename = "type")]
    kind: Option<String>,
    value: Option<f64>,
    unit: Option<String>,
}

struct Sensors;

impl Plugin for Sensors {
    fn describe() -> PluginDescription {
        PluginDescription::new("sensors", env!("CARGO_PKG_VERSION"))
            .resource(
                ResourceDescription::new(COLLECTION, Methods::GET | Methods::POST)
                    .observable()
                    .content_format(JSON)
                    .resource_type("sensor-collection")
                    .title("Sensors: POST to create one"),
            )
            .resource(
                ResourceDescription::members_of(
                    COLLECTION,
                    Methods::GET | Methods::PUT | Methods::DELETE,
                )
                .observable()
                .content_format(JSON)
                .resource_type("sensor"),
            )
    }

    fn handle(request: Request) -> Response {
        let outcome = if request.path == COLLECTION {
            match request.method {
                Method::Get => list(),
                Method::Post => parse_fields(&request).and_then(create),
                _ => Err(Response::method_not_allowed("GET or POST only")),
            }
        } else {
            match member_id(&request.path) {
                None => Err(Response::not_found(format!(
                    "no sensor at {}",
                    request.path
                ))),
                Some(id) => match request.method {
                    Method::Get => get(id),
                    Method::Put => parse_fields(&request).and_then(|fields| put(id, fields)),
                    Method::Delete => delete(id),
                    _ => Err(Response::method_not_allowed("GET, PUT or DELETE only")),
                },
            }
        };
        outcome.unwrap_or_else(|error| error)
    }
}

/// The id of a member path: `/sensors/3` gives `3`; deeper paths and ids
/// that are not a plain token are no sensor.
fn member_id(path: &str) -> Option<&str> {
    let id = path.strip_prefix(COLLECTION)?.strip_prefix('/')?;
    let plain = !id.is_empty()
        && id.len() <= MAX_TEXT
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plain.then_some(id)
}

fn parse_fields(request: &Request) -> Result<Fields, Response> {
    if let Some(format) = request.content_format.filter(|&format| format != JSON) {
        return Err(Response::unsupported_content_format(format!(
            "content-format {format} not supported: send application/json (50)"
        )));
    }
    fields_from(&request.payload).map_err(Response::bad_request)
}

/// A body's fields; an empty body is no fields.
fn fields_from(payload: &[u8]) -> Result<Fields, String> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(Fields::default());
    }
    let fields: Fields = serde_json::from_slice(payload).map_err(|error| {
        format!(r#"invalid body: {error}; expected {{"type": "...", "value": 1.5, "unit": "..."}}"#)
    })?;
    for text in [&fields.kind, &fields.unit].into_iter().flatten() {
        if text.is_empty() || text.len() > MAX_TEXT || text.chars().any(char::is_control) {
            return Err(format!(
                "type and unit must be 1 to {MAX_TEXT} printable characters"
            ));
        }
    }
    if fields.value.is_some_and(|value| !value.is_finite()) {
        return Err("value must be a finite number".to_owned());
    }
    Ok(fields)
}

fn list() -> Result<Response, Response> {
    let sensors: Vec<Sensor> = sensor_ids()?
        .iter()
        .filter_map(|id| load(id).ok().flatten())
        .collect();
    Ok(json(ResponseCode::Content, &sensors))
}

fn get(id: &str) -> Result<Response, Response> {
    match load(id)? {
        Some(sensor) => Ok(json(ResponseCode::Content, &sensor)),
        None => Err(Response::not_found(format!("no sensor {id}"))),
    }
}

fn create(fields: Fields) -> Result<Response, Response> {
    if sensor_ids()?.len() >= MAX_SENSORS {
        return Err(Response::forbidden(format!(
            "the collection holds its most sensors ({MAX_SENSORS}): delete one first"
        )));
    }
    let next: u64 = kv::get(NEXT_ID_KEY)
        .map_err(|error| store_failure("read", &error))?
        .and_then(|bytes| String::from_utf8(bytes).ok()?.parse().ok())
        .unwrap_or(1);
    kv::set(NEXT_ID_KEY, (next + 1).to_string()).map_err(|error| store_failure("write", &error))?;
    let sensor = new_sensor(next.to_string(), fields);
    store(&sensor)?;
    // The host notifies /sensors' observers after a 2.01 on its own.
    Ok(json(ResponseCode::Created, &sensor).with_location_path(["sensors", sensor.id.as_str()]))
}

fn put(id: &str, fields: Fields) -> Result<Response, Response> {
    match load(id)? {
        Some(mut sensor) => {
            if let Some(kind) = fields.kind {
                sensor.kind = kind;
            }
            sensor.value = fields.value.or(sensor.value);
            sensor.unit = fields.unit.or(sensor.unit);
            store(&sensor)?;
            Ok(json(ResponseCode::Changed, &sensor))
        }
        // §5.8.3: a PUT to a resource that does not exist may create it.
        None => {
            if sensor_ids()?.len() >= MAX_SENSORS {
                return Err(Response::forbidden(format!(
                    "the collection holds its most sensors ({MAX_SENSORS}): delete one first"
                )));
            }
            let sensor = new_sensor(id.to_owned(), fields);
            store(&sensor)?;
            observe::changed(COLLECTION, false);
            Ok(json(ResponseCode::Created, &sensor))
        }
    }
}

/// §5.8.4: 2.02 whether or not the sensor was there; its observers then
/// get 4.04 from the host's notification, which ends their observation.
fn delete(id: &str) -> Result<Response, Response> {
    let existed = kv::delete(&key(id)).map_err(|error| store_failure("delete", &error))?;
    collection::unlist_member(&member_path(id));
    if existed {
        observe::changed(COLLECTION, false);
    }
    Ok(Response::deleted())
}

fn new_sensor(id: String, fields: Fields) -> Sensor {
    Sensor {
        id,
        kind: fields.kind.unwrap_or_else(|| "generic".to_owned()),
        value: fields.value,
        unit: fields.unit,
    }
}

/// Stores `sensor` and lists it in discovery with its type as `rt`.
fn store(sensor: &Sensor) -> Result<(), Response> {
    let bytes = serde_json::to_vec(sensor)
        .map_err(|error| Response::internal_server_error(error.to_string()))?;
    kv::set(&key(&sensor.id), bytes).map_err(|error| store_failure("write", &error))?;
    let attributes = [LinkAttribute::new("rt", sensor.kind.clone())];
    collection::list_member(&member_path(&sensor.id), &attributes).map_err(|error| {
        Response::internal_server_error(format!("stored, but not listed for discovery: {error:?}"))
    })
}

fn load(id: &str) -> Result<Option<Sensor>, Response> {
    let Some(bytes) = kv::get(&key(id)).map_err(|error| store_failure("read", &error))? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|error| {
        Response::internal_server_error(format!("stored sensor {id} is unreadable: {error}"))
    })
}

fn sensor_ids() -> Result<Vec<String>, Response> {
    let keys = kv::keys().map_err(|error| store_failure("list", &error))?;
    Ok(keys
        .into_iter()
        .filter_map(|key| key.strip_prefix(SENSOR_PREFIX).map(str::to_owned))
        .collect())
}

fn key(id: &str) -> String {
    format!("{SENSOR_PREFIX}{id}")
}

fn member_path(id: &str) -> String {
    format!("{COLLECTION}/{id}")
}

fn json(code: ResponseCode, value: &impl Serialize) -> Response {
    // Serialising our own types cannot fail.
    Response::json(serde_json::to_vec(value).unwrap_or_default()).with_code(code)
}

fn store_failure(action: &str, error: &kv::Error) -> Response {
    let reason = match error {
        kv::Error::TooLarge => "too large",
        kv::Error::Storage(reason) => reason,
    };
    Response::internal_server_error(format!("cannot {action} the sensors: {reason}"))
}

coapwasm_sdk::export!(Sensors);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_are_plain_tokens_one_level_down() {
        assert_eq!(member_id("/sensors/3"), Some("3"));
        assert_eq!(member_id("/sensors/kitchen-1"), Some("kitchen-1"));
        assert_eq!(member_id("/sensors"), None);
        assert_eq!(member_id("/sensors/3/unit"), None);
        assert_eq!(member_id("/sensors/a.b"), None);
        assert_eq!(member_id("/sensorsx/3"), None);
    }

    #[test]
    fn bodies_are_checked() {
        assert_eq!(fields_from(b"").unwrap(), Fields::default());
        let fields = fields_from(br#"{"type":"humidity","value":55,"unit":"percent"}"#).unwrap();
        assert_eq!(fields.kind.as_deref(), Some("humidity"));
        assert_eq!(fields.value, Some(55.0));
        assert!(fields_from(b"{").unwrap_err().starts_with("invalid body"));
        assert!(
            fields_from(br#"{"colour":"red"}"#)
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(fields_from(br#"{"value":"hot"}"#).is_err());
        assert!(fields_from(br#"{"type":""}"#).is_err());
    }

    #[test]
    fn a_sensor_round_trips_without_empty_fields() {
        let sensor = new_sensor("7".to_owned(), Fields::default());
        let text = serde_json::to_string(&sensor).unwrap();
        assert_eq!(text, r#"{"id":"7","type":"generic"}"#);
        assert_eq!(serde_json::from_str::<Sensor>(&text).unwrap(), sensor);
    }
}
