//! A plugin that traps answers 5.00 and is replaced; the host and the other
//! plugins go on serving.

use coapwasm_tests::testkit::read_counter;
use coapwasm_tests::{CoapClient, Code, Server, Type};

/// RFC 7252 §5.9.3.1 and §5.5.2: a trap in the handler is 5.00 Internal
/// Server Error with a diagnostic payload, again on the next request (the
/// instance was replaced, not the host brought down), and other resources of
/// the same and of other plugins still answer.
#[test]
fn trap_is_500_and_the_instance_is_replaced() {
    let mut server = Server::with_plugins(&["testkit", "led"]);
    let mut peer = server.peer();

    for attempt in 1..=2 {
        let request = peer.con(Code::GET, "/test/trap");
        let response = peer.exchange(&request);
        assert_eq!(response.mtype, Type::Ack, "attempt {attempt}: {response}");
        assert_eq!(
            response.code,
            Code::INTERNAL_SERVER_ERROR,
            "attempt {attempt}: {response}"
        );
        assert!(
            !response.payload_text().trim().is_empty(),
            "attempt {attempt}: no diagnostic payload in {response}"
        );
    }
    server.assert_running();

    let before = read_counter(&mut peer);
    assert_eq!(peer.call(Code::POST, "/test/counter").code.class(), 2);
    assert_eq!(
        read_counter(&mut peer),
        before + 1,
        "the testkit instance works"
    );
    assert_eq!(peer.get("/led").code, Code::CONTENT);

    let output = CoapClient::get(&server.uri("/test/trap")).run();
    output.assert_code("5.00");
    assert!(output.stderr.contains("5.00"), "{}", output.shown());
    server.assert_running();
}
