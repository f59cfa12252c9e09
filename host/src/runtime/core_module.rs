//! A core WebAssembly module where a component belongs: the commonest
//! mistake in building a plugin (`cargo build --target wasm32-unknown-unknown`
//! or `wasm32-wasip1`, or a C or Go build that skipped componentize). Both
//! start with the same magic; the version field after it tells them apart
//! (core spec §5.5.16: version 1; component model binary format: version
//! 0x0d, layer 1).

/// What to do about `bytes` when they are a core module rather than a
/// component; None for anything else.
pub fn advice(bytes: &[u8]) -> Option<&'static str> {
    (bytes.get(..8) == Some(b"\0asm\x01\0\0\0")).then_some(
        "this is a core WebAssembly module, not a component: build for the wasm32-wasip2 \
         target (cargo build --target wasm32-wasip2), or make the core module a component \
         with componentize (as the C and Go build.sh do)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_core_modules_get_advice() {
        assert!(advice(b"\0asm\x01\0\0\0\x01\x04").is_some());
        assert!(advice(b"\0asm\x0d\0\x01\0").is_none());
        assert!(advice(b"garbage!").is_none());
        assert!(advice(b"").is_none());
    }
}
