//! The IO layer: everything that touches the browser. [`call`] runs a call by feeding the call
//! core (`crate::core`) and carrying out its commands; [`link`] is one `RTCPeerConnection`,
//! [`signaling`] the WebSocket to the server, [`media`] camera, microphone and screen capture,
//! [`recorder`] the recording of the call;
//! [`hook`] is the tiny `window.__treff` the browser tests read, [`js`] small helpers around
//! `JsValue`.

pub mod call;
pub mod hook;
pub mod js;
pub mod link;
pub mod media;
pub mod recorder;
pub mod signaling;
