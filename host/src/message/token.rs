//! The token (RFC 7252 §5.3.1): 0 to 8 bytes that match a response to its request.

use std::fmt;

/// A token of 0 to 8 bytes, stored inline; a longer one cannot be built.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Token {
    len: u8,
    bytes: [u8; 8],
}

impl Token {
    /// The longest token RFC 7252 allows; lengths 9 to 15 are a format error.
    pub const MAX_LEN: usize = 8;

    /// A token with these bytes, or none if there are more than eight.
    pub fn new(bytes: &[u8]) -> Option<Token> {
        if bytes.len() > Self::MAX_LEN {
            return None;
        }
        let mut token = Token {
            len: bytes.len() as u8,
            bytes: [0; 8],
        };
        token.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(token)
    }

    /// The token's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_up_to_eight_bytes() {
        assert_eq!(Token::new(&[]).unwrap().as_bytes(), &[] as &[u8]);
        assert_eq!(Token::new(&[1; 8]).unwrap().as_bytes(), &[1; 8]);
        assert!(Token::new(&[1; 9]).is_none());
    }
}
