//! `requester`: who sent the request the current `handle` call answers
//! (since 0.2.2), as [`PluginInstance::handle`](crate::runtime) set it.

use crate::identity::Identity;
use crate::runtime::bindings::requester::{Host, PeerIdentity};
use crate::runtime::state::PluginState;

impl Host for PluginState {
    fn identity(&mut self) -> Option<PeerIdentity> {
        match &self.requester.as_ref()?.identity {
            Identity::Anonymous => None,
            Identity::PreSharedKey(name) => Some(PeerIdentity::PreSharedKey(name.to_string())),
            Identity::Certificate(subject) => Some(PeerIdentity::Certificate(subject.to_string())),
        }
    }

    fn secure(&mut self) -> bool {
        self.requester.as_ref().is_some_and(|r| r.dtls)
    }
}
