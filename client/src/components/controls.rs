//! The control bar: microphone, camera, screen share, device pickers, raise hand, reactions,
//! leave, and for moderators "End for all". A viewer gets no capture controls, only a note that
//! it is watching (it may still raise its hand and react).

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use treff_shared::Reaction;

use super::icons::{Icon, IconKind};
use super::UserAction;
use crate::core::{AudioProcessing, Intent};
use crate::i18n::{use_strings, ControlStrings};
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
    (none_found, numbered): (&'static str, fn(usize) -> String),
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
                    <option value="">{none_found}</option>
                }
                { for devices.iter().enumerate().map(|(i, d)| html! {
                    <option value={d.id.clone()} selected={selected.as_deref() == Some(d.id.as_str())}>
                        if d.label.is_empty() { {numbered(i + 1)} } else { {d.label.clone()} }
                    </option>
                }) }
            </select>
        </div>
    }
}

/// The microphone's processing: three checkboxes behind a disclosure, each reopening the
/// microphone with the new constraints.
fn processing(
    c: &ControlStrings,
    current: AudioProcessing,
    has_audio: bool,
    on_action: &Callback<UserAction>,
) -> Html {
    let option =
        |id: &'static str, label: &'static str, on: bool, set: fn(&mut AudioProcessing, bool)| {
            let on_action = on_action.clone();
            let onchange = Callback::from(move |e: Event| {
                let mut next = current;
                set(
                    &mut next,
                    e.target_unchecked_into::<HtmlInputElement>().checked(),
                );
                on_action.emit(UserAction::Call(Intent::AudioProcessing(next)));
            });
            html! {
                <label class="processing-option" for={id}>
                    <input type="checkbox" {id} checked={on} disabled={!has_audio} {onchange} />
                    {label}
                </label>
            }
        };
    html! {
        <details class="processing">
            <summary>{c.processing}</summary>
            <fieldset class="processing-options">
                <legend class="sr-only">{c.processing}</legend>
                { option("processing-echo", c.echo_cancellation, current.echo_cancellation, |p, on| p.echo_cancellation = on) }
                { option("processing-noise", c.noise_suppression, current.noise_suppression, |p, on| p.noise_suppression = on) }
                { option("processing-gain", c.auto_gain, current.auto_gain, |p, on| p.auto_gain = on) }
            </fieldset>
        </details>
    }
}

/// The control bar.
#[component]
pub fn Controls(props: &ControlsProps) -> Html {
    let s = use_strings();
    let c = &s.controls;
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
        n => (c.unread)(n),
    };
    html! {
        <nav class="controls" aria-label={c.label}>
            if props.viewer {
                <p class="watching">{c.watching}</p>
            } else {
                // Always in the page: beside the buttons on wide screens, behind "Devices" on narrow ones.
                <div class={classes!("device-pickers", settings_open.then_some("open"))} id="device-pickers">
                    { picker("pick-camera", c.camera_source, (c.none_found, c.camera_numbered), &props.devices.cameras, &props.devices.camera, on_action, Intent::SelectCamera) }
                    { picker("pick-mic", c.microphone_source, (c.none_found, c.microphone_numbered), &props.devices.microphones, &props.devices.microphone, on_action, Intent::SelectMicrophone) }
                    { processing(c, props.devices.processing, props.has_audio, on_action) }
                </div>
            }
            <div class="control-row">
                if !props.viewer {
                    <button type="button" class={classes!("ctl", (!props.audio).then_some("ctl-off"))}
                        aria-pressed={pressed(props.audio)} disabled={!props.has_audio}
                        onclick={call(Intent::Microphone(!props.audio))}
                        title={if props.audio { c.microphone_off } else { c.microphone_on }}>
                        <Icon kind={if props.audio { IconKind::Mic } else { IconKind::MicOff }} />
                        <span class="ctl-label">{c.microphone}</span>
                    </button>
                    <button type="button" class={classes!("ctl", (!props.video).then_some("ctl-off"))}
                        aria-pressed={pressed(props.video)} disabled={!props.has_video}
                        onclick={call(Intent::Camera(!props.video))}
                        title={if props.video { c.camera_off } else { c.camera_on }}>
                        <Icon kind={if props.video { IconKind::Camera } else { IconKind::CameraOff }} />
                        <span class="ctl-label">{c.camera}</span>
                    </button>
                    <button type="button" class={classes!("ctl", props.screen.then_some("ctl-active"))}
                        aria-pressed={pressed(props.screen)} onclick={call(Intent::ToggleScreen)}>
                        <Icon kind={IconKind::Screen} />
                        <span class="ctl-label">{c.share_screen}</span>
                    </button>
                    <button type="button" class="ctl ctl-devices" aria-expanded={pressed(*settings_open)}
                        aria-controls="device-pickers" onclick={on_settings}>
                        <Icon kind={IconKind::Sliders} />
                        <span class="ctl-label">{c.devices}</span>
                    </button>
                }
                <button type="button" class={classes!("ctl", props.hand.then_some("ctl-active"))}
                    aria-pressed={pressed(props.hand)} onclick={call(Intent::RaiseHand(!props.hand))}
                    title={if props.hand { c.lower_hand_title } else { c.raise_hand_title }}>
                    <span class="ctl-emoji" aria-hidden="true">{"✋"}</span>
                    <span class="ctl-label">{c.raise_hand}</span>
                </button>
                <button type="button" class={classes!("ctl", props.recording.then_some("ctl-recording"))}
                    aria-pressed={pressed(props.recording)}
                    aria-disabled={(!props.may_record && !props.recording).then_some("true")}
                    onclick={call(Intent::Record(!props.recording))}
                    title={if props.recording { c.stop_recording_title }
                        else if props.may_record { c.record_title }
                        else { c.record_forbidden_title }}>
                    <span class="ctl-emoji" aria-hidden="true">{"⏺"}</span>
                    <span class="ctl-label">{c.record}</span>
                </button>
                <div class="reactions">
                    <button type="button" class={classes!("ctl", reactions_open.then_some("ctl-active"))}
                        aria-expanded={pressed(*reactions_open)} aria-controls="reaction-picker"
                        onclick={on_reactions}>
                        <span class="ctl-emoji" aria-hidden="true">{"🙂"}</span>
                        <span class="ctl-label">{c.reactions}</span>
                    </button>
                    <div id="reaction-picker" class="reaction-picker" role="group" aria-label={c.send_reaction}
                        hidden={!*reactions_open}>
                        { for Reaction::ALL.iter().map(|&r| html! {
                            <button type="button" class="reaction" aria-label={(s.tile.reaction)(r)}
                                title={(s.tile.reaction)(r)} onclick={react(r)}>{r.emoji()}</button>
                        }) }
                    </div>
                </div>
                <button type="button" class={classes!("ctl", (props.panel == Panel::Chat).then_some("ctl-active"))}
                    aria-expanded={pressed(props.panel == Panel::Chat)} onclick={panel(Panel::Chat)}
                    aria-describedby="chat-unread">
                    <Icon kind={IconKind::Chat} />
                    <span class="ctl-label">{c.chat}</span>
                    if props.unread > 0 {
                        <span class="badge" aria-hidden="true">{props.unread}</span>
                    }
                    <span id="chat-unread" class="sr-only">{unread_text}</span>
                </button>
                <button type="button" class={classes!("ctl", (props.panel == Panel::People).then_some("ctl-active"))}
                    aria-expanded={pressed(props.panel == Panel::People)} onclick={panel(Panel::People)}
                    aria-describedby="people-count">
                    <Icon kind={IconKind::People} />
                    <span class="ctl-label">{c.people}</span>
                    <span class="count" aria-hidden="true">{props.people}</span>
                    <span id="people-count" class="sr-only">{(c.in_call)(props.people)}</span>
                </button>
                <button type="button" class="ctl ctl-leave" onclick={call(Intent::Leave)}>
                    <Icon kind={IconKind::Leave} />
                    <span class="ctl-label">{s.room.leave}</span>
                </button>
                if props.moderator {
                    <button type="button" class="ctl ctl-end" onclick={on_end_room}
                        aria-haspopup="dialog">
                        <Icon kind={IconKind::End} />
                        <span class="ctl-label">{s.room.end_for_all}</span>
                    </button>
                }
            </div>
            <div class="controls-spacer"></div>
        </nav>
    }
}
