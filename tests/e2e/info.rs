//! The info example plugin, which reports what the host-info import tells it.

use coapwasm_tests::{CoapClient, Server};

/// RFC 7252 §5.8.1: GET /info answers the device id given by --device-id,
/// the firmware (host) version, the uptime and the served paths.
#[test]
fn reports_device_id_version_uptime_and_resources() {
    let server = Server::builder()
        .plugins(&["info", "led", "temperature"])
        .arg("--device-id")
        .arg("e2e-device-42")
        .start();
    let output = CoapClient::get(&server.uri("/info")).run();
    output.assert_code("2.05");
    let json = output.payload_json();

    assert_eq!(json["device_id"], "e2e-device-42", "{json}");
    // The host and this package share the workspace version.
    assert_eq!(
        json["firmware_version"],
        env!("CARGO_PKG_VERSION"),
        "{json}"
    );
    let uptime = json["uptime_seconds"]
        .as_u64()
        .unwrap_or_else(|| panic!("uptime_seconds is not a whole number: {json}"));
    assert!(
        uptime < 3600,
        "the server started moments ago, uptime {uptime}"
    );
    let resources: Vec<&str> = json["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("resources is not a list: {json}"))
        .iter()
        .map(|r| r.as_str().expect("resource paths are strings"))
        .collect();
    for path in ["/info", "/led", "/temperature"] {
        assert!(resources.contains(&path), "{path} missing from {json}");
    }
    assert!(
        !resources.iter().any(|p| p.starts_with("/test")),
        "no testkit plugin was loaded: {json}"
    );
}
