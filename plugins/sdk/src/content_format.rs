//! Content-Format numbers from the IANA "CoAP Content-Formats" registry
//! (RFC 7252 §12.3; CBOR from RFC 8949 §9.5).

use crate::ContentFormat;

/// `text/plain;charset=utf-8`.
pub const TEXT_PLAIN: ContentFormat = 0;
/// `application/link-format` (RFC 6690).
pub const LINK_FORMAT: ContentFormat = 40;
/// `application/octet-stream`.
pub const OCTET_STREAM: ContentFormat = 42;
/// `application/json`.
pub const JSON: ContentFormat = 50;
/// `application/cbor`.
pub const CBOR: ContentFormat = 60;
