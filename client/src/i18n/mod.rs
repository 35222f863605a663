//! The web app's languages, English and German: every text the person sees or hears lives in one
//! typed table per language ([`Strings`], filled in by `en.rs` and `de.rs`), so a text missing in
//! one language does not compile.
//!
//! The language is the one remembered from the switch on the page (`localStorage`), else the
//! first of the browser's languages (`navigator.languages`) that treff speaks, else English
//! ([`detect`]). The root component keeps it in its state and hands it to every component
//! through a context ([`use_strings`], [`use_lang`]); plain rule code such as
//! [`crate::core::notice`] takes the table as an argument. Errors from the server are worded by
//! their code ([`ErrorStrings`]).

mod de;
mod en;
mod strings;

pub use strings::*;

use yew::prelude::*;

/// `localStorage` key of the language picked on the page.
const LANG_KEY: &str = "treff.lang";

/// A language of the web app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// English (also for every language treff does not speak).
    #[default]
    En,
    /// German.
    De,
}

impl Lang {
    /// Every language, in the order the switch offers them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::De];

    /// The language's code (BCP 47), for `<html lang>` and what is remembered.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// The language a tag like `de-AT` or `EN` names, if treff speaks it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        Lang::ALL
            .into_iter()
            .find(|lang| primary.eq_ignore_ascii_case(lang.code()))
    }

    /// The language's name in that language, for the switch ("English", "Deutsch").
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::De => "Deutsch",
        }
    }

    /// Every text in this language.
    pub fn strings(self) -> &'static Strings {
        match self {
            Lang::En => &en::STRINGS,
            Lang::De => &de::STRINGS,
        }
    }
}

/// The language to use: the remembered choice if it is one treff speaks, else the first of the
/// browser's languages that is, else English.
pub fn choose<'a>(remembered: Option<&str>, browser: impl IntoIterator<Item = &'a str>) -> Lang {
    remembered
        .and_then(Lang::from_tag)
        .or_else(|| browser.into_iter().find_map(Lang::from_tag))
        .unwrap_or_default()
}

/// The locale to format times in for `lang`: the first of the browser's languages in `lang`
/// (so `en-GB` keeps its 24-hour clock), else `lang`'s own code. Only well-formed tags are taken:
/// `Intl` throws on a malformed one.
pub fn locale_for<'a>(lang: Lang, browser: impl IntoIterator<Item = &'a str>) -> String {
    browser
        .into_iter()
        .filter(|tag| {
            !tag.is_empty()
                && tag.len() <= 35
                && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .find(|tag| Lang::from_tag(tag) == Some(lang))
        .map_or_else(|| lang.code().to_owned(), str::to_owned)
}

/// The browser's languages, most preferred first.
fn browser_languages() -> Vec<String> {
    let Some(window) = web_sys::window() else {
        return Vec::new();
    };
    let navigator = window.navigator();
    let mut tags: Vec<String> = navigator
        .languages()
        .iter()
        .filter_map(|tag| tag.as_string())
        .collect();
    if tags.is_empty() {
        tags.extend(navigator.language());
    }
    tags
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The language of this page: see [`choose`].
pub fn detect() -> Lang {
    let remembered = storage().and_then(|s| s.get_item(LANG_KEY).ok().flatten());
    let browser = browser_languages();
    choose(remembered.as_deref(), browser.iter().map(String::as_str))
}

/// Remembers the language picked on the page for the next visit.
pub fn remember(lang: Lang) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(LANG_KEY, lang.code());
    }
}

/// The locale chat times are formatted in: see [`locale_for`].
pub fn time_locale(lang: Lang) -> String {
    let browser = browser_languages();
    locale_for(lang, browser.iter().map(String::as_str))
}

/// Puts the language on the document (`<html lang>`, for screen readers, hyphenation and
/// spelling) and sets the page's title.
pub fn apply(lang: Lang, title: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Some(root) = document.document_element() {
        let _ = root.set_attribute("lang", lang.code());
    }
    document.set_title(title);
}

/// The language of the page, from the root component's context (English outside it).
#[hook]
pub fn use_lang() -> Lang {
    use_context::<Lang>().unwrap_or_default()
}

/// Every text in the page's language.
#[hook]
pub fn use_strings() -> &'static Strings {
    use_lang().strings()
}

#[cfg(test)]
mod tests {
    use treff_shared::{limits, DisplayName, ErrorCode, InvalidId, Reaction, RoomName};

    use super::*;
    use crate::core::notice::{LostReason, MediaProblem, Notice, Rejection};

    #[test]
    fn the_remembered_choice_wins_then_the_browsers_first_known_language() {
        assert_eq!(choose(Some("de"), ["en-US"]), Lang::De);
        assert_eq!(choose(Some("en"), ["de-DE", "de"]), Lang::En);
        assert_eq!(choose(None, ["de-DE", "en"]), Lang::De);
        assert_eq!(choose(None, ["fr-FR", "de-AT", "en"]), Lang::De);
        assert_eq!(choose(None, ["fr-FR", "en-GB", "de"]), Lang::En);
        assert_eq!(choose(None, ["DE"]), Lang::De);
        assert_eq!(choose(None, ["fr", "it"]), Lang::En);
        assert_eq!(choose(None, []), Lang::En);
        // Something treff does not speak (an older version's choice, a hand edit) is ignored.
        assert_eq!(choose(Some("fr"), ["de"]), Lang::De);
        assert_eq!(Lang::from_tag("deu"), None);
    }

    #[test]
    fn times_are_formatted_in_the_browsers_variant_of_the_language() {
        assert_eq!(locale_for(Lang::En, ["de-DE", "en-GB"]), "en-GB");
        assert_eq!(locale_for(Lang::De, ["de-AT", "en"]), "de-AT");
        assert_eq!(locale_for(Lang::De, ["en-US"]), "de");
        assert_eq!(locale_for(Lang::En, ["en-US\"x", "en"]), "en");
    }

    #[test]
    fn every_error_code_has_a_sentence_in_every_language() {
        for lang in Lang::ALL {
            let errors = &lang.strings().errors;
            for &code in ErrorCode::ALL {
                let sentence = (errors.by_code)(code);
                assert!(
                    sentence.trim().len() > 10 && sentence.ends_with('.'),
                    "{lang:?} says {sentence:?} for {code}"
                );
            }
        }
        for &code in ErrorCode::ALL {
            assert_ne!(
                (Lang::En.strings().errors.by_code)(code),
                (Lang::De.strings().errors.by_code)(code),
                "{code} is not translated"
            );
        }
    }

    #[test]
    fn english_shows_the_servers_words_and_german_the_sentence_for_the_code() {
        let own = "A display name on this server has at most 10 characters.";
        assert_eq!(
            Lang::En.strings().errors.text(ErrorCode::InvalidName, own),
            own
        );
        assert_eq!(
            Lang::En.strings().errors.text(ErrorCode::Denied, ""),
            "You were not let in to the room."
        );
        let german = Lang::De.strings().errors.text(ErrorCode::InvalidName, own);
        assert!(german.starts_with("Dieser Name"), "{german}");
    }

    #[test]
    fn notices_refusals_and_lost_connections_are_worded_in_the_language() {
        let (en, de) = (Lang::En.strings(), Lang::De.strings());
        let refused = Rejection::Refused {
            code: ErrorCode::WrongPassword,
            message: "The password is not right.".into(),
        };
        assert_eq!(refused.text(en), "The password is not right.");
        assert_eq!(refused.text(de), "Das Passwort stimmt nicht.");
        let server = Notice::Server {
            code: ErrorCode::RateLimited,
            message: "Too many reactions: 4 in a row, then one a second.".into(),
        };
        assert!(server.text(en).starts_with("Too many reactions"));
        assert!(server.text(de).starts_with("Zu viel auf einmal"));
        let denied = Notice::Capture {
            problem: MediaProblem::Denied,
            audio_only: false,
        };
        assert!(denied.text(en).starts_with("Access to the camera"));
        assert!(denied.text(de).starts_with("Der Zugriff auf Kamera"));
        assert!(denied.text(de).ends_with("weder sehen noch hören."));
        assert_eq!(
            LostReason::ClosedWithCode(4002).text(en),
            "the connection closed (code 4002)"
        );
        assert_eq!(
            LostReason::ClosedWithCode(4002).text(de),
            "Die Verbindung wurde geschlossen (Code 4002)"
        );
        assert_eq!(
            Rejection::Ended { by_us: false }.text(de),
            "Die Moderation hat den Raum für alle beendet."
        );
    }

    #[test]
    fn the_languages_differ_where_the_issue_says_how() {
        let (en, de) = (Lang::En.strings(), Lang::De.strings());
        assert_eq!(
            (en.join.room, en.join.name, en.join.join),
            ("Room", "Your name", "Join")
        );
        assert_eq!(
            (de.join.room, de.join.name, de.join.join),
            ("Raum", "Dein Name", "Beitreten")
        );
        assert_eq!(de.controls.raise_hand, "Hand heben");
        assert_eq!((de.room.admit)("Bob"), "Bob einlassen");
        assert_eq!((de.tile.hand)("Bob", 1), "Bob, Hand gehoben (1)");
        assert_ne!(en.page.title_join, de.page.title_join);
        assert_ne!(en.page.language, de.page.language);
        for reaction in Reaction::ALL {
            assert_ne!((en.tile.reaction)(*reaction), (de.tile.reaction)(*reaction));
        }
    }

    #[test]
    fn english_says_what_the_shared_limits_say() {
        let en = Lang::En.strings();
        assert_eq!(
            (en.join.invalid_room)(RoomName::MAX_CHARS),
            InvalidId::Room.to_string()
        );
        assert_eq!(
            (en.join.invalid_name)(DisplayName::MAX_CHARS),
            InvalidId::Name.to_string()
        );
        let long = "a".repeat(limits::MAX_PASSWORD_BYTES + 1);
        let Err(too_long) = limits::check_password(&long) else {
            panic!("too long a password passed");
        };
        assert_eq!(
            (en.join.password_too_long)(limits::MAX_PASSWORD_BYTES, too_long.0),
            too_long.to_string()
        );
    }
}
