//! A capture as a watcher reads it: a JSON record of the message's fields
//! as RFC 7252 §3 lays them out (type, code, message id, token, options,
//! payload), named as the CLI client's `-v` lines name them
//! ([`crate::client::presentation`]). Built on the watcher's task, not the
//! socket's.

use coap_lite::{CoapOption, MessageType, Packet};
use serde::Serialize;

use super::{Capture, Direction};
use crate::client::presentation::{code_text, hex, option_name, option_value, rfc3339};

/// The most payload bytes shown; the size is always given.
pub const PREVIEW: usize = 64;

/// One message in the log.
#[derive(Debug, Serialize)]
pub struct Record {
    pub seq: u64,
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    /// `in` (to the host) or `out`.
    pub direction: &'static str,
    /// `coap` or `coaps` (RFC 7252 §6).
    pub transport: &'static str,
    pub local: String,
    pub peer: String,
    /// The message's size in bytes (the DTLS record's plaintext for coaps).
    pub size: usize,
    /// Why the bytes are not a CoAP message; none of the fields below is
    /// then given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malformed: Option<String>,
    /// A malformed message's first bytes, in hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
    /// §3: CON, NON, ACK or RST.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// §3, §12.1: `GET`, `2.05 Content`, `Empty`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// §3: the Message ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mid: Option<u16>,
    /// §3, §5.3.1: the Token, in hex (empty for none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// A request's Uri-Path options joined (§6.5), for filtering.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// §3.1, §5.10: in the order they are carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<OptionRecord>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_size: Option<usize>,
    /// `text` (UTF-8), `hex`, `none` (no payload) or `hidden` (a coaps
    /// payload, unless `[http.exchange_log] coaps_payloads`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_encoding: Option<&'static str>,
    /// The first [`PREVIEW`] bytes of the payload, as `payload_encoding` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Whether `payload` is cut short.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_truncated: Option<bool>,
}

/// One option: its number, name and value as text.
#[derive(Debug, Serialize)]
pub struct OptionRecord {
    pub number: u16,
    pub name: String,
    pub value: String,
}

impl Record {
    /// The record of `capture`; a coaps payload is shown only if
    /// `coaps_payloads`.
    pub fn of(capture: &Capture, coaps_payloads: bool) -> Record {
        let mut record = Record {
            seq: capture.sequence,
            time: rfc3339(capture.time),
            direction: match capture.direction {
                Direction::In => "in",
                Direction::Out => "out",
            },
            transport: if capture.secure { "coaps" } else { "coap" },
            local: capture.local.to_string(),
            peer: capture.peer.to_string(),
            size: capture.message.len(),
            malformed: None,
            bytes: None,
            kind: None,
            code: None,
            mid: None,
            token: None,
            path: None,
            options: None,
            payload_size: None,
            payload_encoding: None,
            payload: None,
            payload_truncated: None,
        };
        let packet = match parse(&capture.message) {
            Ok(packet) => packet,
            Err(reason) => {
                record.malformed = Some(reason);
                record.bytes = Some(hex(&capture.message[..capture.message.len().min(PREVIEW)]));
                return record;
            }
        };
        record.kind = Some(match packet.header.get_type() {
            MessageType::Confirmable => "CON",
            MessageType::NonConfirmable => "NON",
            MessageType::Acknowledgement => "ACK",
            MessageType::Reset => "RST",
        });
        record.code = Some(code_text(packet.header.code));
        record.mid = Some(packet.header.message_id);
        record.token = Some(hex(packet.get_token()));
        let mut options = Vec::new();
        let mut path = Vec::new();
        for (number, values) in packet.options() {
            let number = u16::from(CoapOption::from(*number));
            for value in values {
                if number == u16::from(CoapOption::UriPath) {
                    path.push(String::from_utf8_lossy(value).into_owned());
                }
                options.push(OptionRecord {
                    number,
                    name: option_name(number),
                    value: option_value(number, value),
                });
            }
        }
        if u8::from(packet.header.code) >> 5 == 0 && u8::from(packet.header.code) != 0 {
            record.path = Some(format!("/{}", path.join("/")));
        }
        record.options = Some(options);
        let payload = &packet.payload;
        record.payload_size = Some(payload.len());
        let (encoding, preview) = if payload.is_empty() {
            ("none", None)
        } else if capture.secure && !coaps_payloads {
            ("hidden", None)
        } else {
            let (encoding, preview) = preview(payload);
            (encoding, Some(preview))
        };
        record.payload_encoding = Some(encoding);
        if let Some(preview) = preview {
            record.payload_truncated = Some(payload.len() > PREVIEW);
            record.payload = Some(preview);
        }
        record
    }
}

/// §3: the message, or why it is not one.
fn parse(message: &[u8]) -> Result<Packet, String> {
    if message.len() < 4 {
        return Err(format!(
            "{} bytes: shorter than the 4-byte header",
            message.len()
        ));
    }
    if message[0] >> 6 != 1 {
        return Err(format!("version {} (only 1 is CoAP)", message[0] >> 6));
    }
    Packet::from_bytes(message).map_err(|error| {
        use coap_lite::error::MessageError::*;
        match error {
            InvalidHeader => "invalid header",
            InvalidPacketLength => "invalid length",
            InvalidTokenLength => "token length over 8 (§3)",
            InvalidOptionDelta => "invalid option delta (§3.1)",
            InvalidOptionLength => "invalid option length (§3.1)",
        }
        .to_owned()
    })
}

/// The first [`PREVIEW`] bytes as text if they are UTF-8 without control
/// characters (a character cut at the end is left out), else in hex.
fn preview(payload: &[u8]) -> (&'static str, String) {
    let head = &payload[..payload.len().min(PREVIEW)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => Some(text),
        // Only a character cut by the preview's end is forgiven.
        Err(error) if error.error_len().is_none() && head.len() < payload.len() => {
            std::str::from_utf8(&head[..error.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    match text {
        Some(text)
            if !text
                .chars()
                .any(|c| c.is_control() && !"\n\r\t".contains(c)) =>
        {
            ("text", text.to_owned())
        }
        _ => ("hex", hex(head)),
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::UNIX_EPOCH;

    use bytes::Bytes;

    use super::*;

    fn capture(message: &[u8], secure: bool) -> Capture {
        Capture {
            sequence: 7,
            time: UNIX_EPOCH,
            direction: Direction::Out,
            local: SocketAddr::from(([127, 0, 0, 1], 5683)),
            peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
            secure,
            message: Bytes::copy_from_slice(message),
        }
    }

    #[test]
    fn a_request_and_a_response() {
        // CON GET mid 0x7d34 token a1 Uri-Path "led".
        let request = [0x41, 0x01, 0x7d, 0x34, 0xa1, 0xb3, b'l', b'e', b'd'];
        let record = Record::of(&capture(&request, false), false);
        assert_eq!(record.kind, Some("CON"));
        assert_eq!(record.code.as_deref(), Some("GET"));
        assert_eq!(record.mid, Some(0x7d34));
        assert_eq!(record.token.as_deref(), Some("a1"));
        assert_eq!(record.path.as_deref(), Some("/led"));
        assert_eq!(record.payload_encoding, Some("none"));
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["options"][0]["name"], "Uri-Path");
        assert_eq!(json["time"], "1970-01-01T00:00:00.000Z");

        // ACK 2.05 Content-Format 50, payload {"a":1}.
        let mut response = vec![0x61, 0x45, 0x7d, 0x34, 0xa1, 0xc1, 50, 0xff];
        response.extend_from_slice(br#"{"a":1}"#);
        let record = Record::of(&capture(&response, false), false);
        assert_eq!(record.code.as_deref(), Some("2.05 Content"));
        assert_eq!(record.path, None);
        assert_eq!(record.payload.as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(record.payload_truncated, Some(false));
        let hidden = Record::of(&capture(&response, true), false);
        assert_eq!(
            (hidden.payload_encoding, hidden.payload, hidden.payload_size),
            (Some("hidden"), None, Some(7))
        );
        let shown = Record::of(&capture(&response, true), true);
        assert_eq!(shown.payload_encoding, Some("text"));
    }

    #[test]
    fn malformed_messages_say_why() {
        let record = Record::of(&capture(&[0x40, 0x01], false), false);
        assert!(record.malformed.unwrap().contains("shorter"));
        assert_eq!(record.bytes.as_deref(), Some("4001"));
        let record = Record::of(&capture(&[0x80, 0x01, 0, 0], false), false);
        assert!(record.malformed.unwrap().contains("version 2"));
        let record = Record::of(&capture(&[0x49, 0x01, 0, 0], false), false);
        assert!(record.malformed.is_some(), "a 9-byte token");
    }

    #[test]
    fn previews() {
        assert_eq!(preview(b"hello"), ("text", "hello".to_owned()));
        assert_eq!(preview(&[0, 1, 0xff]), ("hex", "0001ff".to_owned()));
        let long = "é".repeat(PREVIEW);
        let (encoding, text) = preview(long.as_bytes());
        assert_eq!((encoding, text.len()), ("text", PREVIEW));
        let mut cut = vec![b'a'; PREVIEW - 1];
        cut.extend_from_slice("é".as_bytes());
        assert_eq!(
            preview(&cut).1.len(),
            PREVIEW - 1,
            "a cut character left out"
        );
    }
}
