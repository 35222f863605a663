//! The chat panel: history with names and times, own messages marked, a message field that sends
//! on Enter. Text is rendered as text nodes, never as HTML.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::i18n::use_strings;

/// One line as the panel shows it.
#[derive(Clone, PartialEq)]
pub struct ChatLine {
    /// The message id (list key).
    pub id: u64,
    /// Sender's name.
    pub name: String,
    /// The time it was sent, as the page's locale writes it (e.g. `14:05`, `2:05 PM`).
    pub time: String,
    /// The same time for machines (`<time datetime>`), ISO 8601.
    pub datetime: String,
    /// The text.
    pub text: String,
    /// Sent by us.
    pub own: bool,
}

/// Properties of [`ChatPanel`].
#[derive(Properties, PartialEq)]
pub struct ChatPanelProps {
    /// The messages, oldest first.
    pub lines: Vec<ChatLine>,
    /// Whether sending is possible right now.
    pub connected: bool,
    /// A message to send; the callback answers whether it was sent.
    pub on_send: Callback<String>,
}

/// The chat panel.
#[component]
pub fn ChatPanel(props: &ChatPanelProps) -> Html {
    let s = use_strings();
    let t = &s.chat;
    let draft = use_state(String::new);
    let list = use_node_ref();
    {
        // Keep the newest message in view.
        let list = list.clone();
        use_effect_with(props.lines.len(), move |_| {
            if let Some(element) = list.cast::<web_sys::Element>() {
                element.set_scroll_top(element.scroll_height());
            }
        });
    }
    let on_input = {
        let draft = draft.clone();
        Callback::from(move |e: InputEvent| {
            draft.set(e.target_unchecked_into::<HtmlInputElement>().value());
        })
    };
    let on_submit = {
        let draft = draft.clone();
        let on_send = props.on_send.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let text = draft.trim().to_owned();
            if !text.is_empty() {
                on_send.emit(text);
                draft.set(String::new());
            }
        })
    };
    html! {
        <section class="panel chat" aria-label={t.title}>
            <h2 class="panel-title">{t.title}</h2>
            <ol class="messages" ref={list} aria-live="polite">
                if props.lines.is_empty() {
                    <li class="empty">{t.empty}</li>
                }
                { for props.lines.iter().map(|line| html! {
                    <li key={line.id} class={classes!("message", line.own.then_some("own"))}>
                        <div class="meta">
                            <span class="sender">{if line.own { (s.room.you_named)(&line.name) } else { line.name.clone() }}</span>
                            <time datetime={line.datetime.clone()}>{line.time.clone()}</time>
                        </div>
                        <p class="text">{line.text.clone()}</p>
                    </li>
                }) }
            </ol>
            <form class="composer" onsubmit={on_submit}>
                <label for="chat-message" class="sr-only">{t.message}</label>
                <input id="chat-message" type="text" placeholder={t.placeholder} autocomplete="off"
                    maxlength={treff_shared::MAX_CHAT_CHARS.to_string()} value={(*draft).clone()} oninput={on_input} />
                <button type="submit" class="primary" disabled={!props.connected}>{t.send}</button>
            </form>
        </section>
    }
}
