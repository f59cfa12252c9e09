//! A firmware image store at `/firmware`: PUT uploads an image, GET gives its
//! metadata, and GET `/firmware/image` returns the stored bytes.
//!
//! Images are larger than one datagram: the host reassembles the Block1
//! upload and slices the Block2 download (RFC 7959), so this plugin only ever
//! sees and returns whole bodies. The host's `blockwise.max_body_size` (256 KiB
//! by default) bounds what reaches it.

use coapwasm_sdk::content_format::{JSON, OCTET_STREAM};
use coapwasm_sdk::{
    Method, Methods, Plugin, PluginDescription, Request, ResourceDescription, Response,
    ResponseCode, kv, log,
};
use sha2::{Digest, Sha256};

const METADATA_PATH: &str = "/firmware";
const IMAGE_PATH: &str = "/firmware/image";
const IMAGE_KEY: &str = "image";

struct Firmware;

impl Plugin for Firmware {
    fn describe() -> PluginDescription {
        PluginDescription::new("firmware", env!("CARGO_PKG_VERSION"))
            .resource(
                ResourceDescription::new(METADATA_PATH, Methods::GET | Methods::PUT)
                    .observable()
                    .content_format(JSON)
                    .resource_type("firmware")
                    .title("Firmware image (PUT to upload)"),
            )
            .resource(
                ResourceDescription::new(IMAGE_PATH, Methods::GET)
                    .content_format(OCTET_STREAM)
                    .resource_type("firmware-image")
                    .title("Firmware image bytes"),
            )
    }

    fn handle(request: Request) -> Response {
        match (request.path.as_str(), request.method) {
            (METADATA_PATH, Method::Put) => upload(&request),
            (METADATA_PATH, _) => match stored() {
                Ok(image) => metadata(ResponseCode::Content, image.as_deref().unwrap_or_default()),
                Err(error) => error,
            },
            (_, _) => match stored() {
                Ok(Some(image)) => {
                    let etag = sha256(&image)[..8].to_vec();
                    Response::content(OCTET_STREAM, image).with_etag(etag)
                }
                Ok(None) => Response::not_found("no image uploaded yet"),
                Err(error) => error,
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
        return Response::unsupported_content_format(
            "upload the image as application/octet-stream (42)",
        );
    }
    if let Err(error) = kv::set(IMAGE_KEY, &request.payload) {
        return Response::internal_server_error(format!("{error:?}"));
    }
    log::info(&format!(
        "firmware image of {} bytes stored from {}",
        request.payload.len(),
        request.source
    ));
    metadata(ResponseCode::Changed, &request.payload)
}

/// The stored image, or the 5.00 that says why it cannot be read.
fn stored() -> Result<Option<Vec<u8>>, Response> {
    kv::get(IMAGE_KEY).map_err(|error| Response::internal_server_error(format!("{error:?}")))
}

/// `{"size": N, "sha256": "…"}` of `image` (empty when none is stored).
fn metadata(code: ResponseCode, image: &[u8]) -> Response {
    let hex: String = sha256(image).iter().map(|b| format!("{b:02x}")).collect();
    let body = serde_json::json!({ "size": image.len(), "sha256": hex });
    Response::json(body.to_string()).with_code(code)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

coapwasm_sdk::export!(Firmware);
