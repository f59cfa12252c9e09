//! One instantiated plugin: a store and the component's exports in it.

use wasmtime::{Store, UpdateDeadline};

use super::bindings::types::{PluginDescription, Request, Response, ResponseCode};
use super::bindings::{Plugin as Exports, PluginPre};
use super::resource_events::ResourceEvent;
use super::state::PluginState;
use crate::identity::Requester;

/// An instance, ready for calls. It is never shared: a call takes it out of
/// the pool, and a trap drops it instead of putting it back.
pub struct PluginInstance {
    store: Store<PluginState>,
    exports: Exports,
}

impl PluginInstance {
    /// Instantiates the plugin into a fresh store holding `state`.
    pub async fn new(pre: &PluginPre<PluginState>, state: PluginState) -> wasmtime::Result<Self> {
        let mut store = Store::new(pre.engine(), state);
        store.limiter(|state| &mut state.limits);
        // At every epoch tick a running call yields to the async runtime, so
        // it never holds a worker thread; past its CPU budget it is stopped.
        store.epoch_deadline_callback(|mut store| {
            let state = store.data_mut();
            state.ticks_used += 1;
            if state.ticks_used > state.tick_budget {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let exports = pre.instantiate_async(&mut store).await?;
        Ok(PluginInstance { store, exports })
    }

    /// Calls `describe`.
    pub async fn describe(&mut self) -> wasmtime::Result<PluginDescription> {
        self.start_call(None);
        self.exports.call_describe(&mut self.store).await
    }

    /// Calls `handle` for a request from `requester`, which the `requester`
    /// import reports during the call. Without one, the call is a rendering
    /// (a GET made for the resource's observers): its own announcements of
    /// a change of the path it renders are ignored (RFC 7641 §4.2: the
    /// notification it makes is the change).
    pub async fn handle(
        &mut self,
        request: &Request,
        requester: Option<&Requester>,
    ) -> wasmtime::Result<Response> {
        let rendering = requester.is_none();
        self.start_call(rendering.then_some(request.path.as_str()));
        self.store.data_mut().requester = requester.cloned();
        let response = self.exports.call_handle(&mut self.store, request).await?;
        let state = self.store.data();
        Ok(if state.kv_unavailable && !is_success(response.code) {
            store_unavailable(state.host.kv_retry_after)
        } else {
            response
        })
    }

    /// Calls `sample`.
    pub async fn sample(&mut self, path: &str) -> wasmtime::Result<bool> {
        self.start_call(None);
        self.exports.call_sample(&mut self.store, path).await
    }

    fn start_call(&mut self, rendering: Option<&str>) {
        let state = self.store.data_mut();
        state.requester = None;
        state.kv_unavailable = false;
        state.ticks_used = 0;
        state.announced.start(&state.paths, rendering);
        self.store.set_epoch_deadline(1);
    }

    /// Whether the last call needed the shared key-value store while it was
    /// unreachable.
    pub fn needed_unreachable_store(&self) -> bool {
        self.store.data().kv_unavailable
    }

    /// Ends the last call's output: writes a last line it printed without
    /// a newline, and tells whether it wrote to stderr, where a Python
    /// traceback or a Rust panic's message would be.
    pub fn end_output(&mut self) -> bool {
        self.store.data().output.end_call()
    }

    /// Publishes the changes the last call announced, each path once,
    /// whether the call returned or was stopped: what it wrote before a trap
    /// is stored, and its observers must learn of it.
    pub fn publish_announced(&mut self) {
        let state = self.store.data_mut();
        let (announced, ignored) = state.announced.take(&state.paths);
        for (path, important) in announced {
            state
                .host
                .publish(ResourceEvent::Changed { path, important });
        }
        if ignored > 0 {
            tracing::debug!(
                plugin = &*state.name,
                count = ignored,
                "changed() for paths not its own, or for too many members: ignored"
            );
        }
    }
}

fn is_success(code: ResponseCode) -> bool {
    matches!(
        code,
        ResponseCode::Created
            | ResponseCode::Deleted
            | ResponseCode::Valid
            | ResponseCode::Changed
            | ResponseCode::Content
    )
}

/// The answer to a request that needed the shared key-value store while it
/// was unreachable, whatever error the plugin made of the failure (most
/// answer 5.00, which would say the plugin is broken): 5.03 Service
/// Unavailable with Max-Age, which tells the client when to try again
/// (RFC 7252 §5.9.3.4). A plugin that coped and answered 2.xx keeps its
/// answer.
fn store_unavailable(retry_after: u32) -> Response {
    Response {
        code: ResponseCode::ServiceUnavailable,
        content_format: Some(0),
        max_age: Some(retry_after),
        etag: None,
        location_path: Vec::new(),
        location_query: Vec::new(),
        payload: b"the shared key-value store is unreachable".to_vec(),
    }
}
