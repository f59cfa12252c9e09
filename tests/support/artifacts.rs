//! Where the built binary and plugin components are: the tests run the real
//! build, never a stand-in.

use std::path::PathBuf;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `coapwasm` binary: `COAPWASM_BIN`, else the workspace's release build.
pub fn binary() -> PathBuf {
    let path = std::env::var_os("COAPWASM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/release/coapwasm"));
    assert!(
        path.is_file(),
        "coapwasm binary not found at {}: build it with `cargo build --release -p coapwasm` \
         or point COAPWASM_BIN at it",
        path.display()
    );
    path
}

/// A built plugin component such as `led.wasm`: from `COAPWASM_PLUGIN_BUILD_DIR`,
/// else the workspace's `target/wasm32-wasip2/plugin/`.
pub fn plugin(file_name: &str) -> PathBuf {
    let dir = std::env::var_os("COAPWASM_PLUGIN_BUILD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/wasm32-wasip2/plugin"));
    let path = dir.join(file_name);
    assert!(
        path.is_file(),
        "plugin {file_name} not found at {}: build the plugins for wasm32-wasip2 with the \
         `plugin` profile, or point COAPWASM_PLUGIN_BUILD_DIR at them",
        path.display()
    );
    path
}

/// A test plugin variant that `examples/setup.sh` builds and keeps under its own
/// name, such as `versioned-v2.wasm`: from `COAPWASM_TEST_PLUGIN_DIR`, else the
/// workspace's `target/test-plugins/`.
pub fn test_plugin(file_name: &str) -> PathBuf {
    let dir = std::env::var_os("COAPWASM_TEST_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/test-plugins"));
    let path = dir.join(file_name);
    assert!(
        path.is_file(),
        "test plugin {file_name} not found at {}: build it with `bash examples/setup.sh`, \
         or point COAPWASM_TEST_PLUGIN_DIR at it",
        path.display()
    );
    path
}
