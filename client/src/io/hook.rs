//! `window.__treff`: a deliberately tiny read-only hook for browser tests and the call benchmark,
//! which read real `getStats()` through it.
//!
//! - `connections()`: a `Map` from connection label (`mesh/<peer id>` for a peer-to-peer link)
//!   to its `RTCPeerConnection`.
//! - `streams()`: every remote track shown on a tile, as `{connection, mid, trackId, peer,
//!   kind}` with `kind` one of `audio`, `camera`, `screen`: what the sender announced for that
//!   line. A test attributes `getStats()` entries (`inbound-rtp` has `mid` and
//!   `trackIdentifier`) to people through it, whatever the connection carries.
//! - `peerId()`: our peer id or `null`.
//! - `events()`: the moments of the call so far (`{name, connection, t}` with `t` from
//!   `performance.now()`): `welcome`, `offer-sent`, `offer-received`, `answer-sent`,
//!   `answer-received`, `rollback` and `offer-ignored` (the two sides of a collision),
//!   `ice-<state>`, `connection-<state>`, `track`, `shown-<audio|camera|screen>` (a track put on
//!   a tile) and `closed`. Tests count negotiations and follow a switch with it; the benchmark
//!   measures connection times.

use std::cell::RefCell;

use js_sys::{Array, Map, Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsValue;
use web_sys::RtcPeerConnection;

/// Most entries the event log keeps: a very long call stops recording instead of growing.
const MAX_EVENTS: u32 = 5000;

/// One remote track on a tile, as `streams()` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamEntry {
    /// The connection's label.
    pub connection: String,
    /// The line it arrived on.
    pub mid: Option<String>,
    /// The track's id in this browser (`inbound-rtp.trackIdentifier`).
    pub track_id: String,
    /// Whose it is.
    pub peer: String,
    /// `audio`, `camera` or `screen`.
    pub kind: &'static str,
}

thread_local! {
    static CONNECTIONS: Map = Map::new();
    static STREAMS: RefCell<Vec<StreamEntry>> = const { RefCell::new(Vec::new()) };
    static PEER_ID: RefCell<Option<String>> = const { RefCell::new(None) };
    static EVENTS: Array = Array::new();
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    // Setting a field of a plain object cannot fail.
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// Defines `window.__treff`.
pub fn install() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let hook = Object::new();
    let connections =
        Closure::<dyn Fn() -> JsValue>::new(|| CONNECTIONS.with(|map| JsValue::from(map.clone())));
    let streams = Closure::<dyn Fn() -> JsValue>::new(|| {
        STREAMS.with(|streams| {
            let list = Array::new();
            for entry in streams.borrow().iter() {
                let item = Object::new();
                set(&item, "connection", &JsValue::from_str(&entry.connection));
                set(
                    &item,
                    "mid",
                    &entry
                        .mid
                        .as_deref()
                        .map_or(JsValue::NULL, JsValue::from_str),
                );
                set(&item, "trackId", &JsValue::from_str(&entry.track_id));
                set(&item, "peer", &JsValue::from_str(&entry.peer));
                set(&item, "kind", &JsValue::from_str(entry.kind));
                list.push(&item);
            }
            JsValue::from(list)
        })
    });
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
    set(&hook, "connections", &connections.into_js_value());
    set(&hook, "streams", &streams.into_js_value());
    set(&hook, "peerId", &peer_id.into_js_value());
    set(&hook, "events", &events.into_js_value());
    set(&window, "__treff", &hook);
}

/// Records a new connection.
pub fn register(label: &str, pc: &RtcPeerConnection) {
    CONNECTIONS.with(|map| {
        map.set(&JsValue::from_str(label), pc);
    });
}

/// Forgets a closed connection and the streams it carried.
pub fn unregister(label: &str) {
    CONNECTIONS.with(|map| {
        map.delete(&JsValue::from_str(label));
    });
    STREAMS.with(|streams| streams.borrow_mut().retain(|s| s.connection != label));
}

/// Records a remote track shown on a tile (replacing an entry for the same track).
pub fn add_stream(entry: StreamEntry) {
    STREAMS.with(|streams| {
        let mut streams = streams.borrow_mut();
        streams.retain(|s| !(s.connection == entry.connection && s.track_id == entry.track_id));
        streams.push(entry);
    });
}

/// Records our current peer id.
pub fn set_peer_id(id: Option<&str>) {
    PEER_ID.with(|cell| *cell.borrow_mut() = id.map(str::to_owned));
}

/// Records a moment of the call, concerning `connection` if given.
pub fn mark(name: &str, connection: Option<&str>) {
    EVENTS.with(|events| {
        if events.length() >= MAX_EVENTS {
            return;
        }
        let entry = Object::new();
        set(&entry, "name", &JsValue::from_str(name));
        set(
            &entry,
            "connection",
            &connection.map_or(JsValue::NULL, JsValue::from_str),
        );
        set(&entry, "t", &JsValue::from_f64(performance_now()));
        events.push(&entry);
    });
}

/// `performance.now()`: milliseconds since the page started loading, sub-millisecond precision.
fn performance_now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_default()
}
