//! A test-only plugin that tells the requester who it is (issue 15, WIT
//! 0.2.2 `requester`): `GET /whoami` answers, as text/plain, the identity
//! the host passed to `handle` in the access policy's notation (`anonymous`,
//! `psk:NAME`, `cert:SUBJECT`) and whether the request came over DTLS:
//! `anonymous secure=false` over plain coap.

use coapwasm_sdk::content_format::TEXT_PLAIN;
use coapwasm_sdk::requester::{self, Identity};
use coapwasm_sdk::{Methods, Plugin, PluginDescription, Request, ResourceDescription, Response};

struct Whoami;

impl Plugin for Whoami {
    fn describe() -> PluginDescription {
        PluginDescription::new("whoami", env!("CARGO_PKG_VERSION"))
            .resource(ResourceDescription::new("/whoami", Methods::GET).content_format(TEXT_PLAIN))
    }

    fn handle(_request: Request) -> Response {
        let identity = match requester::identity() {
            None => "anonymous".to_owned(),
            Some(Identity::PreSharedKey(name)) => format!("psk:{name}"),
            Some(Identity::Certificate(subject)) => format!("cert:{subject}"),
        };
        Response::text(format!("{identity} secure={}", requester::secure()))
    }
}

coapwasm_sdk::export!(Whoami);
