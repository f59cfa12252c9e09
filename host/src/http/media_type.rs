//! HTTP media types as CoAP Content-Formats and back, RFC 8075 §6: the
//! registered ones by name, any other Content-Format as
//! `application/coap-payload; cf=N` (§6.2).

use crate::client::content_format;

/// The Content-Format of a `Content-Type` header, or None if it is
/// neither registered nor `application/coap-payload; cf=N`.
pub fn content_format_of(content_type: &str) -> Option<u16> {
    let (essence, parameters) = match content_type.split_once(';') {
        Some((essence, parameters)) => (essence.trim(), parameters),
        None => (content_type.trim(), ""),
    };
    let essence = essence.to_ascii_lowercase();
    if essence == "application/coap-payload" {
        return parameters.split(';').find_map(|parameter| {
            let (name, value) = parameter.split_once('=')?;
            (name.trim().eq_ignore_ascii_case("cf"))
                .then(|| value.trim().trim_matches('"').parse().ok())
                .flatten()
        });
    }
    // text/plain of any charset but UTF-8 is not Content-Format 0.
    if essence == "text/plain" {
        let charset = parameters.split(';').find_map(|parameter| {
            let (name, value) = parameter.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| value.trim().trim_matches('"').to_ascii_lowercase())
        });
        return match charset.as_deref() {
            None | Some("utf-8") | Some("us-ascii") => Some(0),
            Some(_) => None,
        };
    }
    content_format::parse(&essence)
        .ok()
        .filter(|_| essence.contains('/'))
}

/// The `Content-Type` of a Content-Format.
pub fn media_type_of(format: u16) -> String {
    match content_format::media_type(format) {
        Some("text/plain;charset=utf-8") => "text/plain; charset=utf-8".to_owned(),
        Some(media_type) => media_type.to_owned(),
        None => format!("application/coap-payload; cf={format}"),
    }
}

/// What an `Accept` header asks for (RFC 9110 §12.5.1), in CoAP terms.
#[derive(Debug, PartialEq, Eq)]
pub enum Wanted {
    /// Anything (`*/*`, or no header): no Accept option.
    Any,
    /// This Content-Format, the most preferred one that has one.
    Format(u16),
    /// Only media types with no Content-Format: 406.
    Unavailable,
}

/// The Accept option for an `Accept` header.
pub fn accept_of(accept: &str) -> Wanted {
    let mut best: Option<(f32, u16)> = None;
    let mut any = false;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim();
        let quality = parts
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        if quality <= 0.0 {
            continue;
        }
        if media == "*/*" || media.ends_with("/*") {
            any = true;
            continue;
        }
        if let Some(format) = content_format_of(item.split(";q=").next().unwrap_or(item))
            && best.is_none_or(|(q, _)| quality > q)
        {
            best = Some((quality, format));
        }
        let _ = media;
    }
    match (best, any) {
        (Some((_, format)), _) => Wanted::Format(format),
        (None, true) => Wanted::Any,
        (None, false) if accept.trim().is_empty() => Wanted::Any,
        (None, false) => Wanted::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_format_of("application/json"), Some(50));
        assert_eq!(content_format_of("text/plain; charset=UTF-8"), Some(0));
        assert_eq!(content_format_of("text/plain; charset=latin1"), None);
        assert_eq!(
            content_format_of("application/coap-payload; cf=11050"),
            Some(11050)
        );
        assert_eq!(content_format_of("application/x-unknown"), None);
        assert_eq!(media_type_of(50), "application/json");
        assert_eq!(media_type_of(0), "text/plain; charset=utf-8");
        assert_eq!(media_type_of(11050), "application/coap-payload; cf=11050");
    }

    #[test]
    fn accept_headers() {
        assert_eq!(accept_of("*/*"), Wanted::Any);
        assert_eq!(accept_of("application/json"), Wanted::Format(50));
        assert_eq!(
            accept_of("text/html, application/cbor;q=0.5, */*;q=0.1"),
            Wanted::Format(60)
        );
        assert_eq!(accept_of("text/html"), Wanted::Unavailable);
    }
}
