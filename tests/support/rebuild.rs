//! Another build of a plugin without a second toolchain run: the same
//! component with one more custom section.
//!
//! A custom section (id 0, WebAssembly core spec §5.5.3) may close a component
//! as well as a module, and changes no behaviour; but the bytes, and so the
//! SHA-256 that keys the host's compile cache, differ. Dropped into the
//! plugins folder it is an upgrade the host compiles and loads from scratch.

/// `component` followed by a custom section named `name` holding `data`.
pub fn with_custom_section(component: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    let mut contents = leb128(name.len());
    contents.extend_from_slice(name.as_bytes());
    contents.extend_from_slice(data);
    let mut bytes = component.to_vec();
    bytes.push(0);
    bytes.extend(leb128(contents.len()));
    bytes.extend(contents);
    bytes
}

/// `value` as unsigned LEB128 (WebAssembly core spec §5.2.2).
fn leb128(mut value: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(byte);
            return bytes;
        }
        bytes.push(byte | 0x80);
    }
}
