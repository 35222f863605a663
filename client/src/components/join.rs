//! The join page: room, display name and room password, with the reasons a join was refused.

use treff_shared::{limits, DisplayName, RoomName};
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// What the person filled in. Deliberately without `Debug`: it holds the password.
#[derive(Clone, PartialEq)]
pub struct JoinForm {
    /// The room.
    pub room: RoomName,
    /// The display name.
    pub name: DisplayName,
    /// The room password, if one was typed.
    pub password: Option<String>,
}

/// Properties of [`JoinScreen`].
#[derive(Properties, PartialEq)]
pub struct JoinScreenProps {
    /// Prefilled room (from `/room/<name>`, the invitation, or the last call).
    pub room: AttrValue,
    /// Prefilled name (from the invitation, or remembered in `localStorage`).
    pub name: AttrValue,
    /// Why the last join was refused, in the server's words.
    pub error: Option<AttrValue>,
    /// The refusal was about the room password: the cursor goes to its field.
    #[prop_or_default]
    pub password_refused: bool,
    /// The invitation sets the name others see, so it cannot be changed here.
    #[prop_or_default]
    pub name_fixed: bool,
    /// The invitation is a viewer's: no camera or microphone will be asked for.
    #[prop_or_default]
    pub viewer: bool,
    /// The person asked to join with a valid room and name.
    pub on_join: Callback<JoinForm>,
}

/// The join form.
#[component]
pub fn JoinScreen(props: &JoinScreenProps) -> Html {
    let room = use_state(|| props.room.to_string());
    let name = use_state(|| props.name.to_string());
    let password = use_state(String::new);
    let problem = use_state(|| None::<String>);
    let password_field = use_node_ref();

    {
        // After "password required" or "not right" the person's next step is that field.
        let field = password_field.clone();
        use_effect_with(
            (props.password_refused, props.error.clone()),
            move |(refused, _)| {
                if *refused {
                    if let Some(input) = field.cast::<HtmlInputElement>() {
                        let _ = input.focus();
                    }
                }
            },
        );
    }

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
    let on_password = {
        let password = password.clone();
        Callback::from(move |e: InputEvent| {
            password.set(e.target_unchecked_into::<HtmlInputElement>().value());
        })
    };
    let on_submit = {
        let (room, name, password, problem) = (
            room.clone(),
            name.clone(),
            password.clone(),
            problem.clone(),
        );
        let on_join = props.on_join.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Err(too_long) = limits::check_password(&password) {
                problem.set(Some(too_long.to_string()));
                return;
            }
            match (RoomName::new(&room), DisplayName::new(&name)) {
                (Ok(room), Ok(name)) => {
                    problem.set(None);
                    let password = (!password.is_empty()).then(|| (*password).clone());
                    on_join.emit(JoinForm {
                        room,
                        name,
                        password,
                    });
                }
                (Err(err), _) | (_, Err(err)) => problem.set(Some(err.to_string())),
            }
        })
    };
    let message = (*problem)
        .clone()
        .or_else(|| props.error.as_ref().map(|e| e.to_string()));
    let password_refused = props.password_refused && problem.is_none();
    let password_described = if password_refused {
        "join-error join-password-hint"
    } else {
        "join-password-hint"
    };

    html! {
        <main class="join">
            <form class="join-card" onsubmit={on_submit} novalidate=true>
                <h1 class="brand">{"treff"}</h1>
                <p class="tagline">{"Video calls in your browser. No account, no install."}</p>
                <label for="join-room">{"Room"}</label>
                <input id="join-room" type="text" autocomplete="off" spellcheck="false"
                    placeholder="e.g. team-standup" value={(*room).clone()} oninput={on_room}
                    maxlength={limits::MAX_ROOM_CHARS.to_string()} required=true />
                <label for="join-name">{"Your name"}</label>
                <input id="join-name" type="text" autocomplete="nickname"
                    placeholder="How others see you" value={(*name).clone()} oninput={on_name}
                    maxlength={limits::MAX_NAME_CHARS.to_string()} required=true readonly={props.name_fixed}
                    aria-describedby={props.name_fixed.then_some("join-name-hint")} />
                if props.name_fixed {
                    <p id="join-name-hint" class="field-hint">{"Your invitation sets the name the others see."}</p>
                }
                <label for="join-password">{"Room password"}</label>
                <input id="join-password" type="password" autocomplete="off"
                    ref={password_field} value={(*password).clone()} oninput={on_password}
                    aria-describedby={password_described}
                    aria-invalid={password_refused.then_some("true")} />
                <p id="join-password-hint" class="field-hint">
                    {"Optional. Set one when you create a room; needed to join a room that has one."}
                </p>
                if let Some(message) = message {
                    <p id="join-error" class="form-error" role="alert">{message}</p>
                }
                <button type="submit" class="primary">{"Join"}</button>
                <p class="hint">
                    if props.viewer {
                        {"You join as a viewer: you see and hear the others, and your camera and microphone stay off."}
                    } else {
                        {"Your camera and microphone are asked for when you join."}
                    }
                </p>
            </form>
        </main>
    }
}
