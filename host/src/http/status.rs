//! CoAP response codes as HTTP status codes, RFC 8075 §7 (Table 2).

use axum::http::StatusCode;

/// The HTTP status for CoAP response code `class.detail`. `has_payload`
/// picks between 200 and 204 where the table allows both; 4.05 is the
/// caller's to turn into 405 when it knows the methods (§7: 400 otherwise).
pub fn status_of(class: u8, detail: u8, has_payload: bool) -> StatusCode {
    match (class, detail) {
        (2, 1) => StatusCode::CREATED,
        (2, 2) | (2, 4) if has_payload => StatusCode::OK,
        (2, 2) | (2, 4) => StatusCode::NO_CONTENT,
        (2, 3) => StatusCode::NOT_MODIFIED,
        (2, _) => StatusCode::OK,
        (4, 1) | (4, 3) => StatusCode::FORBIDDEN,
        (4, 4) => StatusCode::NOT_FOUND,
        (4, 5) => StatusCode::BAD_REQUEST,
        (4, 6) => StatusCode::NOT_ACCEPTABLE,
        (4, 9) => StatusCode::CONFLICT,
        (4, 12) => StatusCode::PRECONDITION_FAILED,
        (4, 13) => StatusCode::PAYLOAD_TOO_LARGE,
        (4, 15) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        (4, 22) => StatusCode::UNPROCESSABLE_ENTITY,
        (4, 29) => StatusCode::TOO_MANY_REQUESTS,
        (4, _) => StatusCode::BAD_REQUEST,
        (5, 1) => StatusCode::NOT_IMPLEMENTED,
        (5, 2) | (5, 5) => StatusCode::BAD_GATEWAY,
        (5, 3) => StatusCode::SERVICE_UNAVAILABLE,
        (5, 4) => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_2() {
        assert_eq!(status_of(2, 5, true), StatusCode::OK);
        assert_eq!(status_of(2, 4, false), StatusCode::NO_CONTENT);
        assert_eq!(status_of(2, 4, true), StatusCode::OK);
        assert_eq!(status_of(2, 1, false), StatusCode::CREATED);
        assert_eq!(status_of(2, 3, false), StatusCode::NOT_MODIFIED);
        assert_eq!(status_of(4, 1, true), StatusCode::FORBIDDEN);
        assert_eq!(status_of(4, 2, true), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(4, 15, true), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(status_of(5, 5, true), StatusCode::BAD_GATEWAY);
        assert_eq!(status_of(5, 0, true), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
