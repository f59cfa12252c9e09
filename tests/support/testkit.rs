//! Reading the answers of the test-only `testkit` plugin.

use crate::datagram::{Code, Message};
use crate::peer::Peer;

/// The count in a /test/counter answer: a JSON number, a JSON object with one
/// numeric field, or a plain decimal.
pub fn count(response: &Message) -> u64 {
    assert_eq!(response.code, Code::CONTENT, "{response}");
    let text = response.payload_text().trim();
    let parsed = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Number(n)) => n.as_u64(),
        Ok(serde_json::Value::Object(fields)) => {
            let numbers: Vec<u64> = fields.values().filter_map(|v| v.as_u64()).collect();
            (numbers.len() == 1).then(|| numbers[0])
        }
        _ => None,
    };
    parsed.unwrap_or_else(|| panic!("no count in {response}"))
}

/// GETs /test/counter and returns its count.
pub fn read_counter(peer: &mut Peer) -> u64 {
    count(&peer.get("/test/counter"))
}
