//! What an incoming datagram is, at the message layer: RFC 7252 §3 (format),
//! §4.2 and §4.3 (what to do with a message that cannot be processed).

use coap_lite::{MessageClass, MessageType, Packet};

/// An incoming datagram, classified.
#[derive(Debug)]
pub enum Inbound {
    /// A request in a CON (`confirmable`) or NON message.
    Request { packet: Packet, confirmable: bool },
    /// An empty CON: a ping, answered with a Reset (§4.2).
    Ping { message_id: u16 },
    /// An empty ACK: the peer acknowledged one of our CONs (§4.2).
    Acknowledgement { message_id: u16 },
    /// A Reset: the peer rejected one of our messages (§4.2, §4.3).
    Reset { message_id: u16 },
    /// A response (class 2.xx, 4.xx or 5.xx, §5.9) in a CON or NON, or
    /// piggybacked in an ACK (§5.2.1). Only a client has the context to
    /// process one; a server rejects it as [`Inbound::RejectConfirmable`]
    /// would ([`Inbound::without_context`]).
    Response {
        packet: Packet,
        message_type: MessageType,
    },
    /// A CON that cannot be processed: a format error, or a message that
    /// lacks context. It is rejected with a Reset (§4.2).
    RejectConfirmable { message_id: u16 },
    /// Anything else that cannot be processed: silently ignored (§4.2, §4.3).
    Ignore,
}

/// Classifies a datagram. Never panics, whatever the bytes.
pub fn classify(datagram: &[u8]) -> Inbound {
    // §3: fewer than four bytes is no message; a version other than 1 MUST be
    // silently ignored.
    if datagram.len() < 4 || datagram[0] >> 6 != 1 {
        return Inbound::Ignore;
    }
    let message_type = (datagram[0] >> 4) & 0b11;
    let message_id = u16::from_be_bytes([datagram[2], datagram[3]]);
    let confirmable = message_type == 0;
    let format_error = || {
        if confirmable {
            Inbound::RejectConfirmable { message_id }
        } else {
            Inbound::Ignore
        }
    };

    // §4.1: an Empty message has no token and nothing after the message id.
    if datagram[1] == 0 {
        if datagram.len() != 4 {
            return format_error();
        }
        return match message_type {
            0 => Inbound::Ping { message_id },
            2 => Inbound::Acknowledgement { message_id },
            3 => Inbound::Reset { message_id },
            // A NON is never empty (§4.3): a format error, silently ignored.
            _ => Inbound::Ignore,
        };
    }

    let Ok(packet) = Packet::from_bytes(datagram) else {
        return format_error();
    };
    if has_empty_payload_after_marker(datagram, &packet) {
        return format_error();
    }

    match (packet.header.get_type(), packet.header.code) {
        (MessageType::Confirmable | MessageType::NonConfirmable, MessageClass::Request(_)) => {
            Inbound::Request {
                packet,
                confirmable,
            }
        }
        // Method codes 0.08 to 0.31 are requests with an unknown method: they
        // reach the exchange layer, which answers 4.05 (§5.8).
        (MessageType::Confirmable | MessageType::NonConfirmable, MessageClass::Reserved(code))
            if code >> 5 == 0 =>
        {
            Inbound::Request {
                packet,
                confirmable,
            }
        }
        // A response in any message but a Reset (a Reset is always empty, §4.2).
        (
            MessageType::Confirmable | MessageType::NonConfirmable | MessageType::Acknowledgement,
            MessageClass::Response(_),
        ) => Inbound::Response {
            message_type: packet.header.get_type(),
            packet,
        },
        // A reserved class (1, 6, 7) in a CON: no one has the context to
        // process it (§4.2).
        (MessageType::Confirmable, _) => Inbound::RejectConfirmable { message_id },
        // A non-empty RST, or a NON no one can use, may be ignored (§4.3).
        _ => Inbound::Ignore,
    }
}

impl Inbound {
    /// What a response becomes where no request of ours is outstanding, as
    /// at a server: a CON lacks context and is rejected, anything else is
    /// ignored (§4.2, §4.3). Other kinds are returned unchanged.
    pub fn without_context(self) -> Inbound {
        match self {
            Inbound::Response {
                packet,
                message_type: MessageType::Confirmable,
            } => Inbound::RejectConfirmable {
                message_id: packet.header.message_id,
            },
            Inbound::Response { .. } => Inbound::Ignore,
            other => other,
        }
    }
}

/// §3: "The presence of a marker followed by a zero-length payload MUST be
/// processed as a message format error." coap-lite accepts it, and it cannot
/// be told from an option value that ends in 0xFF without re-encoding, which
/// is canonical (option deltas and lengths have exactly one encoding).
fn has_empty_payload_after_marker(datagram: &[u8], packet: &Packet) -> bool {
    packet.payload.is_empty()
        && datagram.last() == Some(&0xFF)
        && packet
            .to_bytes_unlimited()
            .is_ok_and(|encoded| encoded.len() < datagram.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_wrong_version_is_ignored() {
        assert!(matches!(classify(&[]), Inbound::Ignore));
        assert!(matches!(classify(&[0x40, 0x01, 0x00]), Inbound::Ignore));
        assert!(matches!(classify(&[0x80, 0x01, 0, 1]), Inbound::Ignore));
    }

    #[test]
    fn empty_messages() {
        assert!(matches!(
            classify(&[0x40, 0, 0, 7]),
            Inbound::Ping { message_id: 7 }
        ));
        assert!(matches!(
            classify(&[0x60, 0, 0, 7]),
            Inbound::Acknowledgement { message_id: 7 }
        ));
        assert!(matches!(
            classify(&[0x70, 0, 0, 7]),
            Inbound::Reset { message_id: 7 }
        ));
        assert!(matches!(classify(&[0x50, 0, 0, 7]), Inbound::Ignore));
        // An empty CON with a token is a format error: Reset.
        assert!(matches!(
            classify(&[0x41, 0, 0, 7, 0xAA]),
            Inbound::RejectConfirmable { message_id: 7 }
        ));
    }

    #[test]
    fn token_length_over_eight_is_a_format_error() {
        let mut datagram = vec![0x49, 0x01, 0, 9];
        datagram.extend([0; 9]);
        assert!(matches!(
            classify(&datagram),
            Inbound::RejectConfirmable { message_id: 9 }
        ));
        datagram[0] = 0x59;
        assert!(matches!(classify(&datagram), Inbound::Ignore));
    }

    #[test]
    fn marker_without_payload_is_a_format_error() {
        assert!(matches!(
            classify(&[0x40, 0x01, 0, 3, 0xFF]),
            Inbound::RejectConfirmable { message_id: 3 }
        ));
        // An option value ending in 0xFF is fine: Uri-Path "\xff".
        assert!(matches!(
            classify(&[0x40, 0x01, 0, 3, 0xB1, 0xFF]),
            Inbound::Request {
                confirmable: true,
                ..
            }
        ));
    }

    #[test]
    fn truncated_option_is_a_format_error() {
        // Uri-Path with length 5 but only 2 bytes.
        assert!(matches!(
            classify(&[0x40, 0x01, 0, 4, 0xB5, b'a', b'b']),
            Inbound::RejectConfirmable { message_id: 4 }
        ));
        // Delta nibble 15 without being the payload marker.
        assert!(matches!(
            classify(&[0x50, 0x01, 0, 4, 0xF1, 0]),
            Inbound::Ignore
        ));
    }

    #[test]
    fn responses_in_con_are_rejected() {
        assert!(matches!(
            classify(&[0x40, 0x45, 0, 5]).without_context(),
            Inbound::RejectConfirmable { message_id: 5 }
        ));
        assert!(matches!(
            classify(&[0x50, 0x45, 0, 5]).without_context(),
            Inbound::Ignore
        ));
        assert!(matches!(
            classify(&[0x60, 0x45, 0, 5]),
            Inbound::Response {
                message_type: MessageType::Acknowledgement,
                ..
            }
        ));
        // Reserved class 1.
        assert!(matches!(
            classify(&[0x40, 0x21, 0, 5]),
            Inbound::RejectConfirmable { message_id: 5 }
        ));
    }

    #[test]
    fn unknown_method_is_a_request() {
        assert!(matches!(
            classify(&[0x40, 0x08, 0, 5]),
            Inbound::Request {
                confirmable: true,
                ..
            }
        ));
    }
}
