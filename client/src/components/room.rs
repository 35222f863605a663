//! The room page: header with the room name, the lock state and "Copy link", the video grid, the
//! side panel (chat or participants) and the control bar. Moderators also get "Lock room" and
//! "Waiting room" here, the people waiting with "Admit" and "Deny", and the confirmation before
//! removing someone or ending the room. Someone in the waiting room sees only that they wait.
//! The header also has the language switch.

use treff_shared::{MediaMode, NoPathCause, PeerId, PeerStatus, Role};
use yew::prelude::*;

use super::chat::{ChatLine, ChatPanel};
use super::confirm::ConfirmDialog;
use super::controls::Controls;
use super::grid::{TileData, VideoGrid};
use super::icons::{Icon, IconKind};
use super::language::LanguageSwitch;
use super::notices::{ConnectionBanner, Notices};
use super::participants::{Participant, ParticipantList};
use super::UserAction;
use crate::core::Intent;
use crate::i18n::{self, use_lang, use_strings, Lang, Strings};
use crate::io::js;
use crate::state::{AppState, Capture, Connection, LinkState, Panel, PeerView};

/// Properties of [`RoomView`].
#[derive(Properties, PartialEq)]
pub struct RoomViewProps {
    /// Everything to render.
    pub state: UseReducerHandle<AppState>,
    /// What the person did (removing someone and ending the room only once confirmed).
    pub on_action: Callback<UserAction>,
    /// The person picked another language.
    pub on_lang: Callback<Lang>,
}

/// An action waiting for the person's confirmation.
#[derive(Clone, PartialEq)]
enum Pending {
    /// Remove this participant.
    Remove(PeerId, String),
    /// End the room for everyone.
    EndRoom,
}

fn peer_status(s: &Strings, peer: &PeerView) -> Option<String> {
    let r = &s.room;
    if peer.status == PeerStatus::Reconnecting {
        return Some(r.peer_reconnecting.into());
    }
    let text = match peer.link {
        LinkState::Connected => return None,
        LinkState::Connecting => r.link_connecting,
        LinkState::Disconnected => r.link_interrupted,
        LinkState::Failed => r.link_failed,
        LinkState::NoPath(NoPathCause::NoRelay) => r.no_path_no_relay,
        LinkState::NoPath(NoPathCause::RelayUnreachable) => r.no_path_relay_unreachable,
    };
    Some(text.into())
}

fn tiles(s: &Strings, state: &AppState) -> Vec<TileData> {
    let r = &s.room;
    let local = &state.local;
    let mut tiles = Vec::new();
    // A viewer sends nothing, so there is nothing of its own to show.
    if !state.is_viewer() {
        tiles.push(TileData {
            key: "self".into(),
            name: (r.you_named)(&state.name),
            label: (r.own_video)(&state.name),
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
            quality: None,
        });
    }
    if local.screen.is_some() {
        tiles.push(TileData {
            key: "self-screen".into(),
            name: r.own_screen.into(),
            label: (r.own_screen_label)(&state.name),
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
            quality: None,
        });
    }
    for peer in &state.peers {
        let speaking = state.speaker.as_ref() == Some(&peer.id);
        tiles.push(TileData {
            key: peer.id.to_string(),
            name: peer.name.clone(),
            label: (r.video_of)(&peer.name),
            stream: peer.camera.clone(),
            is_self: false,
            is_screen: false,
            audio: peer.media.audio,
            video: peer.media.video,
            status: peer_status(s, peer),
            role: peer.role,
            peer: Some(peer.id.to_string()),
            speaking,
            hand: state.hand_position(&peer.id),
            reaction: state.reaction_of(&peer.id),
            quality: peer.quality.clone(),
        });
        if peer.media.screen && peer.screen.is_some() {
            tiles.push(TileData {
                key: format!("{}-screen", peer.id),
                name: (r.screen_named)(&peer.name),
                label: (r.screen_of)(&peer.name),
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
                quality: None,
            });
        }
    }
    tiles
}

fn participants(s: &Strings, state: &AppState) -> Vec<Participant> {
    let me = Participant {
        key: "self".into(),
        id: None,
        name: (s.room.you_named)(&state.name),
        audio: state.local.media.audio,
        video: state.local.media.video,
        screen: state.local.media.screen,
        role: state.role,
        status: None,
        hand: state
            .self_id
            .as_ref()
            .and_then(|me| state.hand_position(me)),
        speaking: false,
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
            status: peer_status(s, p),
            hand: state.hand_position(&p.id),
            speaking: state.speaker.as_ref() == Some(&p.id),
        }))
        .collect()
}

/// Who can see the media: said where everyone looks, because it changes as people come and go.
fn privacy(s: &Strings, mode: MediaMode) -> Html {
    let r = &s.room;
    let (class, text, title) = match mode {
        MediaMode::Mesh => ("media-mode p2p", r.mesh, r.mesh_title),
        MediaMode::Sfu => ("media-mode sfu", r.sfu, r.sfu_title),
    };
    html! { <span class={class} role="status" {title}>{text}</span> }
}

/// The room page.
#[component]
pub fn RoomView(props: &RoomViewProps) -> Html {
    let s = use_strings();
    let r = &s.room;
    let lang = use_lang();
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
                    <div class="topbar-actions">
                        <LanguageSwitch id="room-language" label_hidden=true on_change={props.on_lang.clone()} />
                    </div>
                </header>
                <main class="waiting-room">
                    <p class="waiting-note" role="status">{r.waiting_note}</p>
                    <p class="waiting-hint">{r.waiting_hint}</p>
                    <button type="button" class="secondary" onclick={call(Intent::Leave).reform(|_| ())}>{r.leave}</button>
                </main>
            </div>
        };
    }
    let on_record_policy = {
        let (cb, everyone) = (on_action.clone(), state.everyone_may_record);
        Callback::from(move |_| cb.emit(UserAction::Call(Intent::EveryoneMayRecord(!everyone))))
    };
    let recorders = state.recorder_names(s);
    let on_waiting_room = {
        let (cb, on) = (on_action.clone(), state.waiting_room);
        Callback::from(move |_| cb.emit(UserAction::Call(Intent::WaitingRoom(!on))))
    };
    let lobby = (moderator && !state.lobby.is_empty()).then(|| {
        html! {
            <section class="lobby" aria-label={r.lobby_label}>
                <h2 class="lobby-title">{(r.lobby_title)(state.lobby.len())}</h2>
                <ul class="lobby-list">
                    { for state.lobby.iter().map(|w| {
                        let name = w.name.to_string();
                        let admit = call(Intent::Admit(w.peer_id.clone())).reform(|_| ());
                        let deny = call(Intent::Deny(w.peer_id.clone())).reform(|_| ());
                        html! {
                            <li key={w.peer_id.to_string()} class="lobby-person">
                                <span class="lobby-name">{name.clone()}</span>
                                <button type="button" class="primary small" onclick={admit}>{(r.admit)(&name)}</button>
                                <button type="button" class="secondary small danger-text" onclick={deny}>{(r.deny)(&name)}</button>
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
                    (r.remove_title)(&name),
                    (r.remove_text)(&name),
                    r.remove,
                    Callback::from(move |()| {
                        pending.set(None);
                        cb.emit(UserAction::Call(Intent::Remove(id.clone())));
                    }),
                )
            }
            Pending::EndRoom => {
                let (cb, pending) = (call(Intent::EndRoom), pending.clone());
                (
                    r.end_title.to_owned(),
                    r.end_text.to_owned(),
                    r.end_for_all,
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
    let locale = i18n::time_locale(lang);
    let lines: Vec<ChatLine> = state
        .chat
        .iter()
        .map(|m| ChatLine {
            id: m.id,
            name: m.name.to_string(),
            time: js::clock_time(m.ts, &locale),
            datetime: js::iso_time(m.ts),
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
                <ParticipantList people={participants(s, state)} can_moderate={moderator}
                    on_ask_to_mute={on_action.reform(|peer| UserAction::Call(Intent::AskToMute(peer)))}
                    on_lower_hand={on_action.reform(|peer| UserAction::Call(Intent::LowerHand(peer)))}
                    {on_remove} />
            </aside>
        },
    };
    let waiting = state.peers.is_empty() && connected;
    let announcement = state.announcement.as_ref().map(|a| a.text(s));
    html! {
        <div class="room">
            <header class="topbar">
                <div class="room-title">
                    <span class="brand small">{"treff"}</span>
                    <h1 class="room-name">{state.room.clone()}</h1>
                    if state.locked {
                        <span class="room-locked" title={r.locked_title}>
                            <Icon kind={IconKind::Lock} />{r.locked}
                        </span>
                    }
                    { privacy(s, state.mode) }
                    if !recorders.is_empty() {
                        <span class="recording-indicator" role="status">
                            <span class="recording-dot" aria-hidden="true"></span>
                            {(r.recording)(&recorders.join(", "))}
                        </span>
                    }
                </div>
                <div class="topbar-actions">
                    if moderator {
                        <button type="button"
                            class={classes!("secondary", "lock-toggle", state.locked.then_some("active"))}
                            aria-pressed={if state.locked { "true" } else { "false" }}
                            title={if state.locked { r.unlock_title } else { r.lock_title }}
                            onclick={on_lock}>
                            <Icon kind={if state.locked { IconKind::Lock } else { IconKind::Unlock }} />
                            <span class="lock-label">{r.lock}</span>
                        </button>
                    }
                    if moderator {
                        <button type="button"
                            class={classes!("secondary", "lock-toggle", state.waiting_room.then_some("active"))}
                            aria-pressed={if state.waiting_room { "true" } else { "false" }}
                            title={if state.waiting_room { r.waiting_room_on_title } else { r.waiting_room_off_title }}
                            onclick={on_waiting_room}>
                            <span class="lock-label">{r.waiting_room}</span>
                        </button>
                    }
                    if moderator {
                        <button type="button"
                            class={classes!("secondary", "lock-toggle", state.everyone_may_record.then_some("active"))}
                            aria-pressed={if state.everyone_may_record { "true" } else { "false" }}
                            title={if state.everyone_may_record { r.everyone_may_record_title } else { r.moderators_record_title }}
                            onclick={on_record_policy}>
                            <span class="lock-label">{r.everyone_may_record}</span>
                        </button>
                    }
                    <button type="button" class="secondary" onclick={on_copy}>{r.copy_link}</button>
                    <LanguageSwitch id="room-language" label_hidden=true on_change={props.on_lang.clone()} />
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
                // Focusable: on a phone the tiles scroll, and a keyboard must be able to scroll them.
                <main class="main" tabindex="0">
                    if waiting {
                        <p class="waiting" role="status">{r.alone}</p>
                    }
                    <VideoGrid tiles={tiles(s, state)} />
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
