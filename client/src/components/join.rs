//! The join page: room, display name and room password, with the reasons a join was refused,
//! and the language switch.

use treff_shared::{limits, DisplayName, InvalidId, RoomName};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::language::LanguageSwitch;
use crate::i18n::{use_strings, Lang, Strings};

/// What is wrong with the form before anything is sent: kept as a kind, not a sentence, so
/// that it is said in the language of the moment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Problem {
    /// The room name breaks the rules.
    Room,
    /// The display name breaks the rules.
    Name,
    /// The room password has this many bytes, too many.
    PasswordTooLong(usize),
}

impl Problem {
    fn from_invalid(err: &InvalidId) -> Problem {
        match err {
            InvalidId::Room => Problem::Room,
            // A peer id is never typed here; a name is the nearest thing.
            InvalidId::Name | InvalidId::Peer => Problem::Name,
        }
    }

    fn text(self, s: &Strings) -> String {
        match self {
            Problem::Room => (s.join.invalid_room)(RoomName::MAX_CHARS),
            Problem::Name => (s.join.invalid_name)(DisplayName::MAX_CHARS),
            Problem::PasswordTooLong(bytes) => {
                (s.join.password_too_long)(limits::MAX_PASSWORD_BYTES, bytes)
            }
        }
    }
}

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
    /// Why the last join was refused, in the page's language.
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
    /// The person picked another language.
    pub on_lang: Callback<Lang>,
}

/// The join form.
#[component]
pub fn JoinScreen(props: &JoinScreenProps) -> Html {
    let s = use_strings();
    let t = &s.join;
    let room = use_state(|| props.room.to_string());
    let name = use_state(|| props.name.to_string());
    let password = use_state(String::new);
    let problem = use_state(|| None::<Problem>);
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
                problem.set(Some(Problem::PasswordTooLong(too_long.0)));
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
                (Err(err), _) | (_, Err(err)) => problem.set(Some(Problem::from_invalid(&err))),
            }
        })
    };
    let message = (*problem)
        .map(|p| p.text(s))
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
                <p class="tagline">{t.tagline}</p>
                <label for="join-room">{t.room}</label>
                <input id="join-room" type="text" autocomplete="off" spellcheck="false"
                    placeholder={t.room_placeholder} value={(*room).clone()} oninput={on_room}
                    maxlength={limits::MAX_ROOM_CHARS.to_string()} required=true />
                <label for="join-name">{t.name}</label>
                <input id="join-name" type="text" autocomplete="nickname"
                    placeholder={t.name_placeholder} value={(*name).clone()} oninput={on_name}
                    maxlength={limits::MAX_NAME_CHARS.to_string()} required=true readonly={props.name_fixed}
                    aria-describedby={props.name_fixed.then_some("join-name-hint")} />
                if props.name_fixed {
                    <p id="join-name-hint" class="field-hint">{t.name_fixed}</p>
                }
                <label for="join-password">{t.password}</label>
                <input id="join-password" type="password" autocomplete="off"
                    ref={password_field} value={(*password).clone()} oninput={on_password}
                    aria-describedby={password_described}
                    aria-invalid={password_refused.then_some("true")} />
                <p id="join-password-hint" class="field-hint">{t.password_hint}</p>
                if let Some(message) = message {
                    <p id="join-error" class="form-error" role="alert">{message}</p>
                }
                <button type="submit" class="primary">{t.join}</button>
                <p class="hint">
                    if props.viewer {
                        {t.viewer_hint}
                    } else {
                        {t.media_hint}
                    }
                </p>
                <LanguageSwitch id="join-language" on_change={props.on_lang.clone()} />
            </form>
        </main>
    }
}
