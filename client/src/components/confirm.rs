//! A modal confirmation for actions that cannot be undone (removing someone, ending the room).
//!
//! It is the browser's own `<dialog>` opened with `showModal()`: the rest of the page is inert
//! while it is open, focus starts on "Cancel" (the harmless choice), Tab stays inside and Escape
//! cancels.

use web_sys::HtmlDialogElement;
use yew::prelude::*;

use crate::i18n::use_strings;

/// Properties of [`ConfirmDialog`].
#[derive(Properties, PartialEq)]
pub struct ConfirmDialogProps {
    /// The question, e.g. "Remove Bob from the room?".
    pub title: AttrValue,
    /// What will happen.
    pub text: AttrValue,
    /// The label of the button that does it.
    pub confirm_label: AttrValue,
    /// The person confirmed.
    pub on_confirm: Callback<()>,
    /// The person cancelled (button or Escape).
    pub on_cancel: Callback<()>,
}

/// The dialog; shown as long as it is rendered.
#[component]
pub fn ConfirmDialog(props: &ConfirmDialogProps) -> Html {
    let s = use_strings();
    let node = use_node_ref();
    {
        let node = node.clone();
        use_effect_with((), move |()| {
            if let Some(dialog) = node.cast::<HtmlDialogElement>() {
                let _ = dialog.show_modal();
            }
            move || {
                if let Some(dialog) = node.cast::<HtmlDialogElement>() {
                    dialog.close();
                }
            }
        });
    }
    // Closing before reporting lets the browser put focus back where it was.
    let close_then = |cb: &Callback<()>| {
        let (node, cb) = (node.clone(), cb.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(dialog) = node.cast::<HtmlDialogElement>() {
                dialog.close();
            }
            cb.emit(());
        })
    };
    let on_cancel = close_then(&props.on_cancel);
    let on_confirm = close_then(&props.on_confirm);
    let on_escape = {
        let (node, cb) = (node.clone(), props.on_cancel.clone());
        Callback::from(move |e: Event| {
            // Closed here rather than by the browser: the re-render that removes the dialog
            // would otherwise come first, and focus would fall back to the page's start.
            e.prevent_default();
            if let Some(dialog) = node.cast::<HtmlDialogElement>() {
                dialog.close();
            }
            cb.emit(());
        })
    };
    html! {
        <dialog ref={node} class="confirm" aria-labelledby="confirm-title"
            aria-describedby="confirm-text" oncancel={on_escape}>
            <h2 id="confirm-title" class="confirm-title">{props.title.clone()}</h2>
            <p id="confirm-text">{props.text.clone()}</p>
            <div class="confirm-actions">
                <button type="button" class="secondary" autofocus=true
                    onclick={on_cancel}>{s.room.cancel}</button>
                <button type="button" class="danger" onclick={on_confirm}>
                    {props.confirm_label.clone()}
                </button>
            </div>
        </dialog>
    }
}
