//! Building responses (RFC 7252 §5.2, §5.9), from a plugin's answer or the
//! host's own.

use coap_lite::{CoapOption, MessageClass, Packet, ResponseType};

use crate::runtime::bindings::types::{Response, ResponseCode};

use super::request::option;

/// A response with a code and a diagnostic payload (§5.5.2): text for a
/// human, no Content-Format.
pub fn diagnostic(code: ResponseType, message: &str) -> Packet {
    let mut packet = Packet::new();
    packet.header.code = MessageClass::Response(code);
    packet.payload = message.as_bytes().to_vec();
    packet
}

/// A response with a payload of the given Content-Format.
pub fn content(content_format: u16, payload: Vec<u8>) -> Packet {
    let mut packet = Packet::new();
    packet.header.code = MessageClass::Response(ResponseType::Content);
    packet.add_option(CoapOption::ContentFormat, uint(u32::from(content_format)));
    packet.payload = payload;
    packet
}

/// The CoAP response for a plugin's answer. `validated` is true when the
/// request carried the ETag the plugin answered with: then the answer is
/// 2.03 Valid without the payload (§5.10.6.2).
pub fn from_plugin(response: Response, request_etags: &[Vec<u8>]) -> Packet {
    if let Some(etag) = &response.etag
        && !(1..=8).contains(&etag.len())
    {
        return diagnostic(
            ResponseType::InternalServerError,
            "plugin answered with an ETag that is not 1 to 8 bytes long",
        );
    }
    let validated = matches!(response.code, ResponseCode::Content)
        && response
            .etag
            .as_ref()
            .is_some_and(|etag| request_etags.contains(etag));

    let mut packet = Packet::new();
    packet.header.code = MessageClass::Response(if validated {
        ResponseType::Valid
    } else {
        response_type(response.code)
    });
    if let Some(etag) = response.etag {
        packet.add_option(CoapOption::ETag, etag);
    }
    for segment in response.location_path {
        packet.add_option(CoapOption::LocationPath, segment.into_bytes());
    }
    if let Some(max_age) = response.max_age {
        packet.add_option(CoapOption::MaxAge, uint(max_age));
    }
    for item in response.location_query {
        packet.add_option(CoapOption::LocationQuery, item.into_bytes());
    }
    if !validated {
        if let Some(content_format) = response.content_format {
            packet.add_option(CoapOption::ContentFormat, uint(u32::from(content_format)));
        }
        packet.payload = response.payload;
    }
    debug_assert!(packet.options().all(|(n, _)| *n != option::OBSERVE));
    packet
}

/// Whether a response is a success: class 2 (RFC 7252 §5.9.1).
pub fn is_success(packet: &Packet) -> bool {
    u8::from(packet.header.code) >> 5 == 2
}

/// The CoAP code of a WIT response code.
pub fn response_type(code: ResponseCode) -> ResponseType {
    match code {
        ResponseCode::Created => ResponseType::Created,
        ResponseCode::Deleted => ResponseType::Deleted,
        ResponseCode::Valid => ResponseType::Valid,
        ResponseCode::Changed => ResponseType::Changed,
        ResponseCode::Content => ResponseType::Content,
        ResponseCode::BadRequest => ResponseType::BadRequest,
        ResponseCode::Unauthorized => ResponseType::Unauthorized,
        ResponseCode::BadOption => ResponseType::BadOption,
        ResponseCode::Forbidden => ResponseType::Forbidden,
        ResponseCode::NotFound => ResponseType::NotFound,
        ResponseCode::MethodNotAllowed => ResponseType::MethodNotAllowed,
        ResponseCode::NotAcceptable => ResponseType::NotAcceptable,
        ResponseCode::Conflict => ResponseType::Conflict,
        ResponseCode::PreconditionFailed => ResponseType::PreconditionFailed,
        ResponseCode::RequestEntityTooLarge => ResponseType::RequestEntityTooLarge,
        ResponseCode::UnsupportedContentFormat => ResponseType::UnsupportedContentFormat,
        ResponseCode::UnprocessableEntity => ResponseType::UnprocessableEntity,
        ResponseCode::TooManyRequests => ResponseType::TooManyRequests,
        ResponseCode::InternalServerError => ResponseType::InternalServerError,
        ResponseCode::NotImplemented => ResponseType::NotImplemented,
        ResponseCode::BadGateway => ResponseType::BadGateway,
        ResponseCode::ServiceUnavailable => ResponseType::ServiceUnavailable,
        ResponseCode::GatewayTimeout => ResponseType::GatewayTimeout,
        ResponseCode::ProxyingNotSupported => ResponseType::ProxyingNotSupported,
    }
}

/// §3.2 uint format, shortest form: no leading zero bytes, 0 is empty.
pub fn uint(value: u32) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    bytes[skip..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(etag: Option<Vec<u8>>) -> Response {
        Response {
            code: ResponseCode::Content,
            content_format: Some(0),
            max_age: Some(30),
            etag,
            location_path: vec![],
            location_query: vec![],
            payload: b"tagged".to_vec(),
        }
    }

    #[test]
    fn uint_is_shortest() {
        assert_eq!(uint(0), Vec::<u8>::new());
        assert_eq!(uint(50), vec![50]);
        assert_eq!(uint(0x1_0000), vec![1, 0, 0]);
    }

    #[test]
    fn matching_etag_gives_valid_without_payload() {
        let etag = vec![0xE1, 0x7A];
        let packet = from_plugin(answer(Some(etag.clone())), std::slice::from_ref(&etag));
        assert_eq!(
            packet.header.code,
            MessageClass::Response(ResponseType::Valid)
        );
        assert!(packet.payload.is_empty());
        assert_eq!(packet.get_first_option(CoapOption::ETag), Some(&etag));
        assert!(packet.get_first_option(CoapOption::ContentFormat).is_none());
    }

    #[test]
    fn other_etag_gives_content() {
        let packet = from_plugin(answer(Some(vec![1])), &[vec![2]]);
        assert_eq!(
            packet.header.code,
            MessageClass::Response(ResponseType::Content)
        );
        assert_eq!(packet.payload, b"tagged");
    }

    #[test]
    fn overlong_etag_is_a_server_error() {
        let packet = from_plugin(answer(Some(vec![0; 9])), &[]);
        assert_eq!(
            packet.header.code,
            MessageClass::Response(ResponseType::InternalServerError)
        );
    }
}
