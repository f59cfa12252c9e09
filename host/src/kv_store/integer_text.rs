//! The form of a value that `atomics.increment` works on: a decimal s64 as
//! text (`42`, `-3`), what a plugin that counted with `get`/`set` already
//! stored, and what Redis's INCRBY keeps. Strict, so that both backends
//! take the same values: an optional `-`, then `0` or digits that do not
//! start with `0`; no `+`, no spaces, no `-0`.

/// The integer `text` holds, or none if it is not one in that form.
pub(super) fn parse(text: &[u8]) -> Option<i64> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let well_formed = match digits {
        [b'0'] => digits.len() == text.len(),
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if !well_formed {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// The text of `value`.
pub(super) fn format(value: i64) -> Vec<u8> {
    value.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_integers_in_the_s64_range() {
        assert_eq!(parse(b"0"), Some(0));
        assert_eq!(parse(b"42"), Some(42));
        assert_eq!(parse(b"-3"), Some(-3));
        assert_eq!(parse(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(format(-17), b"-17");
    }

    #[test]
    fn anything_else_is_not_one() {
        for text in [
            &b""[..],
            b"-",
            b"+5",
            b" 5",
            b"5 ",
            b"007",
            b"-0",
            b"1.5",
            b"1e3",
            b"9223372036854775808",
            b"\xff",
        ] {
            assert_eq!(parse(text), None, "{:?}", String::from_utf8_lossy(text));
        }
    }
}
