//! The CoAP codec the host uses (coap-lite): parsing a typical request and
//! encoding a typical response (RFC 7252 §3).

mod support;

use std::hint::black_box;

use coap_lite::{CoapOption, ContentFormat, MessageClass, MessageType, Packet, ResponseType};
use criterion::{Criterion, criterion_group, criterion_main};

fn codec(c: &mut Criterion) {
    let request = support::get_datagram(0x1234, "/led");
    c.bench_function("codec/parse GET /led", |b| {
        b.iter(|| Packet::from_bytes(black_box(&request)).expect("a packet"))
    });

    let mut response = Packet::new();
    response.header.set_type(MessageType::Acknowledgement);
    response.header.code = MessageClass::Response(ResponseType::Content);
    response.header.message_id = 0x1234;
    response.set_token(vec![1, 2, 3, 4]);
    response.set_content_format(ContentFormat::ApplicationJSON);
    response.add_option(CoapOption::MaxAge, vec![60]);
    response.payload = br#"{"state":"off"}"#.to_vec();
    c.bench_function("codec/encode 2.05 {\"state\":\"off\"}", |b| {
        b.iter(|| black_box(&response).to_bytes().expect("bytes"))
    });
    c.bench_function("codec/clone + encode 2.05", |b| {
        b.iter(|| black_box(&response).clone().to_bytes().expect("bytes"))
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
