//! The root component: owns the [`AppState`] reducer and the running [`Call`], and turns what
//! the person does into calls on it.

use std::cell::RefCell;
use std::rc::Rc;

use treff_shared::Role;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use yew::prelude::*;

use super::join::{JoinForm, JoinScreen};
use super::room::RoomView;
use crate::call::Call;
use crate::route;
use crate::signaling::Credentials;
use crate::state::{Action, AppState, NoticeAction, NoticeKind, Panel, Screen};
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

/// Runs `f` on the current call, if there is one.
fn with_call<T: 'static>(slot: &CallSlot, f: impl Fn(&Call, T) + 'static) -> Callback<T> {
    let slot = slot.clone();
    Callback::from(move |arg: T| {
        let call = slot.borrow().clone();
        if let Some(call) = call {
            f(&call, arg);
        }
    })
}

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

    match state.screen {
        Screen::Join => {
            let claims = invitation.claims.as_ref();
            html! {
                <JoinScreen
                    room={state.room.clone()}
                    name={state.name.clone()}
                    error={state.join_error.clone().map(AttrValue::from)}
                    password_refused={state.password_refused}
                    name_fixed={claims.is_some()}
                    viewer={claims.is_some_and(|c| c.role == Role::Viewer)}
                    {on_join}
                />
            }
        }
        Screen::Room => {
            let dispatcher = state.dispatcher();
            let on_panel = {
                let d = dispatcher.clone();
                Callback::from(move |panel| d.dispatch(Action::TogglePanel(panel)))
            };
            let on_dismiss = {
                let d = dispatcher.clone();
                Callback::from(move |id| d.dispatch(Action::Dismiss(id)))
            };
            let on_notice_action = {
                let call = call.clone();
                let d = dispatcher.clone();
                Callback::from(move |(id, action): (u32, NoticeAction)| {
                    d.dispatch(Action::Dismiss(id));
                    let call = call.borrow().clone();
                    match (action, call) {
                        (NoticeAction::MuteMicrophone, Some(call)) => call.set_microphone(false),
                        (_, None) => {}
                    }
                })
            };
            let on_copy_link = {
                let d = dispatcher.clone();
                let room = state.room.clone();
                Callback::from(move |()| copy_link(&room, d.clone()))
            };
            let on_leave = {
                let call = call.clone();
                let d = dispatcher.clone();
                Callback::from(move |()| match call.borrow_mut().take() {
                    Some(call) => call.leave(),
                    None => d.dispatch(Action::Left),
                })
            };
            html! {
                <RoomView
                    state={state.clone()}
                    on_microphone={with_call(&call, |c, on| c.set_microphone(on))}
                    on_camera={with_call(&call, |c, on| c.set_camera(on))}
                    on_share={with_call(&call, |c, ()| c.toggle_screen())}
                    on_select_camera={with_call(&call, |c, id| c.select_device(true, id))}
                    on_select_microphone={with_call(&call, |c, id| c.select_device(false, id))}
                    on_send={with_call(&call, |c, text| { c.send_chat(text); })}
                    on_lock={with_call(&call, |c, locked| c.set_locked(locked))}
                    on_remove={with_call(&call, |c, peer| c.remove(peer))}
                    on_ask_to_mute={with_call(&call, |c, peer| c.ask_to_mute(peer))}
                    on_end_room={with_call(&call, |c, ()| c.end_room())}
                    {on_panel}
                    {on_leave}
                    {on_dismiss}
                    {on_notice_action}
                    {on_copy_link}
                />
            }
        }
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
            Ok(_) => Action::Notify(NoticeKind::Info, format!("Link copied: {link}")),
            Err(_) => Action::Notify(
                NoticeKind::Warning,
                format!("Copying was not allowed. The link is {link}"),
            ),
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
