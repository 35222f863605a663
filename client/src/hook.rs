//! `window.__treff`: a deliberately tiny read-only hook for browser tests, which read real
//! `getStats()` through it. `peerConnections()` returns a `Map` of peer id to
//! `RTCPeerConnection`; `peerId()` returns our peer id or `null`.

use std::cell::RefCell;

use js_sys::{Map, Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsValue;
use web_sys::RtcPeerConnection;

thread_local! {
    static CONNECTIONS: Map = Map::new();
    static PEER_ID: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Defines `window.__treff`.
pub fn install() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let hook = Object::new();
    let connections =
        Closure::<dyn Fn() -> JsValue>::new(|| CONNECTIONS.with(|map| JsValue::from(map.clone())));
    let peer_id = Closure::<dyn Fn() -> JsValue>::new(|| {
        PEER_ID.with(|id| match &*id.borrow() {
            Some(id) => JsValue::from_str(id),
            None => JsValue::NULL,
        })
    });
    let _ = Reflect::set(
        &hook,
        &"peerConnections".into(),
        &connections.into_js_value(),
    );
    let _ = Reflect::set(&hook, &"peerId".into(), &peer_id.into_js_value());
    let _ = Reflect::set(&window, &"__treff".into(), &hook);
}

/// Records a new connection.
pub fn register(peer: &str, pc: &RtcPeerConnection) {
    CONNECTIONS.with(|map| {
        map.set(&JsValue::from_str(peer), pc);
    });
}

/// Forgets a closed connection.
pub fn unregister(peer: &str) {
    CONNECTIONS.with(|map| {
        map.delete(&JsValue::from_str(peer));
    });
}

/// Records our current peer id.
pub fn set_peer_id(id: Option<&str>) {
    PEER_ID.with(|cell| *cell.borrow_mut() = id.map(str::to_owned));
}
