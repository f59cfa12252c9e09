//! How a response is shown: the code and options as words on standard
//! error, the payload on standard output, pretty on a terminal by its
//! Content-Format (JSON indented, CBOR in diagnostic notation, RFC 8949
//! §8, link-format one link per line, binary as a hex dump) and raw when
//! piped; and each datagram in `-v` mode.

use std::fmt::Write as _;

use coap_lite::{CoapOption, MessageClass, MessageType, Packet};

use super::content_format::{self, Kind};
use super::link_format;

/// ANSI colours, used only when the stream is a terminal.
#[derive(Clone, Copy)]
pub struct Style {
    pub colour: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// `2.05 Content`: the code as RFC 7252 §5.9 and §12.1.2 name it.
pub fn code_text(class: MessageClass) -> String {
    let code = u8::from(class);
    let (major, minor) = (code >> 5, code & 0x1f);
    let name = match (major, minor) {
        (0, 0) => "Empty",
        (0, 1) => "GET",
        (0, 2) => "POST",
        (0, 3) => "PUT",
        (0, 4) => "DELETE",
        (0, 5) => "FETCH",
        (0, 6) => "PATCH",
        (0, 7) => "iPATCH",
        (2, 1) => "Created",
        (2, 2) => "Deleted",
        (2, 3) => "Valid",
        (2, 4) => "Changed",
        (2, 5) => "Content",
        (2, 31) => "Continue",
        (4, 0) => "Bad Request",
        (4, 1) => "Unauthorized",
        (4, 2) => "Bad Option",
        (4, 3) => "Forbidden",
        (4, 4) => "Not Found",
        (4, 5) => "Method Not Allowed",
        (4, 6) => "Not Acceptable",
        (4, 8) => "Request Entity Incomplete",
        (4, 9) => "Conflict",
        (4, 12) => "Precondition Failed",
        (4, 13) => "Request Entity Too Large",
        (4, 15) => "Unsupported Content-Format",
        (4, 22) => "Unprocessable Entity",
        (4, 29) => "Too Many Requests",
        (5, 0) => "Internal Server Error",
        (5, 1) => "Not Implemented",
        (5, 2) => "Bad Gateway",
        (5, 3) => "Service Unavailable",
        (5, 4) => "Gateway Timeout",
        (5, 5) => "Proxying Not Supported",
        _ => "",
    };
    if major == 0 {
        return name.to_owned();
    }
    format!("{major}.{minor:02} {name}").trim_end().to_owned()
}

/// The code line, coloured by class on a terminal.
pub fn code_line(packet: &Packet, style: Style) -> String {
    let text = code_text(packet.header.code);
    let colour = match u8::from(packet.header.code) >> 5 {
        2 => "32",
        4 => "33",
        _ => "31",
    };
    style.paint(colour, &text)
}

/// The name of an option number (RFC 7252 §5.10, RFC 7641, RFC 7959, RFC 9175).
pub fn option_name(number: u16) -> String {
    match number {
        1 => "If-Match",
        3 => "Uri-Host",
        4 => "ETag",
        5 => "If-None-Match",
        6 => "Observe",
        7 => "Uri-Port",
        8 => "Location-Path",
        11 => "Uri-Path",
        12 => "Content-Format",
        14 => "Max-Age",
        15 => "Uri-Query",
        17 => "Accept",
        20 => "Location-Query",
        23 => "Block2",
        27 => "Block1",
        28 => "Size2",
        35 => "Proxy-Uri",
        39 => "Proxy-Scheme",
        60 => "Size1",
        252 => "Echo",
        258 => "No-Response",
        292 => "Request-Tag",
        _ => return format!("Option {number}"),
    }
    .to_owned()
}

/// An option's value as text, by the option's format (§3.2).
pub fn option_value(number: u16, value: &[u8]) -> String {
    let uint = || {
        value
            .iter()
            .take(4)
            .fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
    };
    match number {
        3 | 8 | 11 | 15 | 20 | 35 | 39 => String::from_utf8_lossy(value).into_owned(),
        12 | 17 => {
            let n = uint() as u16;
            match content_format::media_type(n) {
                Some(media_type) => format!("{media_type} ({n})"),
                None => n.to_string(),
            }
        }
        23 | 27 => {
            let raw = uint();
            format!(
                "{}/{}/{}",
                raw >> 4,
                u8::from(raw & 0x8 != 0),
                16u32 << (raw & 0x7)
            )
        }
        6 | 7 | 14 | 28 | 60 | 258 => uint().to_string(),
        _ if value.is_empty() => "(empty)".to_owned(),
        _ => format!("0x{}", hex(value)),
    }
}

/// Every option but the ones a block-wise transfer or the code line
/// already say, one per line.
pub fn options_text(packet: &Packet) -> Vec<String> {
    let mut lines = Vec::new();
    for (number, values) in packet.options() {
        let number = u16::from(CoapOption::from(*number));
        for value in values {
            lines.push(format!(
                "{}: {}",
                option_name(number),
                option_value(number, value)
            ));
        }
    }
    lines
}

/// One datagram, for `-v`: direction, type, code, message id, token,
/// options and payload size.
pub fn datagram_text(arrow: &str, datagram: &[u8]) -> String {
    let Ok(packet) = Packet::from_bytes(datagram) else {
        return format!(
            "{arrow} {} bytes, not a CoAP message: {}",
            datagram.len(),
            hex(datagram)
        );
    };
    let kind = match packet.header.get_type() {
        MessageType::Confirmable => "CON",
        MessageType::NonConfirmable => "NON",
        MessageType::Acknowledgement => "ACK",
        MessageType::Reset => "RST",
    };
    let mut line = format!(
        "{arrow} {kind} {} mid={} token={}",
        code_text(packet.header.code),
        packet.header.message_id,
        if packet.get_token().is_empty() {
            "(none)".to_owned()
        } else {
            hex(packet.get_token())
        },
    );
    for option in options_text(&packet) {
        let _ = write!(line, " | {option}");
    }
    if !packet.payload.is_empty() {
        let _ = write!(line, " | {} bytes payload", packet.payload.len());
    }
    line
}

/// The payload as shown on a terminal.
pub fn pretty(payload: &[u8], content_format: Option<u16>) -> String {
    match content_format::kind(content_format) {
        Kind::Json => match serde_json::from_slice::<serde_json::Value>(payload) {
            Ok(value) => serde_json::to_string_pretty(&value).unwrap_or_default(),
            Err(_) => text_or_hex(payload),
        },
        Kind::Cbor => match ciborium::from_reader::<ciborium::Value, _>(payload) {
            Ok(value) => diagnostic(&value),
            Err(_) => hex_dump(payload),
        },
        Kind::LinkFormat => match std::str::from_utf8(payload)
            .ok()
            .and_then(link_format::parse)
        {
            Some(_) => split_links(std::str::from_utf8(payload).unwrap_or_default()),
            None => text_or_hex(payload),
        },
        Kind::Text => text_or_hex(payload),
        Kind::Binary => hex_dump(payload),
    }
}

fn text_or_hex(payload: &[u8]) -> String {
    match std::str::from_utf8(payload) {
        Ok(text)
            if !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') =>
        {
            text.to_owned()
        }
        _ => hex_dump(payload),
    }
}

/// A link-format document, one link per line (commas inside quotes kept).
fn split_links(document: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in document.chars() {
        match c {
            '\\' if quoted && !escaped => escaped = true,
            '"' if !escaped => quoted = !quoted,
            ',' if !quoted => {
                out.push_str(",\n");
                continue;
            }
            _ => escaped = false,
        }
        out.push(c);
    }
    out
}

/// CBOR diagnostic notation (RFC 8949 §8).
pub fn diagnostic(value: &ciborium::Value) -> String {
    use ciborium::Value;
    match value {
        Value::Integer(i) => i128::from(*i).to_string(),
        Value::Bytes(b) => format!("h'{}'", hex(b)),
        Value::Float(f) if f.is_nan() => "NaN".to_owned(),
        Value::Float(f) if f.is_infinite() => {
            if *f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
        }
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.1}"),
        Value::Float(f) => f.to_string(),
        Value::Text(t) => serde_json::to_string(t).unwrap_or_default(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_owned(),
        Value::Tag(tag, inner) => format!("{tag}({})", diagnostic(inner)),
        Value::Array(items) => {
            let items: Vec<_> = items.iter().map(diagnostic).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(entries) => {
            let entries: Vec<_> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", diagnostic(k), diagnostic(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        _ => "undefined".to_owned(),
    }
}

/// JSON text as CBOR (RFC 8949 §6.2), for `-t cbor` given JSON.
pub fn json_to_cbor(text: &[u8]) -> Option<Vec<u8>> {
    let value: serde_json::Value = serde_json::from_slice(text).ok()?;
    let mut out = Vec::new();
    ciborium::into_writer(&value, &mut out).ok()?;
    Some(out)
}

/// Lower-case hex without separators.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// A hex dump: offset, 16 bytes in hex, and their printable characters.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "{:08x}  ", row * 16);
        for i in 0..16 {
            match chunk.get(i) {
                Some(b) => {
                    let _ = write!(out, "{b:02x} ");
                }
                None => out.push_str("   "),
            }
            if i == 7 {
                out.push(' ');
            }
        }
        out.push_str(" |");
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
    out.trim_end().to_owned()
}

/// A UTC time in RFC 3339 with milliseconds: `2026-12-04T03:14:12.345Z`.
pub fn rfc3339(time: std::time::SystemTime) -> String {
    let since = time
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since.as_secs();
    let (days, rest) = ((seconds / 86_400) as i64, seconds % 86_400);
    // Days to a civil date (H. Hinnant, "chrono-Compatible Low-Level Date
    // Algorithms", days_from_civil's inverse).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_by_format() {
        assert_eq!(pretty(br#"{"a":1}"#, Some(50)), "{\n  \"a\": 1\n}");
        let cbor = json_to_cbor(br#"{"t": 21.5, "on": true, "b": [1, -2]}"#).unwrap();
        assert_eq!(
            pretty(&cbor, Some(60)),
            r#"{"b": [1, -2], "on": true, "t": 21.5}"#
        );
        assert_eq!(
            pretty(b"</a>;rt=\"x,y\",</b>", Some(40)),
            "</a>;rt=\"x,y\",\n</b>"
        );
        assert!(pretty(&[0, 1, 2], Some(42)).starts_with("00000000  00 01 02"));
        assert!(pretty(&[0xff, 0], None).starts_with("00000000"));
        assert_eq!(pretty(b"hello", None), "hello");
    }

    #[test]
    fn rfc3339_dates() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_796_354_052_345);
        assert_eq!(rfc3339(at), "2026-12-04T03:14:12.345Z");
        assert_eq!(rfc3339(std::time::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn names_codes_and_options() {
        assert_eq!(
            code_text(MessageClass::Response(coap_lite::ResponseType::Content)),
            "2.05 Content"
        );
        assert_eq!(option_value(12, &[50]), "application/json (50)");
        assert_eq!(option_value(23, &[0x1e]), "1/1/1024");
    }
}
