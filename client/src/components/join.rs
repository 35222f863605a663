//! The join page: room and display name, with the reasons a join was refused.

use treff_shared::{DisplayName, RoomName};
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Properties of [`JoinScreen`].
#[derive(Properties, PartialEq)]
pub struct JoinScreenProps {
    /// Prefilled room (from `/room/<name>` or the last call).
    pub room: AttrValue,
    /// Prefilled name (remembered in `localStorage`).
    pub name: AttrValue,
    /// Why the last join was refused, in the server's words.
    pub error: Option<AttrValue>,
    /// The person asked to join with a valid room and name.
    pub on_join: Callback<(RoomName, DisplayName)>,
}

/// The join form.
#[component]
pub fn JoinScreen(props: &JoinScreenProps) -> Html {
    let room = use_state(|| props.room.to_string());
    let name = use_state(|| props.name.to_string());
    let problem = use_state(|| None::<String>);

    let on_room = {
        let room = room.clone();
        Callback::from(move |e: InputEvent| {
            room.set(e.target_unchecked_into::<HtmlInputElement>().value());
        })
    };
    let on_name = {
        let name = name.clone();
        Callback::from(move |e: InputEvent| {
            name.set(e.target_unchecked_into::<HtmlInputElement>().value());
        })
    };
    let on_submit = {
        let (room, name, problem) = (room.clone(), name.clone(), problem.clone());
        let on_join = props.on_join.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            match (RoomName::new(&room), DisplayName::new(&name)) {
                (Ok(room), Ok(name)) => {
                    problem.set(None);
                    on_join.emit((room, name));
                }
                (Err(err), _) | (_, Err(err)) => problem.set(Some(err.to_string())),
            }
        })
    };
    let message = (*problem)
        .clone()
        .or_else(|| props.error.as_ref().map(|e| e.to_string()));

    html! {
        <main class="join">
            <form class="join-card" onsubmit={on_submit} novalidate=true>
                <h1 class="brand">{"treff"}</h1>
                <p class="tagline">{"Video calls in your browser. No account, no install."}</p>
                <label for="join-room">{"Room"}</label>
                <input id="join-room" type="text" autocomplete="off" spellcheck="false"
                    placeholder="e.g. team-standup" value={(*room).clone()} oninput={on_room}
                    maxlength="64" required=true />
                <label for="join-name">{"Your name"}</label>
                <input id="join-name" type="text" autocomplete="nickname"
                    placeholder="How others see you" value={(*name).clone()} oninput={on_name}
                    maxlength="40" required=true />
                if let Some(message) = message {
                    <p class="form-error" role="alert">{message}</p>
                }
                <button type="submit" class="primary">{"Join"}</button>
                <p class="hint">{"Your camera and microphone are asked for when you join."}</p>
            </form>
        </main>
    }
}
