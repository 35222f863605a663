//! Inline SVG icons, so that buttons look the same whatever fonts the device has.

use yew::prelude::*;

/// Which icon.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IconKind {
    /// Microphone.
    Mic,
    /// Microphone, struck through.
    MicOff,
    /// Video camera.
    Camera,
    /// Video camera, struck through.
    CameraOff,
    /// Monitor.
    Screen,
    /// Sliders (device settings).
    Sliders,
    /// Speech bubble.
    Chat,
    /// Two people.
    People,
    /// Door with an arrow out.
    Leave,
    /// Closed padlock.
    Lock,
    /// Open padlock.
    Unlock,
    /// Power symbol (end the room).
    End,
}

/// Properties of [`Icon`].
#[derive(Properties, PartialEq)]
pub struct IconProps {
    /// Which icon.
    pub kind: IconKind,
}

/// A decorative 24×24 stroke icon (hidden from assistive technology; the button says it).
#[component]
pub fn Icon(props: &IconProps) -> Html {
    let strike = html! { <line x1="3" y1="3" x2="21" y2="21" /> };
    let shapes = match props.kind {
        IconKind::Mic | IconKind::MicOff => html! {
            <>
                <rect x="9" y="2" width="6" height="12" rx="3" />
                <path d="M5 10v1a7 7 0 0 0 14 0v-1" />
                <line x1="12" y1="18" x2="12" y2="22" />
                if props.kind == IconKind::MicOff { {strike} }
            </>
        },
        IconKind::Camera | IconKind::CameraOff => html! {
            <>
                <rect x="2" y="6" width="14" height="12" rx="2" />
                <path d="M16 10l6-3v10l-6-3z" />
                if props.kind == IconKind::CameraOff { {strike} }
            </>
        },
        IconKind::Screen => html! {
            <>
                <rect x="2" y="3" width="20" height="14" rx="2" />
                <line x1="8" y1="21" x2="16" y2="21" />
                <line x1="12" y1="17" x2="12" y2="21" />
            </>
        },
        IconKind::Sliders => html! {
            <>
                <line x1="4" y1="6" x2="20" y2="6" />
                <line x1="4" y1="12" x2="20" y2="12" />
                <line x1="4" y1="18" x2="20" y2="18" />
                <circle cx="9" cy="6" r="2" class="fill" />
                <circle cx="15" cy="12" r="2" class="fill" />
                <circle cx="7" cy="18" r="2" class="fill" />
            </>
        },
        IconKind::Chat => html! {
            <path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z" />
        },
        IconKind::People => html! {
            <>
                <circle cx="9" cy="8" r="4" />
                <path d="M1 21v-2a4 4 0 0 1 4-4h8a4 4 0 0 1 4 4v2" />
                <path d="M17 4.1a4 4 0 0 1 0 7.8" />
                <path d="M23 21v-2a4 4 0 0 0-3-3.9" />
            </>
        },
        IconKind::Leave => html! {
            <>
                <path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4" />
                <path d="M16 17l5-5-5-5" />
                <line x1="21" y1="12" x2="9" y2="12" />
            </>
        },
        IconKind::End => html! {
            <>
                <path d="M18.4 6.6a9 9 0 1 1-12.8 0" />
                <line x1="12" y1="2" x2="12" y2="12" />
            </>
        },
        IconKind::Lock | IconKind::Unlock => html! {
            <>
                <rect x="4" y="11" width="16" height="10" rx="2" />
                if props.kind == IconKind::Lock {
                    <path d="M8 11V7a4 4 0 0 1 8 0v4" />
                } else {
                    <path d="M8 11V7a4 4 0 0 1 7.75-1.4" />
                }
            </>
        },
    };
    html! {
        <svg class="icon" viewBox="0 0 24 24" width="22" height="22" fill="none"
            stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"
            aria-hidden="true" focusable="false">
            {shapes}
        </svg>
    }
}
