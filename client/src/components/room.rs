//! The room page: header with the room name and "Copy link", the video grid, the side panel
//! (chat or participants) and the control bar.

use treff_shared::PeerStatus;
use yew::prelude::*;

use super::chat::{ChatLine, ChatPanel};
use super::controls::Controls;
use super::grid::{TileData, VideoGrid};
use super::notices::{ConnectionBanner, Notices};
use super::participants::{Participant, ParticipantList};
use crate::js;
use crate::state::{AppState, Capture, Connection, LinkState, Panel, PeerView};

/// Properties of [`RoomView`].
#[derive(Properties, PartialEq)]
pub struct RoomViewProps {
    /// Everything to render.
    pub state: UseReducerHandle<AppState>,
    /// Microphone on/off.
    pub on_microphone: Callback<bool>,
    /// Camera on/off.
    pub on_camera: Callback<bool>,
    /// Screen share on/off.
    pub on_share: Callback<()>,
    /// Camera picked.
    pub on_select_camera: Callback<String>,
    /// Microphone picked.
    pub on_select_microphone: Callback<String>,
    /// Side panel toggled.
    pub on_panel: Callback<Panel>,
    /// Leave.
    pub on_leave: Callback<()>,
    /// Chat message to send.
    pub on_send: Callback<String>,
    /// Notice dismissed.
    pub on_dismiss: Callback<u32>,
    /// "Copy link" pressed.
    pub on_copy_link: Callback<()>,
}

fn peer_status(peer: &PeerView) -> Option<String> {
    if peer.status == PeerStatus::Reconnecting {
        return Some("Reconnecting…".into());
    }
    match peer.link {
        LinkState::Connected => None,
        LinkState::Connecting => Some("Connecting…".into()),
        LinkState::Disconnected => Some("Connection interrupted…".into()),
        LinkState::Failed => Some("Connection failed, retrying…".into()),
    }
}

fn tiles(state: &AppState) -> Vec<TileData> {
    let local = &state.local;
    let mut tiles = vec![TileData {
        key: "self".into(),
        name: format!("{} (you)", state.name),
        label: format!("Your video ({})", state.name),
        stream: local.camera.clone(),
        is_self: true,
        is_screen: false,
        audio: local.media.audio,
        video: local.media.video,
        status: None,
    }];
    if local.screen.is_some() {
        tiles.push(TileData {
            key: "self-screen".into(),
            name: "Your screen".into(),
            label: format!("Screen shared by you ({})", state.name),
            stream: local.screen.clone(),
            is_self: true,
            is_screen: true,
            audio: false,
            video: true,
            status: None,
        });
    }
    for peer in &state.peers {
        tiles.push(TileData {
            key: peer.id.to_string(),
            name: peer.name.clone(),
            label: format!("Video of {}", peer.name),
            stream: peer.camera.clone(),
            is_self: false,
            is_screen: false,
            audio: peer.media.audio,
            video: peer.media.video,
            status: peer_status(peer),
        });
        if peer.media.screen && peer.screen.is_some() {
            tiles.push(TileData {
                key: format!("{}-screen", peer.id),
                name: format!("{}'s screen", peer.name),
                label: format!("Screen shared by {}", peer.name),
                stream: peer.screen.clone(),
                is_self: false,
                is_screen: true,
                audio: false,
                video: true,
                status: None,
            });
        }
    }
    tiles
}

fn participants(state: &AppState) -> Vec<Participant> {
    let me = Participant {
        key: "self".into(),
        name: format!("{} (you)", state.name),
        audio: state.local.media.audio,
        video: state.local.media.video,
        screen: state.local.media.screen,
        status: None,
    };
    std::iter::once(me)
        .chain(state.peers.iter().map(|p| Participant {
            key: p.id.to_string(),
            name: p.name.clone(),
            audio: p.media.audio,
            video: p.media.video,
            screen: p.media.screen,
            status: peer_status(p),
        }))
        .collect()
}

/// The room page.
#[component]
pub fn RoomView(props: &RoomViewProps) -> Html {
    let state: &AppState = &props.state;
    let on_copy = {
        let cb = props.on_copy_link.clone();
        Callback::from(move |_| cb.emit(()))
    };
    let lines: Vec<ChatLine> = state
        .chat
        .iter()
        .map(|m| ChatLine {
            id: m.id,
            name: m.name.to_string(),
            time: js::clock_time(m.ts),
            text: m.text.clone(),
            own: state.is_own(m),
        })
        .collect();
    let connected = state.connection == Connection::Connected;
    let side = match state.panel {
        Panel::Closed => html! {},
        Panel::Chat => html! {
            <aside class="side">
                <ChatPanel {lines} {connected} on_send={props.on_send.clone()} />
            </aside>
        },
        Panel::People => html! {
            <aside class="side"><ParticipantList people={participants(state)} /></aside>
        },
    };
    let waiting = state.peers.is_empty() && connected;
    html! {
        <div class="room">
            <header class="topbar">
                <div class="room-title">
                    <span class="brand small">{"treff"}</span>
                    <h1 class="room-name">{state.room.clone()}</h1>
                </div>
                <button type="button" class="secondary" onclick={on_copy}>{"Copy link"}</button>
            </header>
            <ConnectionBanner connection={state.connection.clone()} />
            <Notices notices={state.notices.clone()} on_dismiss={props.on_dismiss.clone()} />
            <div class={classes!("stage", (state.panel != Panel::Closed).then_some("with-side"))}>
                <main class="main">
                    if waiting {
                        <p class="waiting" role="status">{"You are the only one here. Share the link to invite others."}</p>
                    }
                    <VideoGrid tiles={tiles(state)} />
                </main>
                {side}
            </div>
            <Controls
                audio={state.local.media.audio}
                video={state.local.media.video}
                screen={state.local.media.screen}
                has_audio={matches!(state.local.capture, Capture::Full | Capture::AudioOnly)}
                has_video={state.local.capture == Capture::Full}
                devices={state.devices.clone()}
                panel={state.panel}
                unread={state.unread}
                people={state.peers.len() + 1}
                on_microphone={props.on_microphone.clone()}
                on_camera={props.on_camera.clone()}
                on_share={props.on_share.clone()}
                on_select_camera={props.on_select_camera.clone()}
                on_select_microphone={props.on_select_microphone.clone()}
                on_panel={props.on_panel.clone()}
                on_leave={props.on_leave.clone()}
            />
        </div>
    }
}
