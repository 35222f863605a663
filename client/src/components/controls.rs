//! The control bar: microphone, camera, screen share, device pickers, raise hand, reactions,
//! leave, and for moderators "End for all". A viewer gets no capture controls, only a note that
//! it is watching (it may still raise its hand and react).

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use treff_shared::Reaction;

use super::grid::reaction_name;
use super::icons::{Icon, IconKind};
use super::UserAction;
use crate::core::Intent;
use crate::state::{Device, Devices, Panel};

/// Properties of [`Controls`].
#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    /// Microphone sending.
    pub audio: bool,
    /// Camera sending.
    pub video: bool,
    /// Screen sending.
    pub screen: bool,
    /// Whether there is a microphone at all.
    pub has_audio: bool,
    /// Whether there is a camera at all.
    pub has_video: bool,
    /// Device lists and selection.
    pub devices: Devices,
    /// The open side panel.
    pub panel: Panel,
    /// Unread chat messages.
    pub unread: usize,
    /// Number of participants including us.
    pub people: usize,
    /// What the person pressed or picked.
    pub on_action: Callback<UserAction>,
    /// We only watch: no microphone, camera, screen or device controls.
    #[prop_or_default]
    pub viewer: bool,
    /// We are a moderator: offer "End for all".
    #[prop_or_default]
    pub moderator: bool,
    /// "End for all" pressed (the caller confirms before ending).
    #[prop_or_default]
    pub on_end_room: Callback<()>,
    /// Our hand is raised.
    #[prop_or_default]
    pub hand: bool,
    /// Our recorder runs.
    #[prop_or_default]
    pub recording: bool,
    /// We may record (the room lets everyone, or we are a moderator).
    #[prop_or_default]
    pub may_record: bool,
}

/// Emits `action` on a click.
fn emit(on_action: &Callback<UserAction>, action: UserAction) -> Callback<MouseEvent> {
    let on_action = on_action.clone();
    Callback::from(move |_| on_action.emit(action.clone()))
}

fn picker(
    id: &'static str,
    label: &'static str,
    devices: &[Device],
    selected: &Option<String>,
    on_action: &Callback<UserAction>,
    intent: fn(String) -> Intent,
) -> Html {
    let onchange = {
        let on_action = on_action.clone();
        Callback::from(move |e: Event| {
            let id = e.target_unchecked_into::<HtmlSelectElement>().value();
            on_action.emit(UserAction::Call(intent(id)));
        })
    };
    html! {
        <div class="picker">
            <label for={id}>{label}</label>
            <select {id} {onchange} disabled={devices.is_empty()}>
                if devices.is_empty() {
                    <option value="">{"None found"}</option>
                }
                { for devices.iter().map(|d| html! {
                    <option value={d.id.clone()} selected={selected.as_deref() == Some(d.id.as_str())}>
                        {d.label.clone()}
                    </option>
                }) }
            </select>
        </div>
    }
}

/// The control bar.
#[component]
pub fn Controls(props: &ControlsProps) -> Html {
    let settings_open = use_state(|| false);
    let reactions_open = use_state(|| false);
    let on_reactions = {
        let open = reactions_open.clone();
        Callback::from(move |_| open.set(!*open))
    };
    let react = |reaction: Reaction| {
        let (cb, open) = (props.on_action.clone(), reactions_open.clone());
        Callback::from(move |_| {
            open.set(false);
            cb.emit(UserAction::Call(Intent::React(reaction)));
        })
    };
    let on_action = &props.on_action;
    let call = |intent: Intent| emit(on_action, UserAction::Call(intent));
    let on_end_room = {
        let cb = props.on_end_room.clone();
        Callback::from(move |_| cb.emit(()))
    };
    let panel = |which: Panel| emit(on_action, UserAction::Panel(which));
    let on_settings = {
        let open = settings_open.clone();
        Callback::from(move |_| open.set(!*open))
    };
    let pressed = |b: bool| if b { "true" } else { "false" };
    let unread_text = match props.unread {
        0 => String::new(),
        1 => "1 unread message".to_owned(),
        n => format!("{n} unread messages"),
    };
    html! {
        <nav class="controls" aria-label="Call controls">
            if props.viewer {
                <p class="watching">{"You are watching: the others cannot see or hear you."}</p>
            } else {
                // Always in the page: beside the buttons on wide screens, behind "Devices" on narrow ones.
                <div class={classes!("device-pickers", settings_open.then_some("open"))} id="device-pickers">
                    { picker("pick-camera", "Camera source", &props.devices.cameras, &props.devices.camera, on_action, Intent::SelectCamera) }
                    { picker("pick-mic", "Microphone source", &props.devices.microphones, &props.devices.microphone, on_action, Intent::SelectMicrophone) }
                </div>
            }
            <div class="control-row">
                if !props.viewer {
                    <button type="button" class={classes!("ctl", (!props.audio).then_some("ctl-off"))}
                        aria-pressed={pressed(props.audio)} disabled={!props.has_audio}
                        onclick={call(Intent::Microphone(!props.audio))}
                        title={if props.audio { "Turn microphone off" } else { "Turn microphone on" }}>
                        <Icon kind={if props.audio { IconKind::Mic } else { IconKind::MicOff }} />
                        <span class="ctl-label">{"Microphone"}</span>
                    </button>
                    <button type="button" class={classes!("ctl", (!props.video).then_some("ctl-off"))}
                        aria-pressed={pressed(props.video)} disabled={!props.has_video}
                        onclick={call(Intent::Camera(!props.video))}
                        title={if props.video { "Turn camera off" } else { "Turn camera on" }}>
                        <Icon kind={if props.video { IconKind::Camera } else { IconKind::CameraOff }} />
                        <span class="ctl-label">{"Camera"}</span>
                    </button>
                    <button type="button" class={classes!("ctl", props.screen.then_some("ctl-active"))}
                        aria-pressed={pressed(props.screen)} onclick={call(Intent::ToggleScreen)}>
                        <Icon kind={IconKind::Screen} />
                        <span class="ctl-label">{"Share screen"}</span>
                    </button>
                    <button type="button" class="ctl ctl-devices" aria-expanded={pressed(*settings_open)}
                        aria-controls="device-pickers" onclick={on_settings}>
                        <Icon kind={IconKind::Sliders} />
                        <span class="ctl-label">{"Devices"}</span>
                    </button>
                }
                <button type="button" class={classes!("ctl", props.hand.then_some("ctl-active"))}
                    aria-pressed={pressed(props.hand)} onclick={call(Intent::RaiseHand(!props.hand))}
                    title={if props.hand { "Lower your hand" } else { "Raise your hand to speak" }}>
                    <span class="ctl-emoji" aria-hidden="true">{"✋"}</span>
                    <span class="ctl-label">{"Raise hand"}</span>
                </button>
                <button type="button" class={classes!("ctl", props.recording.then_some("ctl-recording"))}
                    aria-pressed={pressed(props.recording)}
                    aria-disabled={(!props.may_record && !props.recording).then_some("true")}
                    onclick={call(Intent::Record(!props.recording))}
                    title={if props.recording { "Stop recording and save the file" }
                        else if props.may_record { "Record the call in this browser (everyone is told)" }
                        else { "Only moderators may record in this room" }}>
                    <span class="ctl-emoji" aria-hidden="true">{"⏺"}</span>
                    <span class="ctl-label">{"Record"}</span>
                </button>
                <div class="reactions">
                    <button type="button" class={classes!("ctl", reactions_open.then_some("ctl-active"))}
                        aria-expanded={pressed(*reactions_open)} aria-controls="reaction-picker"
                        onclick={on_reactions}>
                        <span class="ctl-emoji" aria-hidden="true">{"🙂"}</span>
                        <span class="ctl-label">{"Reactions"}</span>
                    </button>
                    <div id="reaction-picker" class="reaction-picker" role="group" aria-label="Send a reaction"
                        hidden={!*reactions_open}>
                        { for Reaction::ALL.iter().map(|&r| html! {
                            <button type="button" class="reaction" aria-label={reaction_name(r)}
                                title={reaction_name(r)} onclick={react(r)}>{r.emoji()}</button>
                        }) }
                    </div>
                </div>
                <button type="button" class={classes!("ctl", (props.panel == Panel::Chat).then_some("ctl-active"))}
                    aria-expanded={pressed(props.panel == Panel::Chat)} onclick={panel(Panel::Chat)}
                    aria-describedby="chat-unread">
                    <Icon kind={IconKind::Chat} />
                    <span class="ctl-label">{"Chat"}</span>
                    if props.unread > 0 {
                        <span class="badge" aria-hidden="true">{props.unread}</span>
                    }
                    <span id="chat-unread" class="sr-only">{unread_text}</span>
                </button>
                <button type="button" class={classes!("ctl", (props.panel == Panel::People).then_some("ctl-active"))}
                    aria-expanded={pressed(props.panel == Panel::People)} onclick={panel(Panel::People)}
                    aria-describedby="people-count">
                    <Icon kind={IconKind::People} />
                    <span class="ctl-label">{"People"}</span>
                    <span class="count" aria-hidden="true">{props.people}</span>
                    <span id="people-count" class="sr-only">{format!("{} in the call", props.people)}</span>
                </button>
                <button type="button" class="ctl ctl-leave" onclick={call(Intent::Leave)}>
                    <Icon kind={IconKind::Leave} />
                    <span class="ctl-label">{"Leave"}</span>
                </button>
                if props.moderator {
                    <button type="button" class="ctl ctl-end" onclick={on_end_room}
                        aria-haspopup="dialog">
                        <Icon kind={IconKind::End} />
                        <span class="ctl-label">{"End for all"}</span>
                    </button>
                }
            </div>
            <div class="controls-spacer"></div>
        </nav>
    }
}
