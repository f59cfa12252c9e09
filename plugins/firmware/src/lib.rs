//! A firmware image store at `/firmware`: PUT uploads an image, GET gives its
//! metadata, and GET `/firmware/image` returns the stored bytes.
//!
//! Images are larger than one datagram: the host reassembles the Block1
//! upload and slices the Block2 download (RFC 7959), so this plugin only ever
//! sees and returns whole bodies. The host's `blockwise.max_body_size` (256 KiB
//! by default) bounds what reaches it.

// The generated glue passes a flattened `request` record to `handle`, which
// trips clippy's argument-count lint; it is not code we can shape.
#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "plugin" });
}

use bindings::coapwasm::plugin::key_value;
use bindings::coapwasm::plugin::log::{Level, log};
use bindings::coapwasm::plugin::types::{
    LinkAttribute, Method, Methods, ResourceDescription, ResponseCode,
};
use bindings::{Guest, PluginDescription, Request, Response};
use sha2::{Digest, Sha256};

const TEXT: u16 = 0;
const OCTET_STREAM: u16 = 42;
const JSON: u16 = 50;

const METADATA_PATH: &str = "/firmware";
const IMAGE_PATH: &str = "/firmware/image";
const IMAGE_KEY: &str = "image";

struct Firmware;

impl Guest for Firmware {
    fn describe() -> PluginDescription {
        let resource =
            |path: &str, methods, format: u16, rt: &str, title: &str| ResourceDescription {
                path: path.into(),
                methods,
                observable: path == METADATA_PATH,
                content_formats: vec![format],
                sample_interval_ms: None,
                attributes: vec![
                    LinkAttribute {
                        name: "rt".into(),
                        value: Some(rt.into()),
                    },
                    LinkAttribute {
                        name: "title".into(),
                        value: Some(title.into()),
                    },
                ],
            };
        PluginDescription {
            name: "firmware".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            resources: vec![
                resource(
                    METADATA_PATH,
                    Methods::GET | Methods::PUT,
                    JSON,
                    "firmware",
                    "Firmware image (PUT to upload)",
                ),
                resource(
                    IMAGE_PATH,
                    Methods::GET,
                    OCTET_STREAM,
                    "firmware-image",
                    "Firmware image bytes",
                ),
            ],
        }
    }

    fn sample(_path: String) -> bool {
        false
    }

    fn handle(request: Request) -> Response {
        match (request.path.as_str(), request.method) {
            (METADATA_PATH, Method::Put) => upload(&request),
            (METADATA_PATH, _) => match stored() {
                Ok(image) => metadata(ResponseCode::Content, image.as_deref().unwrap_or_default()),
                Err(message) => text(ResponseCode::InternalServerError, &message),
            },
            (_, _) => match stored() {
                Ok(Some(image)) => Response {
                    code: ResponseCode::Content,
                    content_format: Some(OCTET_STREAM),
                    etag: Some(sha256(&image)[..8].to_vec()),
                    payload: image,
                    ..empty()
                },
                Ok(None) => text(ResponseCode::NotFound, "no image uploaded yet"),
                Err(message) => text(ResponseCode::InternalServerError, &message),
            },
        }
    }
}

/// Stores the body as the image, replacing the previous one.
fn upload(request: &Request) -> Response {
    if request
        .content_format
        .is_some_and(|format| format != OCTET_STREAM)
    {
        return text(
            ResponseCode::UnsupportedContentFormat,
            "upload the image as application/octet-stream (42)",
        );
    }
    if let Err(error) = key_value::set(IMAGE_KEY, &request.payload) {
        return text(ResponseCode::InternalServerError, &format!("{error:?}"));
    }
    log(
        Level::Info,
        &format!(
            "firmware image of {} bytes stored from {}",
            request.payload.len(),
            request.source
        ),
    );
    metadata(ResponseCode::Changed, &request.payload)
}

fn stored() -> Result<Option<Vec<u8>>, String> {
    key_value::get(IMAGE_KEY).map_err(|error| format!("{error:?}"))
}

/// `{"size": N, "sha256": "…"}` of `image` (empty when none is stored).
fn metadata(code: ResponseCode, image: &[u8]) -> Response {
    let hex: String = sha256(image).iter().map(|b| format!("{b:02x}")).collect();
    let body = serde_json::json!({ "size": image.len(), "sha256": hex });
    Response {
        code,
        content_format: Some(JSON),
        payload: body.to_string().into_bytes(),
        ..empty()
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn text(code: ResponseCode, message: &str) -> Response {
    Response {
        code,
        content_format: Some(TEXT),
        payload: message.as_bytes().to_vec(),
        ..empty()
    }
}

fn empty() -> Response {
    Response {
        code: ResponseCode::Content,
        content_format: None,
        max_age: None,
        etag: None,
        location_path: Vec::new(),
        location_query: Vec::new(),
        payload: Vec::new(),
    }
}

bindings::export!(Firmware with_types_in bindings);
