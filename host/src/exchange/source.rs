//! The text of a request's source endpoint, as the WIT `request` carries it
//! (`127.0.0.1:5683`, `[::1]:5683`). Every request needs it, and `Display`
//! for an IPv4 socket address goes through the formatting machinery five
//! times: the common case is written digit by digit instead.

use std::net::SocketAddr;

/// `address` as `Display` writes it.
pub fn source_text(address: SocketAddr) -> String {
    let SocketAddr::V4(v4) = address else {
        return address.to_string();
    };
    let mut text = String::with_capacity(21);
    for (i, octet) in v4.ip().octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        push_decimal(&mut text, u32::from(octet));
    }
    text.push(':');
    push_decimal(&mut text, u32::from(v4.port()));
    text
}

fn push_decimal(text: &mut String, mut value: u32) {
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        text.push(char::from(digit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_as_display_writes_it() {
        for address in [
            "127.0.0.1:5683",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "10.0.200.9:40001",
            "[::1]:5683",
            "[fe80::1%2]:61616",
        ] {
            let address: SocketAddr = address.parse().unwrap();
            assert_eq!(source_text(address), address.to_string());
        }
    }
}
