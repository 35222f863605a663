//! The root component: owns the [`AppState`] reducer, the running [`Call`] and the page's
//! language, and hands what the person does ([`UserAction`]) to the one or the other. The
//! language reaches every component through a context ([`crate::i18n::use_strings`]); the page's
//! title and `<html lang>` follow it.

use std::cell::RefCell;
use std::rc::Rc;

use treff_shared::Role;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use yew::prelude::*;

use super::join::{JoinForm, JoinScreen};
use super::room::RoomView;
use super::UserAction;
use crate::core::Intent;
use crate::i18n::{self, Lang};
use crate::io::call::Call;
use crate::io::signaling::Credentials;
use crate::route;
use crate::state::{Action, AppState, Notice, NoticeAction, Panel, Screen};
use crate::token::{self, Claims};

/// Chat starts open where there is room for it.
fn initial_panel() -> Panel {
    let wide = web_sys::window()
        .and_then(|w| w.inner_width().ok())
        .and_then(|w| w.as_f64())
        .is_some_and(|w| w >= 1000.0);
    if wide {
        Panel::Chat
    } else {
        Panel::Closed
    }
}

/// The invitation this page was opened with (`?token=...`), read once.
struct Invitation {
    /// Sent with every join.
    token: Option<String>,
    /// What the token says, for the join form (never trusted: the server checks the token).
    claims: Option<Claims>,
}

impl Invitation {
    fn from_address() -> Invitation {
        let token = route::current_token();
        let claims = token.as_deref().and_then(token::peek);
        Invitation { token, claims }
    }
}

type CallSlot = Rc<RefCell<Option<Call>>>;

/// The web app.
#[component]
pub fn App() -> Html {
    let invitation = use_memo((), |()| Invitation::from_address());
    let state = {
        let claims = invitation.claims.clone();
        use_reducer(move || {
            let claims = claims.as_ref();
            AppState::new(
                route::current_room()
                    .or_else(|| claims.and_then(|c| c.specific_room()).map(str::to_owned))
                    .unwrap_or_default(),
                claims
                    .map(|c| c.name.clone())
                    .or_else(route::remembered_name)
                    .unwrap_or_default(),
                initial_panel(),
            )
        })
    };
    let call: CallSlot = use_mut_ref(|| None);
    let lang = use_state(i18n::detect);
    let on_lang = {
        let lang = lang.clone();
        Callback::from(move |picked: Lang| {
            i18n::remember(picked);
            lang.set(picked);
        })
    };
    {
        let page = &lang.strings().page;
        let title = match state.screen {
            Screen::Join => page.title_join.to_owned(),
            Screen::Room if state.waiting => (page.title_waiting)(&state.room),
            Screen::Room => (page.title_room)(&state.room),
        };
        use_effect_with((*lang, title), |(lang, title)| i18n::apply(*lang, title));
    }

    {
        // Closing the tab leaves at once instead of waiting for the server's grace period.
        let call = call.clone();
        use_effect_with((), move |_| {
            let listener = gloo_pagehide(move || {
                if let Some(call) = call.borrow_mut().take() {
                    call.leave();
                }
            });
            move || drop(listener)
        });
    }

    let on_join = {
        let call = call.clone();
        let dispatcher = state.dispatcher();
        let token = invitation.token.clone();
        Callback::from(move |form: JoinForm| {
            let JoinForm {
                room,
                name,
                password,
            } = form;
            let credentials = Credentials {
                password,
                token: token.clone(),
            };
            route::remember_name(name.as_str());
            route::push_room(room.as_str());
            dispatcher.dispatch(Action::Joining {
                room: room.to_string(),
                name: name.to_string(),
            });
            if let Some(old) = call.borrow_mut().take() {
                old.leave();
            }
            let dispatcher = dispatcher.clone();
            let new = Call::join(room, name, credentials, move |action| {
                dispatcher.dispatch(action)
            });
            *call.borrow_mut() = Some(new);
        })
    };

    let page = match state.screen {
        Screen::Join => {
            let claims = invitation.claims.as_ref();
            html! {
                <JoinScreen
                    room={state.room.clone()}
                    name={state.name.clone()}
                    error={state.join_error.as_ref().map(|r| AttrValue::from(r.text(lang.strings())))}
                    password_refused={state.password_refused()}
                    name_fixed={claims.is_some()}
                    viewer={claims.is_some_and(|c| c.role == Role::Viewer)}
                    {on_join}
                    {on_lang}
                />
            }
        }
        Screen::Room => {
            let dispatcher = state.dispatcher();
            let room = state.room.clone();
            let call = call.clone();
            let on_action = Callback::from(move |action: UserAction| {
                let current = call.borrow().clone();
                match action {
                    UserAction::Call(intent) => match current {
                        Some(current) => {
                            if intent == Intent::Leave {
                                call.borrow_mut().take();
                            }
                            current.intent(intent);
                        }
                        None if intent == Intent::Leave => dispatcher.dispatch(Action::Left),
                        None => {}
                    },
                    UserAction::Panel(panel) => dispatcher.dispatch(Action::TogglePanel(panel)),
                    UserAction::Dismiss(id) => dispatcher.dispatch(Action::Dismiss(id)),
                    UserAction::NoticeAction(id, action) => {
                        dispatcher.dispatch(Action::Dismiss(id));
                        match (action, current) {
                            (NoticeAction::MuteMicrophone, Some(current)) => {
                                current.intent(Intent::Microphone(false))
                            }
                            (_, None) => {}
                        }
                    }
                    UserAction::CopyLink => copy_link(&room, dispatcher.clone()),
                }
            });
            html! { <RoomView state={state.clone()} {on_action} {on_lang} /> }
        }
    };
    html! {
        <ContextProvider<Lang> context={*lang}>
            {page}
        </ContextProvider<Lang>>
    }
}

fn copy_link(room: &str, dispatcher: UseReducerDispatcher<AppState>) {
    let link = route::room_link(room);
    let Some(window) = web_sys::window() else {
        return;
    };
    let promise = window.navigator().clipboard().write_text(&link);
    spawn_local(async move {
        let action = match JsFuture::from(promise).await {
            Ok(_) => Action::Notify(Notice::LinkCopied(link)),
            Err(_) => Action::Notify(Notice::LinkNotCopied(link)),
        };
        dispatcher.dispatch(action);
    });
}

/// Listens for `pagehide` until the returned guard is dropped.
fn gloo_pagehide(f: impl Fn() + 'static) -> Option<PageHide> {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let window = web_sys::window()?;
    let closure = Closure::<dyn Fn()>::new(f);
    window
        .add_event_listener_with_callback("pagehide", closure.as_ref().unchecked_ref())
        .ok()?;
    Some(PageHide { window, closure })
}

/// Removes the `pagehide` listener when dropped.
struct PageHide {
    window: web_sys::Window,
    closure: wasm_bindgen::closure::Closure<dyn Fn()>,
}

impl Drop for PageHide {
    fn drop(&mut self) {
        use wasm_bindgen::JsCast;
        let _ = self
            .window
            .remove_event_listener_with_callback("pagehide", self.closure.as_ref().unchecked_ref());
    }
}
