//! treff's web app: a Yew single-page app compiled to wasm.
//!
//! Three layers. [`core`] is the call core: every rule of a call as a plain struct that takes
//! events and returns commands, with the transport seam ([`core::transport`]) behind which the
//! full mesh ([`core::mesh`]) decides which connections a room needs; it is tested on the host.
//! [`io`] carries the core's commands out with web-sys and gloo-net (peer connections, the
//! signaling WebSocket, capture). [`state`] is the one state the UI renders and [`components`]
//! render it; [`route`] and [`token`] read the page's address and its invitation. [`i18n`] holds
//! every text the page shows, in English and German.
#![forbid(unsafe_code)]

pub mod components;
pub mod core;
pub mod i18n;
pub mod io;
pub mod route;
pub mod state;
pub mod token;

use wasm_bindgen::prelude::wasm_bindgen;

/// Entry point: mounts the app on `<body>` once the wasm module is instantiated.
#[wasm_bindgen(start)]
pub fn start() {
    io::hook::install();
    if let Some(boot) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("boot"))
    {
        boot.remove();
    }
    yew::Renderer::<components::App>::new().render();
}
