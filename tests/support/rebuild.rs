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

/// Drops another build of `plugin` (its file `file`) over the file in
/// `server`'s plugins folder and, until the host logs that it upgraded the
/// plugin (within `wait`), keeps GETting `path`: each answer must be 2.05
/// and pass `check`. Returns the `upgraded plugin` log line, which must say
/// the new build was compiled (`cached=false`); fails if no request was made
/// during the reload.
pub fn upgrade_while_serving(
    server: &crate::Server,
    peer: &mut crate::Peer,
    plugin: &str,
    file: &str,
    path: &str,
    wait: std::time::Duration,
    mut check: impl FnMut(&crate::Message),
) -> String {
    let built = crate::artifacts::plugin(file);
    let original = std::fs::read(&built).unwrap_or_else(|e| panic!("read {built:?}: {e}"));
    let rebuilt = with_custom_section(&original, "coapwasm-test", b"build 2");
    server
        .plugins_folder()
        .write_then_rename(&format!(".{file}.tmp"), file, &rebuilt);

    let logged = format!("plugin=\"{plugin}\"");
    let deadline = std::time::Instant::now() + wait;
    let mut during = 0;
    let upgraded = loop {
        if let Some(line) = server
            .log_lines(|l| l.contains("upgraded plugin") && l.contains(&logged))
            .pop()
        {
            break line;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no `upgraded plugin` line for {plugin} within {wait:?}; log:\n{}",
            server.stderr()
        );
        let response = peer.get(path);
        assert_eq!(
            response.code,
            crate::Code::CONTENT,
            "during the reload: {response}"
        );
        check(&response);
        during += 1;
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(upgraded.contains("cached=false"), "a new build: {upgraded}");
    assert!(during > 0, "no request was made during the reload");
    upgraded
}
