//! RFC 8075's null mapping (§5.3) for the host's own resources: an HTTP
//! request for `/PATH?QUERY` is the CoAP request for the same path and
//! query, and the CoAP response comes back as the HTTP one.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse as _;
use coap_lite::{CoapOption, MessageClass, Packet, RequestType};

use super::media_type::{self, Wanted};
use super::status::status_of;

/// Why an HTTP request has no CoAP equivalent.
#[derive(Debug, PartialEq, Eq)]
pub struct Unmappable {
    pub status: StatusCode,
    pub reason: String,
}

fn unmappable(status: StatusCode, reason: impl Into<String>) -> Unmappable {
    Unmappable {
        status,
        reason: reason.into(),
    }
}

/// The CoAP method of an HTTP one (RFC 8075 §5.1; FETCH and iPATCH are
/// HTTP method tokens too, RFC 9110 §9.1). HEAD is a GET whose body is not sent.
pub fn coap_method(method: &Method) -> Option<RequestType> {
    Some(match method.as_str() {
        "GET" | "HEAD" => RequestType::Get,
        "POST" => RequestType::Post,
        "PUT" => RequestType::Put,
        "DELETE" => RequestType::Delete,
        "FETCH" => RequestType::Fetch,
        "PATCH" => RequestType::Patch,
        "IPATCH" | "iPATCH" => RequestType::IPatch,
        _ => return None,
    })
}

/// The CoAP request for an HTTP request's method, path, query, headers and body.
pub fn coap_request(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Vec<u8>,
) -> Result<Packet, Unmappable> {
    let code = coap_method(method).ok_or_else(|| {
        unmappable(
            StatusCode::NOT_IMPLEMENTED,
            format!("{method} has no CoAP equivalent"),
        )
    })?;
    let mut packet = Packet::new();
    packet.header.code = MessageClass::Request(code);
    for segment in path.split('/').skip(1).filter(|s| !s.is_empty()) {
        packet.add_option(CoapOption::UriPath, percent_decoded(segment)?);
    }
    for item in query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|i| !i.is_empty())
    {
        packet.add_option(CoapOption::UriQuery, percent_decoded(item)?);
    }
    if let Some(content_type) = header_text(headers, header::CONTENT_TYPE)? {
        let format = media_type::content_format_of(content_type).ok_or_else(|| {
            unmappable(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Type {content_type} has no CoAP Content-Format"),
            )
        })?;
        packet.add_option(CoapOption::ContentFormat, uint(u32::from(format)));
    }
    if let Some(accept) = header_text(headers, header::ACCEPT)? {
        match media_type::accept_of(accept) {
            Wanted::Any => {}
            Wanted::Format(format) => {
                packet.add_option(CoapOption::Accept, uint(u32::from(format)))
            }
            Wanted::Unavailable => {
                return Err(unmappable(
                    StatusCode::NOT_ACCEPTABLE,
                    format!("no CoAP Content-Format for Accept: {accept}"),
                ));
            }
        }
    }
    // §5.3: entity tags to validate become ETag options; the answer 2.03
    // Valid becomes 304.
    if let Some(tags) = header_text(headers, header::IF_NONE_MATCH)? {
        for tag in tags.split(',') {
            if let Some(etag) = entity_tag(tag) {
                packet.add_option(CoapOption::ETag, etag);
            }
        }
    }
    if let Some(tags) = header_text(headers, header::IF_MATCH)? {
        for tag in tags.split(',') {
            if let Some(etag) = entity_tag(tag) {
                packet.add_option(CoapOption::IfMatch, etag);
            }
        }
    }
    packet.payload = body;
    Ok(packet)
}

/// An HTTP response for a CoAP one. `allow` is the resource's methods when
/// the host knows them, for 405 with Allow (RFC 9110 §15.5.6).
pub fn http_response(
    response: &Packet,
    payload: Vec<u8>,
    head_only: bool,
    allow: Option<String>,
) -> axum::response::Response {
    let code = u8::from(response.header.code);
    let (class, detail) = (code >> 5, code & 0x1f);
    let mut status = status_of(class, detail, !payload.is_empty());
    let mut headers = HeaderMap::new();
    if (class, detail) == (4, 5)
        && let Some(allow) = allow.and_then(|a| HeaderValue::from_str(&a).ok())
    {
        status = StatusCode::METHOD_NOT_ALLOWED;
        headers.insert(header::ALLOW, allow);
    }
    let format = response
        .get_first_option(CoapOption::ContentFormat)
        .map(|v| uint_value(v) as u16);
    if !payload.is_empty() {
        // A diagnostic payload (§5.5.2) is text for a person.
        let media_type = match format {
            Some(format) => media_type::media_type_of(format),
            None if class != 2 => "text/plain; charset=utf-8".to_owned(),
            None => "application/octet-stream".to_owned(),
        };
        if let Ok(value) = HeaderValue::from_str(&media_type) {
            headers.insert(header::CONTENT_TYPE, value);
        }
    }
    if let Some(etag) = response.get_first_option(CoapOption::ETag)
        && let Ok(value) = HeaderValue::from_str(&format!("\"{}\"", hex(etag)))
    {
        headers.insert(header::ETAG, value);
    }
    let max_age = response
        .get_first_option(CoapOption::MaxAge)
        .map(|v| uint_value(v));
    match (class, detail) {
        // §6.1 of RFC 8075: Max-Age's default of 60 s holds for a 2.05.
        (2, 5) | (2, 3) => {
            let seconds = max_age.unwrap_or(60);
            if let Ok(value) = HeaderValue::from_str(&format!("max-age={seconds}")) {
                headers.insert(header::CACHE_CONTROL, value);
            }
        }
        (5, 3) => {
            if let Some(seconds) = max_age {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
        }
        _ => {}
    }
    let location: Vec<String> = response
        .get_option(CoapOption::LocationPath)
        .into_iter()
        .flatten()
        .map(|segment| String::from_utf8_lossy(segment).into_owned())
        .collect();
    if !location.is_empty() {
        let mut target = format!("/{}", location.join("/"));
        let query: Vec<String> = response
            .get_option(CoapOption::LocationQuery)
            .into_iter()
            .flatten()
            .map(|item| String::from_utf8_lossy(item).into_owned())
            .collect();
        if !query.is_empty() {
            target.push('?');
            target.push_str(&query.join("&"));
        }
        if let Ok(value) = HeaderValue::from_str(&target) {
            headers.insert(header::LOCATION, value);
        }
    }
    let body = if head_only || status == StatusCode::NOT_MODIFIED {
        Vec::new()
    } else {
        payload
    };
    (status, headers, body).into_response()
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Result<Option<&str>, Unmappable> {
    match headers.get(&name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(Some)
            .map_err(|_| unmappable(StatusCode::BAD_REQUEST, format!("{name} is not text"))),
    }
}

/// A strong entity tag `"hex"` of ours back to its bytes; a weak or foreign
/// one matches nothing of ours and is dropped.
fn entity_tag(tag: &str) -> Option<Vec<u8>> {
    let hex = tag.trim().strip_prefix('"')?.strip_suffix('"')?;
    if hex.is_empty() || hex.len() > 16 || !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

pub(crate) fn percent_decoded(text: &str) -> Result<Vec<u8>, Unmappable> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| {
                    unmappable(
                        StatusCode::BAD_REQUEST,
                        format!("bad percent-encoding in {text:?}"),
                    )
                })?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn uint(value: u32) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    bytes[skip..].to_vec()
}

fn uint_value(value: &[u8]) -> u32 {
    value
        .iter()
        .take(4)
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_options() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/plain"));
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"0a0b\", W/\"x\""),
        );
        let packet = coap_request(
            &Method::PUT,
            "/a/b%20c",
            Some("x=1&y"),
            &headers,
            b"{}".to_vec(),
        )
        .unwrap();
        assert_eq!(packet.header.code, MessageClass::Request(RequestType::Put));
        let path: Vec<_> = packet
            .get_option(CoapOption::UriPath)
            .unwrap()
            .iter()
            .cloned()
            .collect();
        assert_eq!(path, [b"a".to_vec(), b"b c".to_vec()]);
        assert_eq!(packet.get_option(CoapOption::UriQuery).unwrap().len(), 2);
        assert_eq!(
            packet.get_first_option(CoapOption::ContentFormat),
            Some(&vec![50])
        );
        // text/plain is Content-Format 0: an empty uint.
        assert_eq!(packet.get_first_option(CoapOption::Accept), Some(&vec![]));
        assert_eq!(packet.get_option(CoapOption::ETag).unwrap().len(), 1);
    }

    #[test]
    fn unmappable_requests() {
        let headers = HeaderMap::new();
        assert_eq!(
            coap_request(&Method::OPTIONS, "/x", None, &headers, vec![])
                .unwrap_err()
                .status,
            StatusCode::NOT_IMPLEMENTED
        );
        assert_eq!(
            coap_request(&Method::GET, "/%zz", None, &headers, vec![])
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-nope"),
        );
        assert_eq!(
            coap_request(&Method::PUT, "/x", None, &headers, vec![])
                .unwrap_err()
                .status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }
}
