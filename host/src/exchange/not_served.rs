//! The answer for a path no plugin serves (RFC 7252 §5.9.2.5, §5.9.3.4):
//! 4.04 once every plugin is loaded; while plugins are still loading, 5.03
//! Service Unavailable with Max-Age, since the path may be one of theirs and
//! the host cannot know their paths before they describe themselves.

use coap_lite::{CoapOption, Packet, ResponseType};

use super::response;

/// Max-Age, in seconds, of the answers that depend on plugins still loading
/// (§5.9.3.4 for 5.03, §5.10.5 for `/.well-known/core`). A plugin of a few
/// hundred KB compiles in under a second and the largest in seconds, so a
/// client that retries each second is served soon after its plugin is ready,
/// for one request a second meanwhile.
pub const LOADING_RETRY_SECONDS: u32 = 1;

/// 4.04, or 5.03 with Max-Age if plugins are `loading`, for `path`.
pub fn not_served(path: &str, loading: bool) -> Packet {
    if loading {
        still_loading(&format!("no resource at {path} yet: plugins still loading"))
    } else {
        response::diagnostic(ResponseType::NotFound, &format!("no resource at {path}"))
    }
}

/// 5.03 with Max-Age and `diagnostic`: try again when plugins have loaded.
pub fn still_loading(diagnostic: &str) -> Packet {
    let mut packet = response::diagnostic(ResponseType::ServiceUnavailable, diagnostic);
    packet.add_option(CoapOption::MaxAge, response::uint(LOADING_RETRY_SECONDS));
    packet
}

#[cfg(test)]
mod tests {
    use super::*;
    use coap_lite::MessageClass;

    #[test]
    fn not_found_once_loaded() {
        let packet = not_served("/led", false);
        assert_eq!(
            packet.header.code,
            MessageClass::Response(ResponseType::NotFound)
        );
        assert!(packet.get_first_option(CoapOption::MaxAge).is_none());
    }

    #[test]
    fn service_unavailable_with_max_age_while_loading() {
        let packet = not_served("/led", true);
        assert_eq!(
            packet.header.code,
            MessageClass::Response(ResponseType::ServiceUnavailable)
        );
        assert_eq!(
            packet.get_first_option(CoapOption::MaxAge),
            Some(&response::uint(LOADING_RETRY_SECONDS))
        );
        let diagnostic = String::from_utf8_lossy(&packet.payload);
        assert!(diagnostic.contains("/led") && diagnostic.contains("loading"));
    }
}
