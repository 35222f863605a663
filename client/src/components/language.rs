//! The language switch: a `<select>` of every language, each named in itself, that changes the
//! page's language at once (the root component remembers the choice).

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::i18n::{use_lang, use_strings, Lang};

/// Properties of [`LanguageSwitch`].
#[derive(Properties, PartialEq)]
pub struct LanguageSwitchProps {
    /// The `<select>`'s id (the join page and the room page each have one).
    pub id: AttrValue,
    /// Show the label, or keep it for assistive technology only.
    #[prop_or_default]
    pub label_hidden: bool,
    /// The person picked a language.
    pub on_change: Callback<Lang>,
}

/// The language switch.
#[component]
pub fn LanguageSwitch(props: &LanguageSwitchProps) -> Html {
    let s = use_strings();
    let current = use_lang();
    let onchange = {
        let on_change = props.on_change.clone();
        Callback::from(move |e: Event| {
            let code = e.target_unchecked_into::<HtmlSelectElement>().value();
            if let Some(lang) = Lang::from_tag(&code) {
                on_change.emit(lang);
            }
        })
    };
    html! {
        <div class="picker language">
            <label for={props.id.clone()} class={classes!(props.label_hidden.then_some("sr-only"))}>
                {s.page.language}
            </label>
            <select id={props.id.clone()} {onchange}>
                { for Lang::ALL.iter().map(|&lang| html! {
                    <option value={lang.code()} lang={lang.code()} selected={lang == current}>
                        {lang.own_name()}
                    </option>
                }) }
            </select>
        </div>
    }
}
