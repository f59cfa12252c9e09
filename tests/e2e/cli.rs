//! The command line and the config file: start-up errors, settings from
//! TOML, flags overriding them, and shutdown on signals.

use coapwasm_tests::{CoapClient, Server};
use std::net::UdpSocket;
use std::time::Duration;

const EXIT_WAIT: Duration = Duration::from_secs(60);

/// `device_id` from GET /info.
fn device_id(server: &Server) -> String {
    let output = CoapClient::get(&server.uri("/info")).run();
    output.assert_code("2.05");
    let json = output.payload_json();
    json["device_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no device_id in {json}"))
        .to_string()
}

/// A port that is already taken makes the server exit non-zero, naming the
/// address and saying it is in use.
#[test]
fn port_in_use_is_a_startup_error() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let exited = Server::builder()
        .plugins(&["led"])
        .binds(&[&addr])
        .run_to_exit(EXIT_WAIT);
    assert!(!exited.status.success(), "exit {}", exited.status);
    assert!(
        exited.stderr.contains(&addr) && exited.stderr.to_lowercase().contains("in use"),
        "stderr should name {addr} and say it is in use:\n{}",
        exited.stderr
    );
    assert!(
        !exited.stdout.contains("listening on"),
        "nothing may claim to listen:\n{}",
        exited.stdout
    );
    drop(taken);
}

/// A plugins folder that does not exist makes the server exit non-zero,
/// naming the folder.
#[test]
fn missing_plugins_folder_is_a_startup_error() {
    let builder = Server::builder().without_plugins_flag();
    let missing = builder.dir().join("no-such-folder");
    let exited = builder
        .arg("--plugins")
        .arg(missing.display().to_string())
        .run_to_exit(EXIT_WAIT);
    assert!(!exited.status.success(), "exit {}", exited.status);
    assert!(
        exited.stderr.contains(&missing.display().to_string())
            && exited.stderr.contains("does not exist"),
        "stderr should name {} and say it does not exist:\n{}",
        missing.display(),
        exited.stderr
    );
}

/// bind, plugins and device_id all come from the config file when no flag
/// is given.
#[test]
fn config_file_settings_apply() {
    let server = Server::builder()
        .plugins(&["info"])
        .without_plugins_flag()
        .binds(&[])
        .sockets(1)
        .config(
            "bind = [\"127.0.0.1:0\"]\nplugins = \"{plugins}\"\ndevice_id = \"from-the-file\"\n",
        )
        .start();
    assert!(server.addr().ip().is_loopback(), "{}", server.addr());
    assert_eq!(device_id(&server), "from-the-file");
}

/// Flags override the file: --device-id wins over device_id, --plugins over
/// a plugins folder that does not exist, --bind over bind.
#[test]
fn flags_override_the_config_file() {
    // Were the file's bind or plugins used, start-up would fail.
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = Server::builder()
        .plugins(&["info"])
        .config(&format!(
            "bind = [\"{}\"]\nplugins = \"/nonexistent/coapwasm-plugins\"\n\
             device_id = \"from-the-file\"\n",
            taken.local_addr().unwrap()
        ))
        .arg("--device-id")
        .arg("from-the-flag")
        .start();
    assert_ne!(server.addr(), taken.local_addr().unwrap());
    assert_eq!(device_id(&server), "from-the-flag");
}

/// SIGTERM and SIGINT end the server cleanly, with exit status 0.
#[test]
fn terminates_cleanly_on_sigterm_and_sigint() {
    for signal in ["TERM", "INT"] {
        let mut server = Server::with_plugins(&["led"]);
        CoapClient::get(&server.uri("/led"))
            .run()
            .assert_code("2.05");
        let status = server.signal_and_wait(signal, EXIT_WAIT);
        assert!(status.success(), "SIG{signal}: exit {status}");
    }
}
