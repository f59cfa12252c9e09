//! Content-Format numbers and their names (RFC 7252 §12.3, and the IANA
//! "CoAP Content-Formats" registry for the common later ones), so that
//! `-t json` and `-t 50` mean the same, as in libcoap's coap-client.

/// A registered Content-Format: its number, media type and short names.
struct Registered {
    number: u16,
    media_type: &'static str,
    short: &'static [&'static str],
}

const REGISTRY: &[Registered] = &[
    Registered {
        number: 0,
        media_type: "text/plain;charset=utf-8",
        short: &["text", "plain", "txt"],
    },
    Registered {
        number: 40,
        media_type: "application/link-format",
        short: &["link", "link-format"],
    },
    Registered {
        number: 41,
        media_type: "application/xml",
        short: &["xml"],
    },
    Registered {
        number: 42,
        media_type: "application/octet-stream",
        short: &["octet", "octet-stream", "binary", "bin"],
    },
    Registered {
        number: 47,
        media_type: "application/exi",
        short: &["exi"],
    },
    Registered {
        number: 50,
        media_type: "application/json",
        short: &["json"],
    },
    Registered {
        number: 51,
        media_type: "application/json-patch+json",
        short: &["json-patch"],
    },
    Registered {
        number: 52,
        media_type: "application/merge-patch+json",
        short: &["merge-patch"],
    },
    Registered {
        number: 60,
        media_type: "application/cbor",
        short: &["cbor"],
    },
    Registered {
        number: 61,
        media_type: "application/cwt",
        short: &["cwt"],
    },
    Registered {
        number: 110,
        media_type: "application/senml+json",
        short: &["senml+json", "senml-json"],
    },
    Registered {
        number: 112,
        media_type: "application/senml+cbor",
        short: &["senml+cbor", "senml-cbor"],
    },
];

/// The number a name or number given on the command line stands for.
pub fn parse(text: &str) -> Result<u16, String> {
    if let Ok(number) = text.parse::<u16>() {
        return Ok(number);
    }
    let lower = text.to_ascii_lowercase();
    REGISTRY
        .iter()
        .find(|r| r.media_type == lower || r.short.contains(&lower.as_str()))
        .map(|r| r.number)
        .ok_or_else(|| {
            let names: Vec<_> = REGISTRY.iter().map(|r| r.short[0]).collect();
            format!(
                "unknown Content-Format {text:?}: give a number or one of {}",
                names.join(", ")
            )
        })
}

/// The media type of a number, if registered.
pub fn media_type(number: u16) -> Option<&'static str> {
    REGISTRY
        .iter()
        .find(|r| r.number == number)
        .map(|r| r.media_type)
}

/// How a payload of this format is best shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Json,
    Cbor,
    LinkFormat,
    Binary,
}

/// The kind of a Content-Format; none given is treated as text if the
/// bytes are UTF-8 (many servers, seed ones included, omit it).
pub fn kind(number: Option<u16>) -> Kind {
    match number {
        Some(0 | 41) => Kind::Text,
        Some(50 | 51 | 52 | 110) => Kind::Json,
        Some(60 | 61 | 112) => Kind::Cbor,
        Some(40) => Kind::LinkFormat,
        Some(_) => Kind::Binary,
        None => Kind::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("json"), Ok(50));
        assert_eq!(parse("CBOR"), Ok(60));
        assert_eq!(parse("application/link-format"), Ok(40));
        assert_eq!(parse("60"), Ok(60));
        assert!(parse("yaml").unwrap_err().contains("json"));
        assert_eq!(media_type(0), Some("text/plain;charset=utf-8"));
    }
}
