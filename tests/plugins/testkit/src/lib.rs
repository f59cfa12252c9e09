//! A test-only plugin whose resources each exercise one part of the host for
//! the end-to-end tests: slow and trapping handlers, deduplication, the request
//! and response fields, ETags, Accept, block-wise transfer and Location options.

use std::time::Duration;

use coapwasm_sdk::content_format::{CBOR, JSON, TEXT_PLAIN as TEXT};
use coapwasm_sdk::{
    ContentFormat, Method, Methods, Plugin, PluginDescription, Request, ResourceDescription,
    Response, ResponseCode, kv, observe,
};

/// How long `/test/slow` sleeps without an `ms=` query item.
const DEFAULT_SLEEP_MS: u64 = 1500;
/// Keeps a typo in a test from hanging an instance for good.
const MAX_SLEEP_MS: u64 = 60_000;

const COUNT_KEY: &str = "count";

const ETAG: [u8; 4] = [0xE1, 0x7A, 0x60, 0x01];
const ETAG_MAX_AGE_SECS: u32 = 30;

/// Larger than any block size (RFC 7959 allows up to 1024 bytes), so the host
/// must split it into several blocks.
const BIG_LEN: usize = 3000;

/// `{"format": 60}` in CBOR (RFC 8949): a map of one pair, the 6-byte text
/// "format" and the unsigned integer 60, which needs a one-byte argument.
const CBOR_FORMAT: &[u8] = &[0xA1, 0x66, b'f', b'o', b'r', b'm', b'a', b't', 0x18, 0x3C];

/// The resources: path, methods, content-formats.
const RESOURCES: &[(&str, Methods, &[u16])] = &[
    ("/test/slow", Methods::GET, &[]),
    ("/test/trap", Methods::GET, &[]),
    ("/test/counter", Methods::GET.union(Methods::POST), &[]),
    (
        "/test/echo",
        Methods::GET
            .union(Methods::POST)
            .union(Methods::PUT)
            .union(Methods::DELETE)
            .union(Methods::FETCH),
        &[],
    ),
    ("/test/etag", Methods::GET, &[]),
    ("/test/accept", Methods::GET, &[JSON, CBOR]),
    ("/test/big", Methods::GET, &[]),
    ("/test/created", Methods::POST, &[]),
    ("/test/observable", Methods::GET.union(Methods::PUT), &[]),
    ("/test/notify", Methods::POST, &[]),
    ("/test/spin", Methods::GET, &[]),
    ("/test/hog", Methods::GET, &[]),
    ("/test/file", Methods::GET.union(Methods::PUT), &[]),
    ("/test/env", Methods::GET, &[]),
    ("/test/strict", Methods::GET, &[]),
];

/// The file GET /test/file reads and the file PUT /test/file writes: inside
/// the directory a manifest may grant at `/data`.
const READ_FILE: &str = "/data/hello.txt";
const WRITE_FILE: &str = "/data/out.txt";
/// The host environment variable GET /test/env shows, if it was passed through.
const ENV_VAR: &str = "COAPWASM_TEST_VAR";

/// The one observable resource: its value, changed by PUT (the host notifies
/// on its own) or by POST /test/notify (the plugin signals the change).
const OBSERVABLE: &str = "/test/observable";
const OBSERVED_KEY: &str = "observed";

struct Testkit;

impl Plugin for Testkit {
    fn describe() -> PluginDescription {
        PluginDescription {
            resources: RESOURCES
                .iter()
                .map(|&(path, methods, formats)| ResourceDescription {
                    observable: path == OBSERVABLE,
                    content_formats: formats.to_vec(),
                    ..ResourceDescription::new(path, methods)
                })
                .collect(),
            ..PluginDescription::new("testkit", env!("CARGO_PKG_VERSION"))
        }
    }

    fn handle(request: Request) -> Response {
        // The host has checked path and method against `RESOURCES`.
        match request.path.as_str() {
            "/test/slow" => slow(&request),
            "/test/trap" => panic!("deliberate trap"),
            // As many plugins do: a store that fails is a bug to them, and
            // they panic (a trap), which the host must not take for one when
            // the store is a shared one that is unreachable.
            "/test/strict" => {
                let value = kv::get("strict").expect("the key-value store failed");
                text(
                    ResponseCode::Content,
                    if value.is_some() { "set" } else { "unset" },
                )
            }
            "/test/counter" => counter(request.method),
            "/test/echo" => echo(&request),
            "/test/etag" => text(ResponseCode::Content, "tagged")
                .with_etag(ETAG)
                .with_max_age(ETAG_MAX_AGE_SECS),
            "/test/accept" => match request.accept {
                Some(CBOR) => reply(ResponseCode::Content, CBOR, CBOR_FORMAT.to_vec()),
                _ => reply(ResponseCode::Content, JSON, br#"{"format":50}"#.to_vec()),
            },
            "/test/big" => reply(
                ResponseCode::Content,
                TEXT,
                b"0123456789".repeat(BIG_LEN / 10),
            ),
            "/test/observable" => observable(&request),
            "/test/notify" => notify(&request),
            "/test/spin" => spin(),
            "/test/hog" => hog(),
            "/test/file" => file(&request),
            "/test/env" => text(
                ResponseCode::Content,
                &std::env::var(ENV_VAR).unwrap_or_else(|_| "unset".into()),
            ),
            "/test/created" => Response::created()
                .with_location_path(["test", "items", "7"])
                .with_location_query(["v=1"]),
            other => text(ResponseCode::NotFound, &format!("no resource {other}")),
        }
    }
}

/// Loops for ever, burning CPU: the host must stop it (its CPU budget).
fn spin() -> Response {
    let mut x: u64 = 0;
    loop {
        // black_box keeps the loop from being optimised into a trap.
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

/// Allocates until memory runs out: the host's memory limit must stop it.
fn hog() -> Response {
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        held.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&held);
    }
}

/// GET reads `READ_FILE`, PUT writes the payload to `WRITE_FILE`: a denied
/// access fails here, in the plugin, as a 4.03 with the error's text.
fn file(request: &Request) -> Response {
    if request.method == Method::Put {
        return match std::fs::write(WRITE_FILE, &request.payload) {
            Ok(()) => text(ResponseCode::Changed, ""),
            Err(error) => text(ResponseCode::Forbidden, &format!("{WRITE_FILE}: {error}")),
        };
    }
    match std::fs::read_to_string(READ_FILE) {
        Ok(content) => text(ResponseCode::Content, &content),
        Err(error) => text(ResponseCode::Forbidden, &format!("{READ_FILE}: {error}")),
    }
}

/// GET: the stored value (text, "0" at first); PUT: replaces it.
fn observable(request: &Request) -> Response {
    if request.method == Method::Put {
        return match kv::set(OBSERVED_KEY, &request.payload) {
            Ok(()) => text(ResponseCode::Changed, ""),
            Err(error) => text(ResponseCode::InternalServerError, &format!("{error:?}")),
        };
    }
    let value = kv::get(OBSERVED_KEY)
        .ok()
        .flatten()
        .unwrap_or_else(|| b"0".to_vec());
    reply(ResponseCode::Content, TEXT, value).with_max_age(60)
}

/// Increments the observable value as a number and tells the host through
/// the `observe` import; `?important` asks for a confirmable notification.
fn notify(request: &Request) -> Response {
    let current = kv::get(OBSERVED_KEY)
        .ok()
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse::<u64>().ok())
        .unwrap_or(0);
    let next = (current + 1).to_string();
    if let Err(error) = kv::set(OBSERVED_KEY, &next) {
        return text(ResponseCode::InternalServerError, &format!("{error:?}"));
    }
    let important = request.query.iter().any(|item| item == "important");
    observe::changed(OBSERVABLE, important);
    text(ResponseCode::Changed, &next)
}

/// Sleeps for the `ms=N` query item, to let tests see how the host copes with
/// a handler that takes long (separate responses, timeouts, concurrency).
fn slow(request: &Request) -> Response {
    let ms = match request.query_value("ms") {
        None => DEFAULT_SLEEP_MS,
        Some(value) => match value.parse::<u64>() {
            Ok(ms) if ms <= MAX_SLEEP_MS => ms,
            _ => {
                let message = format!("ms must be a whole number up to {MAX_SLEEP_MS}");
                return text(ResponseCode::BadRequest, &message);
            }
        },
    };
    // On wasip2 this blocks on a wasi:clocks monotonic-clock pollable.
    std::thread::sleep(Duration::from_millis(ms));
    text(ResponseCode::Content, &format!("slept {ms} ms"))
}

/// Counts POSTs in the store, so a test can tell how often the host really
/// called the plugin for a request the client sent more than once.
fn counter(method: Method) -> Response {
    let result = load_count().and_then(|count| {
        if method == Method::Post {
            let count = count + 1;
            kv::set(COUNT_KEY, count.to_string())
                .map_err(|error| format!("cannot store the count: {error:?}"))?;
            Ok((ResponseCode::Changed, count))
        } else {
            Ok((ResponseCode::Content, count))
        }
    });
    match result {
        Ok((code, count)) => text(code, &count.to_string()),
        Err(message) => text(ResponseCode::InternalServerError, &message),
    }
}

fn load_count() -> Result<u64, String> {
    match kv::get(COUNT_KEY) {
        Ok(None) => Ok(0),
        Ok(Some(bytes)) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| {
                let stored = String::from_utf8_lossy(&bytes);
                format!("stored count {stored:?} is not a number")
            }),
        Err(error) => Err(format!("cannot read the count: {error:?}")),
    }
}

/// Mirrors the request as JSON, so tests can check what the host hands over.
fn echo(request: &Request) -> Response {
    let code = match request.method {
        Method::Post | Method::Put => ResponseCode::Changed,
        Method::Delete => ResponseCode::Deleted,
        _ => ResponseCode::Content,
    };
    let body = serde_json::json!({
        "method": method_name(request.method),
        "path": request.path,
        "query": request.query,
        "content_format": request.content_format,
        "accept": request.accept,
        "payload_len": request.payload.len(),
        "payload_utf8": std::str::from_utf8(&request.payload).ok(),
        "source": request.source,
    });
    reply(code, JSON, body.to_string().into_bytes())
}

/// The method's name as the WIT enum spells it.
fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "get",
        Method::Post => "post",
        Method::Put => "put",
        Method::Delete => "delete",
        Method::Fetch => "fetch",
        Method::Patch => "patch",
        Method::Ipatch => "ipatch",
    }
}

fn reply(code: ResponseCode, content_format: ContentFormat, payload: Vec<u8>) -> Response {
    // A Content-Format without a payload would describe nothing.
    if payload.is_empty() {
        return Response::new(code);
    }
    Response::new(code).with_payload(content_format, payload)
}

fn text(code: ResponseCode, message: &str) -> Response {
    reply(code, TEXT, message.as_bytes().to_vec())
}

coapwasm_sdk::export!(Testkit);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_payload_has_the_promised_length() {
        let Response { payload, .. } = reply(
            ResponseCode::Content,
            TEXT,
            b"0123456789".repeat(BIG_LEN / 10),
        );
        assert_eq!(payload.len(), BIG_LEN);
        assert!(payload.starts_with(b"01234567890123"));
    }

    #[test]
    fn resources_are_unique() {
        let mut paths: Vec<_> = RESOURCES.iter().map(|(path, ..)| *path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), RESOURCES.len());
    }
}
