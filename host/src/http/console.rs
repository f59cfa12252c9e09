//! The web console (issue 17): one page, shipped inside the binary with no
//! build step, that reads the same HTTP API scripts use: the resource tree
//! from `/.well-known/core` (rt, if, ct, obs), a form per resource for
//! GET/PUT/POST/DELETE/FETCH/PATCH with a chosen format and the answer
//! pretty-printed, and live panels for observed resources over
//! Server-Sent Events ([`super::event_stream`]).
//!
//! It is the answer to `GET /` from a browser (an `Accept` naming
//! `text/html`), as `/.well-known/core` is the host's own: a CoAP client's
//! GET of `/`, or an HTTP one that does not ask for HTML, still reaches the
//! resource at `/` if a plugin serves one.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse as _, Response};

const PAGE: &str = include_str!("console.html");

/// Whether a GET of `path` with this `Accept` is the console's.
pub fn is_console_request(path: &str, accept: Option<&str>) -> bool {
    path == "/"
        && accept.is_some_and(|accept| {
            accept
                .split(',')
                .any(|item| item.split(';').next().unwrap_or("").trim() == "text/html")
        })
}

/// The page.
pub fn page() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            // Scripts of this page only, and requests to this host only.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
                ),
            ),
        ],
        PAGE,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_browser_get_of_the_root() {
        assert!(is_console_request(
            "/",
            Some("text/html,application/xhtml+xml,*/*;q=0.8")
        ));
        assert!(!is_console_request("/", Some("application/json")));
        assert!(!is_console_request("/", None));
        assert!(!is_console_request("/led", Some("text/html")));
    }
}
