//! `window.__treff`: a deliberately tiny read-only hook for browser tests and the call benchmark,
//! which read real `getStats()` through it. `peerConnections()` returns a `Map` of peer id to
//! `RTCPeerConnection`; `peerId()` returns our peer id or `null`; `events()` returns the moments
//! of the call so far (`{name, peer, t}` with `t` from `performance.now()`): `welcome`,
//! `offer-sent`, `offer-received`, `answer-sent`, `answer-received`, `rollback` and
//! `offer-ignored` (the two sides of a collision), `ice-<state>`, `connection-<state>`, `track`.
//! Tests count negotiations with it; the benchmark measures connection times.

use std::cell::RefCell;

use js_sys::{Array, Map, Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsValue;
use web_sys::RtcPeerConnection;

use crate::js;

/// Most entries the event log keeps: a very long call stops recording instead of growing.
const MAX_EVENTS: u32 = 5000;

thread_local! {
    static CONNECTIONS: Map = Map::new();
    static PEER_ID: RefCell<Option<String>> = const { RefCell::new(None) };
    static EVENTS: Array = Array::new();
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
    // A copy, so that a test cannot change the log.
    let events = Closure::<dyn Fn() -> JsValue>::new(|| {
        EVENTS.with(|events| JsValue::from(events.slice(0, events.length())))
    });
    let _ = Reflect::set(
        &hook,
        &"peerConnections".into(),
        &connections.into_js_value(),
    );
    let _ = Reflect::set(&hook, &"peerId".into(), &peer_id.into_js_value());
    let _ = Reflect::set(&hook, &"events".into(), &events.into_js_value());
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

/// Records a moment of the call, concerning `peer` if given.
pub fn mark(name: &str, peer: Option<&str>) {
    EVENTS.with(|events| {
        if events.length() >= MAX_EVENTS {
            return;
        }
        let entry = Object::new();
        let _ = Reflect::set(&entry, &"name".into(), &JsValue::from_str(name));
        let _ = Reflect::set(
            &entry,
            &"peer".into(),
            &peer.map_or(JsValue::NULL, JsValue::from_str),
        );
        let _ = Reflect::set(&entry, &"t".into(), &JsValue::from_f64(performance_now()));
        events.push(&entry);
    });
}

/// `performance.now()`: milliseconds since the page started loading, sub-millisecond precision.
fn performance_now() -> f64 {
    Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|performance| js::call(&performance, "now", &[]).ok())
        .and_then(|now| now.as_f64())
        .unwrap_or_default()
}
