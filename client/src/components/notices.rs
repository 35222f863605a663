//! Notices (camera denied, link copied, errors from the server) and the connection banner.

use yew::prelude::*;

use crate::i18n::use_strings;
use crate::io::js;
use crate::state::{Connection, NoticeAction, NoticeEntry, NoticeKind};

/// Properties of [`Notices`].
#[derive(Properties, PartialEq)]
pub struct NoticesProps {
    /// What to show.
    pub notices: Vec<NoticeEntry>,
    /// A notice was dismissed.
    pub on_dismiss: Callback<u32>,
    /// The button of a notice was pressed (notice id, what it offers).
    #[prop_or_default]
    pub on_action: Callback<(u32, NoticeAction)>,
}

/// The stack of dismissible notices.
#[component]
pub fn Notices(props: &NoticesProps) -> Html {
    let s = use_strings();
    html! {
        <div class="notices">
            { for props.notices.iter().map(|n| {
                let (class, role) = match n.notice.kind() {
                    NoticeKind::Info => ("notice info", "status"),
                    NoticeKind::Warning => ("notice warning", "alert"),
                    NoticeKind::Error => ("notice error", "alert"),
                };
                let id = n.id;
                let on_dismiss = props.on_dismiss.clone();
                let action = n.notice.action().map(|action| {
                    let on_action = props.on_action.clone();
                    html! {
                        <button type="button" class="secondary notice-action"
                            onclick={Callback::from(move |_| on_action.emit((id, action)))}>
                            {action.label(s)}
                        </button>
                    }
                });
                html! {
                    <div key={n.id} {class} {role}>
                        <span class="notice-text">{n.notice.text(s)}</span>
                        if let Some(action) = action {
                            {action}
                        }
                        <button type="button" class="dismiss" aria-label={s.notices.dismiss}
                            onclick={Callback::from(move |_| on_dismiss.emit(id))}>{"×"}</button>
                    </div>
                }
            }) }
        </div>
    }
}

/// Properties of [`ConnectionBanner`].
#[derive(Properties, PartialEq)]
pub struct ConnectionBannerProps {
    /// The signaling state.
    pub connection: Connection,
}

/// Says when the server cannot be reached and when the next try is; nothing while connected.
#[component]
pub fn ConnectionBanner(props: &ConnectionBannerProps) -> Html {
    let s = use_strings();
    let c = &s.connection;
    // Re-render every second while a countdown is shown.
    let tick = use_state(|| 0u32);
    {
        let tick = tick.clone();
        let counting = matches!(props.connection, Connection::Retrying { .. });
        use_effect_with(counting, move |counting| {
            let interval = counting.then(|| {
                gloo_timers::callback::Interval::new(1000, move || tick.set(js::now_ms() as u32))
            });
            move || drop(interval)
        });
    }
    let text = match &props.connection {
        Connection::Idle | Connection::Connected => return html! {},
        Connection::Connecting { attempt: 0 } => c.connecting.to_owned(),
        Connection::Connecting { attempt } => (c.reconnecting)(*attempt),
        Connection::Retrying {
            attempt,
            at_ms,
            reason,
        } => {
            let seconds = ((*at_ms as f64 - js::now_ms()) / 1000.0).ceil().max(0.0) as u64;
            (c.retrying)(&reason.text(s), seconds, *attempt)
        }
    };
    html! { <div class="banner" role="status">{text}</div> }
}
