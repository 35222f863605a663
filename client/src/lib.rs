//! treff's web app: a Yew single-page app compiled to wasm.
//!
//! Non-UI code lives in plain modules: [`signaling`] (the WebSocket to the server), [`peer`] and
//! [`mesh`] (one `RTCPeerConnection` per other participant), [`media`] (camera, microphone,
//! screen), [`token`] (invitation tokens) and [`call`] (which ties them together). [`state`] is
//! the one state the UI renders; [`components`] render it. [`hook`] exposes a tiny
//! `window.__treff` for browser tests.
#![forbid(unsafe_code)]

pub mod call;
pub mod components;
pub mod hook;
pub mod js;
pub mod media;
pub mod mesh;
pub mod peer;
pub mod route;
pub mod signaling;
pub mod state;
pub mod token;

use wasm_bindgen::prelude::wasm_bindgen;

/// Entry point: mounts the app on `<body>` once the wasm module is instantiated.
#[wasm_bindgen(start)]
pub fn start() {
    hook::install();
    if let Some(boot) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("boot"))
    {
        boot.remove();
    }
    yew::Renderer::<components::App>::new().render();
}
