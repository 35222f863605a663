//! The room page: header with the room name, the lock state and "Copy link", the video grid, the
//! side panel (chat or participants) and the control bar. Moderators also get "Lock room" and
//! "Waiting room" here, the people waiting with "Admit" and "Deny", and the confirmation before
//! removing someone or ending the room. Someone in the waiting room sees only that they wait.

use treff_shared::{MediaMode, NoPathCause, PeerId, PeerStatus, Role};
use yew::prelude::*;

use super::chat::{ChatLine, ChatPanel};
use super::confirm::ConfirmDialog;
use super::controls::Controls;
use super::grid::{reaction_name, TileData, VideoGrid};
use super::icons::{Icon, IconKind};
use super::notices::{ConnectionBanner, Notices};
use super::participants::{Participant, ParticipantList};
use super::UserAction;
use crate::core::Intent;
use crate::io::js;
use crate::state::{Announcement, AppState, Capture, Connection, LinkState, Panel, PeerView};

/// Properties of [`RoomView`].
#[derive(Properties, PartialEq)]
pub struct RoomViewProps {
    /// Everything to render.
    pub state: UseReducerHandle<AppState>,
    /// What the person did (removing someone and ending the room only once confirmed).
    pub on_action: Callback<UserAction>,
}

/// An action waiting for the person's confirmation.
#[derive(Clone, PartialEq)]
enum Pending {
    /// Remove this participant.
    Remove(PeerId, String),
    /// End the room for everyone.
    EndRoom,
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
        LinkState::NoPath(NoPathCause::NoRelay) => Some(
            "No connection: a direct connection is not possible on this network and no relay \
             is configured (the server's operator can set up TURN)."
                .into(),
        ),
        LinkState::NoPath(NoPathCause::RelayUnreachable) => Some(
            "No connection: a direct connection is not possible on this network and the relay \
             server cannot be reached."
                .into(),
        ),
    }
}

fn tiles(state: &AppState) -> Vec<TileData> {
    let local = &state.local;
    let mut tiles = Vec::new();
    // A viewer sends nothing, so there is nothing of its own to show.
    if !state.is_viewer() {
        tiles.push(TileData {
            key: "self".into(),
            name: format!("{} (you)", state.name),
            label: format!("Your video ({})", state.name),
            stream: local.camera.clone(),
            is_self: true,
            is_screen: false,
            audio: local.media.audio,
            video: local.media.video,
            status: None,
            role: state.role,
            peer: None,
            speaking: false,
            hand: state
                .self_id
                .as_ref()
                .and_then(|me| state.hand_position(me)),
            reaction: state.self_id.as_ref().and_then(|me| state.reaction_of(me)),
        });
    }
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
            role: Role::Participant,
            peer: None,
            speaking: false,
            hand: None,
            reaction: None,
        });
    }
    for peer in &state.peers {
        let speaking = state.speaker.as_ref() == Some(&peer.id);
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
            role: peer.role,
            peer: Some(peer.id.to_string()),
            speaking,
            hand: state.hand_position(&peer.id),
            reaction: state.reaction_of(&peer.id),
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
                role: Role::Participant,
                peer: Some(peer.id.to_string()),
                speaking: false,
                hand: None,
                reaction: None,
            });
        }
    }
    tiles
}

fn participants(state: &AppState) -> Vec<Participant> {
    let me = Participant {
        key: "self".into(),
        id: None,
        name: format!("{} (you)", state.name),
        audio: state.local.media.audio,
        video: state.local.media.video,
        screen: state.local.media.screen,
        role: state.role,
        status: None,
        hand: state
            .self_id
            .as_ref()
            .and_then(|me| state.hand_position(me)),
    };
    std::iter::once(me)
        .chain(state.peers.iter().map(|p| Participant {
            key: p.id.to_string(),
            id: Some(p.id.clone()),
            name: p.name.clone(),
            audio: p.media.audio,
            video: p.media.video,
            screen: p.media.screen,
            role: p.role,
            status: peer_status(p),
            hand: state.hand_position(&p.id),
        }))
        .collect()
}

/// Who can see the media: said where everyone looks, because it changes as people come and go.
fn privacy(mode: MediaMode) -> Html {
    let (class, text, title) = match mode {
        MediaMode::Mesh => (
            "media-mode p2p",
            "Peer-to-peer · end-to-end encrypted",
            "Audio and video go directly between the participants' browsers; the server never sees them.",
        ),
        MediaMode::Sfu => (
            "media-mode sfu",
            "Through the server",
            "With this many people, audio and video go through this treff server, which forwards \
             them. Encrypted on the way, but the server can see and hear them.",
        ),
    };
    html! { <span class={class} role="status" {title}>{text}</span> }
}

/// The room page.
#[component]
pub fn RoomView(props: &RoomViewProps) -> Html {
    let state: &AppState = &props.state;
    let pending = use_state(|| None::<Pending>);
    let on_action = props.on_action.clone();
    let call = |intent: Intent| on_action.reform(move |()| UserAction::Call(intent.clone()));
    let on_copy = {
        let cb = on_action.clone();
        Callback::from(move |_| cb.emit(UserAction::CopyLink))
    };
    let moderator = state.is_moderator();
    let on_lock = {
        let (cb, locked) = (on_action.clone(), state.locked);
        Callback::from(move |_| cb.emit(UserAction::Call(Intent::Lock(!locked))))
    };
    if state.waiting {
        return html! {
            <div class="room">
                <header class="topbar">
                    <div class="room-title">
                        <span class="brand small">{"treff"}</span>
                        <h1 class="room-name">{state.room.clone()}</h1>
                    </div>
                </header>
                <main class="waiting-room">
                    <p class="waiting-note" role="status">{"Waiting for a moderator to let you in"}</p>
                    <p class="waiting-hint">{"Nobody in the room sees or hears you until then."}</p>
                    <button type="button" class="secondary" onclick={call(Intent::Leave).reform(|_| ())}>{"Leave"}</button>
                </main>
            </div>
        };
    }
    let on_record_policy = {
        let (cb, everyone) = (on_action.clone(), state.everyone_may_record);
        Callback::from(move |_| cb.emit(UserAction::Call(Intent::EveryoneMayRecord(!everyone))))
    };
    let recorders = state.recorder_names();
    let on_waiting_room = {
        let (cb, on) = (on_action.clone(), state.waiting_room);
        Callback::from(move |_| cb.emit(UserAction::Call(Intent::WaitingRoom(!on))))
    };
    let lobby = (moderator && !state.lobby.is_empty()).then(|| {
        html! {
            <section class="lobby" aria-label="Waiting to join">
                <h2 class="lobby-title">{format!("Waiting to join ({})", state.lobby.len())}</h2>
                <ul class="lobby-list">
                    { for state.lobby.iter().map(|w| {
                        let name = w.name.to_string();
                        let admit = call(Intent::Admit(w.peer_id.clone())).reform(|_| ());
                        let deny = call(Intent::Deny(w.peer_id.clone())).reform(|_| ());
                        html! {
                            <li key={w.peer_id.to_string()} class="lobby-person">
                                <span class="lobby-name">{name.clone()}</span>
                                <button type="button" class="primary small" onclick={admit}>{format!("Admit {name}")}</button>
                                <button type="button" class="secondary small danger-text" onclick={deny}>{format!("Deny {name}")}</button>
                            </li>
                        }
                    }) }
                </ul>
            </section>
        }
    });
    let on_remove = {
        let pending = pending.clone();
        Callback::from(move |(id, name)| pending.set(Some(Pending::Remove(id, name))))
    };
    let on_end_room = {
        let pending = pending.clone();
        Callback::from(move |()| pending.set(Some(Pending::EndRoom)))
    };
    let confirm = (*pending).clone().and_then(|action| {
        let on_cancel = {
            let pending = pending.clone();
            Callback::from(move |()| pending.set(None))
        };
        let (title, text, label, on_confirm) = match action {
            // The person may have left meanwhile, or we are no longer allowed: nothing to ask.
            Pending::Remove(..) | Pending::EndRoom if !moderator => return None,
            Pending::Remove(id, _) if !state.peers.iter().any(|p| p.id == id) => return None,
            Pending::Remove(id, name) => {
                let (cb, pending) = (on_action.clone(), pending.clone());
                (
                    format!("Remove {name} from the room?"),
                    format!("{name} leaves the call at once."),
                    "Remove",
                    Callback::from(move |()| {
                        pending.set(None);
                        cb.emit(UserAction::Call(Intent::Remove(id.clone())));
                    }),
                )
            }
            Pending::EndRoom => {
                let (cb, pending) = (call(Intent::EndRoom), pending.clone());
                (
                    "End the room for everyone?".to_owned(),
                    "Everyone, you included, leaves the call at once.".to_owned(),
                    "End for all",
                    Callback::from(move |()| {
                        pending.set(None);
                        cb.emit(());
                    }),
                )
            }
        };
        Some(html! {
            <ConfirmDialog title={title} text={text} confirm_label={label}
                {on_confirm} {on_cancel} />
        })
    });
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
                <ChatPanel {lines} {connected}
                    on_send={on_action.reform(|text| UserAction::Call(Intent::SendChat(text)))} />
            </aside>
        },
        Panel::People => html! {
            <aside class="side">
                <ParticipantList people={participants(state)} can_moderate={moderator}
                    on_ask_to_mute={on_action.reform(|peer| UserAction::Call(Intent::AskToMute(peer)))}
                    on_lower_hand={on_action.reform(|peer| UserAction::Call(Intent::LowerHand(peer)))}
                    {on_remove} />
            </aside>
        },
    };
    let waiting = state.peers.is_empty() && connected;
    let announcement = state.announcement.as_ref().map(|a| match a {
        Announcement::HandRaised(name) if name == "You" => "You raised your hand.".to_owned(),
        Announcement::HandRaised(name) => format!("{name} raised a hand."),
        Announcement::Reacted(name, reaction) => {
            format!(
                "{name} reacted: {}.",
                reaction_name(*reaction).to_lowercase()
            )
        }
    });
    html! {
        <div class="room">
            <header class="topbar">
                <div class="room-title">
                    <span class="brand small">{"treff"}</span>
                    <h1 class="room-name">{state.room.clone()}</h1>
                    if state.locked {
                        <span class="room-locked" title="Nobody new can join">
                            <Icon kind={IconKind::Lock} />{"Locked"}
                        </span>
                    }
                    { privacy(state.mode) }
                    if !recorders.is_empty() {
                        <span class="recording-indicator" role="status">
                            <span class="recording-dot" aria-hidden="true"></span>
                            {format!("Recording: {}", recorders.join(", "))}
                        </span>
                    }
                </div>
                <div class="topbar-actions">
                    if moderator {
                        <button type="button"
                            class={classes!("secondary", "lock-toggle", state.locked.then_some("active"))}
                            aria-pressed={if state.locked { "true" } else { "false" }}
                            title={if state.locked { "Unlock: others can join again" } else { "Lock: nobody new can join" }}
                            onclick={on_lock}>
                            <Icon kind={if state.locked { IconKind::Lock } else { IconKind::Unlock }} />
                            <span class="lock-label">{"Lock room"}</span>
                        </button>
                    }
                    if moderator {
                        <button type="button"
                            class={classes!("secondary", "lock-toggle", state.waiting_room.then_some("active"))}
                            aria-pressed={if state.waiting_room { "true" } else { "false" }}
                            title={if state.waiting_room { "Newcomers wait until a moderator lets them in" } else { "Newcomers join at once" }}
                            onclick={on_waiting_room}>
                            <span class="lock-label">{"Waiting room"}</span>
                        </button>
                    }
                    if moderator {
                        <button type="button"
                            class={classes!("secondary", "lock-toggle", state.everyone_may_record.then_some("active"))}
                            aria-pressed={if state.everyone_may_record { "true" } else { "false" }}
                            title={if state.everyone_may_record { "Everyone may record the call" } else { "Only moderators may record the call" }}
                            onclick={on_record_policy}>
                            <span class="lock-label">{"Everyone may record"}</span>
                        </button>
                    }
                    <button type="button" class="secondary" onclick={on_copy}>{"Copy link"}</button>
                </div>
            </header>
            <ConnectionBanner connection={state.connection.clone()} />
            <div class="sr-only" aria-live="polite" data-testid="announcements">{announcement}</div>
            if let Some(lobby) = lobby {
                {lobby}
            }
            <Notices notices={state.notices.clone()}
                on_dismiss={on_action.reform(UserAction::Dismiss)}
                on_action={on_action.reform(|(id, action)| UserAction::NoticeAction(id, action))} />
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
                on_action={on_action.clone()}
                viewer={state.is_viewer()}
                hand={state.hand_raised()}
                recording={state.recording}
                may_record={state.may_record()}
                {moderator}
                {on_end_room}
            />
            // One child whether or not a dialog is open, so the siblings keep their elements (and
            // the focus).
            if let Some(confirm) = confirm {
                {confirm}
            }
        </div>
    }
}
