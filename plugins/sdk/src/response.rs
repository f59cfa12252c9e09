//! Constructors and builders for a plugin's answer (RFC 7252 §5.9 codes,
//! §5.10 options).

use crate::content_format::{JSON, TEXT_PLAIN};
use crate::{ContentFormat, Response, ResponseCode};

impl Response {
    /// A response with `code` and nothing else: no payload, no options.
    pub fn new(code: ResponseCode) -> Response {
        Response {
            code,
            content_format: None,
            max_age: None,
            etag: None,
            location_path: Vec::new(),
            location_query: Vec::new(),
            payload: Vec::new(),
        }
    }

    /// 2.05 Content: `payload` in `format`.
    pub fn content(format: ContentFormat, payload: impl Into<Vec<u8>>) -> Response {
        Response::new(ResponseCode::Content).with_payload(format, payload)
    }

    /// 2.05 Content: `text` as `text/plain;charset=utf-8`.
    pub fn text(text: impl Into<String>) -> Response {
        Response::content(TEXT_PLAIN, text.into())
    }

    /// 2.05 Content: `json`, already serialised, as `application/json`.
    pub fn json(json: impl Into<Vec<u8>>) -> Response {
        Response::content(JSON, json)
    }

    /// 2.01 Created, empty; add where with
    /// [`with_location_path`](Self::with_location_path).
    pub fn created() -> Response {
        Response::new(ResponseCode::Created)
    }

    /// 2.02 Deleted, empty.
    pub fn deleted() -> Response {
        Response::new(ResponseCode::Deleted)
    }

    /// 2.04 Changed, empty.
    pub fn changed() -> Response {
        Response::new(ResponseCode::Changed)
    }

    /// An error `code` (4.xx or 5.xx) with a human-readable `diagnostic`
    /// (RFC 7252 §5.5.2) as `text/plain;charset=utf-8`.
    pub fn error(code: ResponseCode, diagnostic: impl Into<String>) -> Response {
        Response::new(code).with_payload(TEXT_PLAIN, diagnostic.into())
    }

    /// 4.00 Bad Request with a diagnostic.
    pub fn bad_request(diagnostic: impl Into<String>) -> Response {
        Response::error(ResponseCode::BadRequest, diagnostic)
    }

    /// 4.03 Forbidden with a diagnostic.
    pub fn forbidden(diagnostic: impl Into<String>) -> Response {
        Response::error(ResponseCode::Forbidden, diagnostic)
    }

    /// 4.04 Not Found with a diagnostic.
    pub fn not_found(diagnostic: impl Into<String>) -> Response {
        Response::error(ResponseCode::NotFound, diagnostic)
    }

    /// 4.05 Method Not Allowed with a diagnostic. The host already answers
    /// this to a method the resource's description does not list.
    pub fn method_not_allowed(diagnostic: impl Into<String>) -> Response {
        Response::error(ResponseCode::MethodNotAllowed, diagnostic)
    }

    /// 4.15 Unsupported Content-Format with a diagnostic: the request's
    /// payload is in a format the resource does not take.
    pub fn unsupported_content_format(diagnostic: impl Into<String>) -> Response {
        Response::error(ResponseCode::UnsupportedContentFormat, diagnostic)
    }

    /// 5.00 Internal Server Error with a diagnostic.
    pub fn internal_server_error(diagnostic: impl Into<String>) -> Response {
        Response::error(ResponseCode::InternalServerError, diagnostic)
    }

    /// The same response with another code, for example 2.04 for a JSON body
    /// built with [`json`](Self::json).
    pub fn with_code(mut self, code: ResponseCode) -> Response {
        self.code = code;
        self
    }

    /// The same response with `payload`, in `format`, as its body.
    pub fn with_payload(mut self, format: ContentFormat, payload: impl Into<Vec<u8>>) -> Response {
        self.content_format = Some(format);
        self.payload = payload.into();
        self
    }

    /// The same response with Max-Age `seconds`: how long it stays fresh
    /// (RFC 7252 §5.10.5; the host's default is 60).
    pub fn with_max_age(mut self, seconds: u32) -> Response {
        self.max_age = Some(seconds);
        self
    }

    /// The same response with an ETag of 1 to 8 bytes (RFC 7252 §5.10.6); a
    /// request carrying it gets 2.03 Valid from the host.
    pub fn with_etag(mut self, etag: impl Into<Vec<u8>>) -> Response {
        self.etag = Some(etag.into());
        self
    }

    /// The same response with the Location-Path segments of a created
    /// resource (RFC 7252 §5.10.7), such as `["items", "7"]`.
    pub fn with_location_path<S: Into<String>>(
        mut self,
        segments: impl IntoIterator<Item = S>,
    ) -> Response {
        self.location_path = segments.into_iter().map(Into::into).collect();
        self
    }

    /// The same response with the Location-Query items of a created
    /// resource (RFC 7252 §5.10.7), such as `["v=1"]`.
    pub fn with_location_query<S: Into<String>>(
        mut self,
        items: impl IntoIterator<Item = S>,
    ) -> Response {
        self.location_query = items.into_iter().map(Into::into).collect();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content_format::OCTET_STREAM;

    #[test]
    fn new_is_only_a_code() {
        let response = Response::new(ResponseCode::Valid);
        assert_eq!(response.code, ResponseCode::Valid);
        assert_eq!(response.content_format, None);
        assert_eq!(response.max_age, None);
        assert_eq!(response.etag, None);
        assert!(response.location_path.is_empty());
        assert!(response.location_query.is_empty());
        assert!(response.payload.is_empty());
    }

    #[test]
    fn content_carries_its_format() {
        let text = Response::text("hi");
        assert_eq!(
            (text.code, text.content_format, text.payload.as_slice()),
            (ResponseCode::Content, Some(TEXT_PLAIN), &b"hi"[..])
        );
        let json = Response::json(r#"{"a":1}"#);
        assert_eq!(json.content_format, Some(JSON));
        assert_eq!(json.payload, br#"{"a":1}"#);
        let bytes = Response::content(OCTET_STREAM, vec![1, 2]);
        assert_eq!(bytes.content_format, Some(OCTET_STREAM));
        assert_eq!(bytes.payload, [1, 2]);
    }

    #[test]
    fn empty_successes() {
        for (response, code) in [
            (Response::created(), ResponseCode::Created),
            (Response::deleted(), ResponseCode::Deleted),
            (Response::changed(), ResponseCode::Changed),
        ] {
            assert_eq!(response, Response::new(code));
        }
    }

    #[test]
    fn errors_carry_a_text_diagnostic() {
        for (response, code) in [
            (Response::bad_request("why"), ResponseCode::BadRequest),
            (Response::forbidden("why"), ResponseCode::Forbidden),
            (Response::not_found("why"), ResponseCode::NotFound),
            (
                Response::method_not_allowed("why"),
                ResponseCode::MethodNotAllowed,
            ),
            (
                Response::unsupported_content_format("why"),
                ResponseCode::UnsupportedContentFormat,
            ),
            (
                Response::internal_server_error("why"),
                ResponseCode::InternalServerError,
            ),
        ] {
            assert_eq!(response.code, code);
            assert_eq!(response.content_format, Some(TEXT_PLAIN));
            assert_eq!(response.payload, b"why");
        }
    }

    #[test]
    fn builders_set_one_field_each() {
        let response = Response::json("{}")
            .with_code(ResponseCode::Changed)
            .with_max_age(5)
            .with_etag([1, 2, 3, 4])
            .with_location_path(["items", "7"])
            .with_location_query(vec![String::from("v=1")]);
        assert_eq!(
            response,
            Response {
                code: ResponseCode::Changed,
                content_format: Some(JSON),
                max_age: Some(5),
                etag: Some(vec![1, 2, 3, 4]),
                location_path: vec!["items".into(), "7".into()],
                location_query: vec!["v=1".into()],
                payload: b"{}".to_vec(),
            }
        );
    }
}
