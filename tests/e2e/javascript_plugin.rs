//! The dice example plugin, written in JavaScript (plugins/dice, built with
//! jco's QuickJS backend): served, discovered and hot-reloaded like a Rust
//! one, the number of sides kept in the key-value store.

use std::time::Duration;

use coapwasm_tests::{CoapClient, Code, Server, link_format, option, rebuild};

const FILE: &str = "dice.wasm";

/// How long a reload of the JavaScript component may take: Cranelift compiles
/// its QuickJS engine in a few seconds, more on a busy machine.
const RELOAD_WAIT: Duration = Duration::from_secs(60);

/// The rolls in a JSON answer, each checked to lie in 1..=sides, with the
/// total checked against them.
fn rolls(value: &serde_json::Value, sides: u64) -> Vec<u64> {
    assert_eq!(value["sides"], sides, "{value}");
    let rolls: Vec<u64> = value["rolls"]
        .as_array()
        .unwrap_or_else(|| panic!("no rolls in {value}"))
        .iter()
        .map(|roll| roll.as_u64().unwrap_or_else(|| panic!("a roll in {value}")))
        .collect();
    assert!(
        rolls.iter().all(|roll| (1..=sides).contains(roll)),
        "{value}"
    );
    assert_eq!(value["total"], rolls.iter().sum::<u64>(), "{value}");
    rolls
}

/// RFC 7252 §5.8.1 and §5.8.3 through coap-client: GET throws one six-sided
/// die, `?count=` several (Uri-Query, §5.10.1), Accept 0 gets text
/// (§5.10.4); PUT sets the number of sides; bad values are 4.00 with a
/// diagnostic (§5.5.2).
#[test]
fn get_and_put_through_coap_client() {
    let server = Server::with_plugins(&["dice"]);
    let uri = server.uri("/dice");

    let output = CoapClient::get(&uri).run();
    output.assert_code("2.05");
    assert_eq!(
        output.response().option("Content-Format"),
        Some("application/json"),
        "{}",
        output.shown()
    );
    assert_eq!(rolls(&output.payload_json(), 6).len(), 1);

    let output = CoapClient::get(&server.uri("/dice?count=50")).run();
    output.assert_code("2.05");
    let thrown = rolls(&output.payload_json(), 6);
    assert_eq!(thrown.len(), 50);
    // 50 throws of one value out of six: a broken generator, not chance (6^-49).
    assert!(thrown.iter().any(|roll| *roll != thrown[0]), "{thrown:?}");

    let output = CoapClient::get(&uri)
        .method("put")
        .payload("20")
        .content_format(0)
        .run();
    output.assert_code("2.04");
    assert_eq!(output.payload_text(), "20");

    let output = CoapClient::get(&server.uri("/dice?count=3")).run();
    output.assert_code("2.05");
    assert_eq!(rolls(&output.payload_json(), 20).len(), 3);

    let output = CoapClient::get(&server.uri("/dice?count=4"))
        .accept(0)
        .run();
    output.assert_code("2.05");
    let text: Vec<u64> = output
        .payload_text()
        .split(' ')
        .map(|roll| {
            roll.parse()
                .unwrap_or_else(|_| panic!("{}", output.shown()))
        })
        .collect();
    assert_eq!(text.len(), 4, "{}", output.shown());
    assert!(text.iter().all(|roll| (1..=20).contains(roll)));

    let output = CoapClient::get(&server.uri("/dice?count=0")).run();
    output.assert_code("4.00");
    // coap-client prints an error's diagnostic payload on stderr.
    assert!(output.stderr.contains("count"), "{}", output.shown());
    CoapClient::get(&uri)
        .method("put")
        .payload("1")
        .run()
        .assert_code("4.00");
    CoapClient::get(&uri)
        .method("put")
        .payload("{}")
        .content_format(50)
        .run()
        .assert_code("4.15");
    // The host answers 4.05 for a method the resource does not list.
    CoapClient::get(&uri)
        .method("post")
        .run()
        .assert_code("4.05");

    // The plugin's log import reached the host's log, tagged with its name.
    let logged = server.log_line(Duration::from_secs(5), |l| {
        l.contains("set the dice to 20 sides") && l.contains("plugin=\"dice\"")
    });
    assert!(logged.is_some(), "no log line; log:\n{}", server.stderr());
}

/// Every instance starts from the same snapshot of the engine, taken when the
/// component was built: dice thrown with a generator seeded there would
/// repeat the same sequence in each new instance (here: after a restart).
#[test]
fn a_new_instance_throws_other_dice() {
    let mut server = Server::builder().plugins(&["dice"]).fixed_port().start();
    let mut peer = server.peer();
    let mut first_throw = || {
        // Block by block if the answer is larger than the host sends whole.
        let request = peer.con(Code::GET, "/dice?count=30");
        let response = peer.fetch(&request);
        assert_eq!(response.code, Code::CONTENT, "{response}");
        rolls(&response.payload_json(), 6)
    };
    let before = first_throw();
    server.restart();
    let after = first_throw();
    // Equal by chance once in 6^30.
    assert_ne!(before, after, "the same 30 rolls in two instances");
}

/// RFC 6690 §4: /.well-known/core lists /dice with the attributes of its
/// describe(), beside a Rust plugin.
#[test]
fn discovery_lists_the_resource() {
    let server = Server::with_plugins(&["dice", "led"]);
    let output = CoapClient::get(&server.uri("/.well-known/core")).run();
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text())
        .unwrap_or_else(|e| panic!("not link-format ({e})\n{}", output.shown()));
    assert_eq!(link_format::targets(&links), ["/dice", "/led"]);
    let dice = link_format::find(&links, "/dice");
    assert_eq!(dice.value("ct"), Some("50 0"));
    assert_eq!(dice.value("rt"), Some("dice"));
    assert_eq!(dice.value("if"), Some("sensor"));
    assert_eq!(dice.value("title"), Some("Dice (JavaScript)"));
    assert!(!dice.has_flag("obs"), "{dice:?}");
}

/// Hot reload: another build of the component dropped over the file is
/// compiled and swapped in while the old one keeps answering, and the number
/// of sides, kept in the store under the plugin's name, carries over.
#[test]
fn another_build_replaces_it_and_keeps_the_sides() {
    let server = Server::with_plugins(&["dice"]);
    let mut peer = server.peer();
    let put = peer
        .con(Code::PUT, "/dice")
        .uint_option(option::CONTENT_FORMAT, 0)
        .payload(b"12");
    let response = peer.exchange(&put);
    assert_eq!(response.code, Code::CHANGED, "{response}");

    rebuild::upgrade_while_serving(
        &server,
        &mut peer,
        "dice",
        FILE,
        "/dice",
        RELOAD_WAIT,
        |response| {
            rolls(&response.payload_json(), 12);
        },
    );

    let output = CoapClient::get(&server.uri("/dice?count=2")).run();
    output.assert_code("2.05");
    assert_eq!(rolls(&output.payload_json(), 12).len(), 2);
}

/// Not a check but a measurement, run on demand:
/// `cargo test --release -p coapwasm-tests --test javascript_plugin -- --ignored --nocapture`.
/// Prints the time to answer a burst of concurrent GETs (the first makes
/// instances), and the median round trip of sequential GETs over loopback, to the
/// JavaScript plugin and to the Rust led plugin in the same server, and their
/// load lines (compile or cache, instantiate, describe).
#[test]
#[ignore = "a measurement; run on demand"]
fn per_request_cost() {
    let server = Server::with_plugins(&["dice", "led"]);
    for line in server.log_lines(|l| l.contains("loaded plugin")) {
        println!("{line}");
    }
    let mut peer = server.peer();
    for path in ["/dice", "/led"] {
        // The first burst makes instances: only one exists after loading.
        for burst in ["first", "second"] {
            let time = coapwasm_tests::round_trip::burst(&mut peer, path, 8);
            println!("{path}: {burst} burst of 8 concurrent GETs answered in {time:?}");
        }
        let median = coapwasm_tests::round_trip::median(&mut peer, path, 2000);
        println!("{path}: median round trip of 2000 sequential GETs {median:?}");
    }
}
