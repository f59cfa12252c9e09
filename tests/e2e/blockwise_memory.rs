//! RFC 7959 and RFC 7252 §11: what block-wise transfers make the host hold is
//! a byte budget (`blockwise.max_transfer_memory`), not a count: a response
//! larger than `runtime.max_response_bytes` is refused with 5.00, one
//! representation fetched by many peers is held once, and past the budget a
//! request whose response would have to be held gets 5.03 with Max-Age. The
//! `bulky` test plugin answers GET /bulky?kib=N&seed=S with N KiB, different
//! per seed.

use coapwasm_tests::{Code, Message, Peer, Server, option};

const MIB: u64 = 1024 * 1024;

/// The bytes of /bulky?kib=...&seed=`seed`, as the plugin makes them.
fn bulky_bytes(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ seed.wrapping_mul(131)) as u8)
        .collect()
}

fn block2(message: &Message) -> Option<u32> {
    message.uint_option_value(option::BLOCK2)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

/// A plugin's 16 MiB answer is not sliced and held: the client gets 5.00
/// with a diagnostic naming the limit, the host logs it, and the plugin's
/// answers within the limit (and its manifest's own limit) still go out.
#[test]
fn a_response_past_max_response_bytes_is_a_5_00_with_a_diagnostic() {
    let server = Server::builder()
        .plugins(&["bulky", "led"])
        .manifest("led", "[limits]\nmax_response_bytes = 8\n")
        .start();
    let mut peer = server.peer();

    let refused = peer.get("/bulky?kib=16384");
    assert_eq!(refused.code, Code::INTERNAL_SERVER_ERROR, "{refused}");
    assert!(
        refused.payload_text().contains("max_response_bytes"),
        "the diagnostic names the limit: {refused}"
    );
    assert_eq!(block2(&refused), None, "{refused}");
    assert!(
        server
            .log_line(coapwasm_tests::REPLY_TIMEOUT, |line| line
                .contains("max_response_bytes"))
            .is_some(),
        "the host logs the refusal"
    );

    // 1 MiB, the default limit, is still answered (block-wise).
    let within = peer.get("/bulky?kib=1024");
    assert_eq!(within.code, Code::CONTENT, "{within}");
    assert!(block2(&within).is_some(), "{within}");

    // The manifest's limit applies to its plugin only: /led's 15 bytes are
    // past its 8.
    let led = peer.get("/led");
    assert_eq!(led.code, Code::INTERNAL_SERVER_ERROR, "{led}");
    assert!(
        led.payload_text().contains("max_response_bytes of 8"),
        "{led}"
    );
}

/// 300 peers each fetching block 0 of one 260 KiB representation (a firmware
/// image): the host holds it once, so its resident memory grows by a few MiB
/// at most, where a copy per peer took 64 MiB; and each peer can still
/// fetch the rest, whole and right.
#[test]
fn one_representation_fetched_by_many_peers_is_held_once() {
    const PEERS: usize = 300;
    const TARGET: &str = "/bulky?kib=260&seed=7";
    let server = Server::with_plugins(&["bulky"]);

    // Warm up: the plugin instance's memory and the host's buffers.
    let mut warm = server.peer();
    let first = warm.get(TARGET);
    assert_eq!(first.code, Code::CONTENT, "{first}");
    let before = server.resident_bytes();

    let mut peers: Vec<Peer> = (0..PEERS).map(|_| server.peer()).collect();
    for (i, peer) in peers.iter_mut().enumerate() {
        let first = peer.get(TARGET);
        assert_eq!(first.code, Code::CONTENT, "peer {i}: {first}");
        assert!(
            block2(&first).is_some_and(|value| value & 0x8 != 0),
            "peer {i}: {first}"
        );
    }
    let after = server.resident_bytes();
    let grown = after.saturating_sub(before);
    eprintln!(
        "{PEERS} peers: resident {:.1} -> {:.1} MiB",
        mib(before),
        mib(after)
    );
    assert!(
        grown < 12 * MIB,
        "{PEERS} peers holding block-wise transfers of one 260 KiB representation \
         grew the host's resident memory by {:.1} MiB ({:.1} -> {:.1} MiB)",
        mib(grown),
        mib(before),
        mib(after)
    );

    // The transfers held are still served, from the one copy.
    for peer in peers.iter_mut().step_by(100) {
        let request = peer.con(Code::GET, TARGET);
        let whole = peer.fetch(&request);
        assert_eq!(whole.code, Code::CONTENT, "{whole}");
        assert_eq!(whole.payload, bulky_bytes(260 * 1024, 7));
    }
}

/// Distinct representations past `blockwise.max_transfer_memory` (16 MiB by
/// default): 1 MiB responses, each different, are held until the budget is
/// spent; after that a request whose response would have to be held gets
/// 5.03 with Max-Age, and the host's resident memory stays within the budget
/// and a margin. What is held is still served.
#[test]
fn distinct_representations_past_the_budget_get_5_03_with_max_age() {
    const REQUESTS: usize = 60;
    let server = Server::with_plugins(&["bulky", "led"]);
    let mut peer = server.peer();
    // Warm up with a 1 MiB answer that is not held (its instance's memory).
    let warm = peer.get("/bulky?kib=1024&seed=1000");
    assert_eq!(warm.code, Code::CONTENT, "{warm}");
    let before = server.resident_bytes();

    let mut held = 0;
    let mut refused = Vec::new();
    for seed in 0..REQUESTS {
        let response = peer.get(&format!("/bulky?kib=1024&seed={seed}"));
        match response.code {
            Code::CONTENT => {
                assert!(refused.is_empty(), "held after a refusal: {response}");
                held += 1;
            }
            Code::SERVICE_UNAVAILABLE => {
                assert!(
                    response.uint_option_value(option::MAX_AGE).is_some(),
                    "5.03 without Max-Age: {response}"
                );
                refused.push(seed);
            }
            _ => panic!("seed {seed}: {response}"),
        }
    }
    let after = server.resident_bytes();
    let grown = after.saturating_sub(before);
    eprintln!(
        "{held} held, {} refused: resident {:.1} -> {:.1} MiB",
        refused.len(),
        mib(before),
        mib(after)
    );
    assert!(
        !refused.is_empty(),
        "{REQUESTS} distinct 1 MiB representations were all held ({held} of them), \
         growing the host's resident memory by {:.1} MiB",
        mib(grown)
    );
    // 16 MiB: the warm-up one is held too.
    assert!((14..=16).contains(&held), "{held} held before the refusals");
    assert!(
        grown < 16 * MIB + 12 * MIB,
        "holding {held} distinct 1 MiB representations grew the host's resident memory by \
         {:.1} MiB ({:.1} -> {:.1} MiB)",
        mib(grown),
        mib(before),
        mib(after)
    );

    // A transfer held is still served; other resources answer.
    let mut next = peer.con(Code::GET, "/bulky?kib=1024&seed=0");
    next = next.uint_option(option::BLOCK2, (1 << 4) | 6);
    let second = peer.exchange(&next);
    assert_eq!(second.code, Code::CONTENT, "{second}");
    let start = 1024;
    assert_eq!(
        second.payload[..],
        bulky_bytes(2048, 0)[start..start + second.payload.len()]
    );
    assert_eq!(peer.get("/led").code, Code::CONTENT);
}
