//! The participant list: everyone in the room with their microphone, camera and connection state,
//! and raised hand, and for moderators the buttons to ask someone to mute, to lower a hand and to
//! remove someone.

use treff_shared::{PeerId, Role};
use yew::prelude::*;

use super::grid::{hand_badge, role_badge};
use crate::i18n::use_strings;

/// One row.
#[derive(Clone, PartialEq)]
pub struct Participant {
    /// List key.
    pub key: String,
    /// The other participant's id; `None` for us.
    pub id: Option<PeerId>,
    /// Display name (with "(you)" for us).
    pub name: String,
    /// Microphone on.
    pub audio: bool,
    /// Camera on.
    pub video: bool,
    /// Sharing the screen.
    pub screen: bool,
    /// What they may do in the room.
    pub role: Role,
    /// "Reconnecting…" and the like.
    pub status: Option<String>,
    /// Their place in the queue of raised hands, if raised.
    pub hand: Option<usize>,
    /// They are speaking now.
    pub speaking: bool,
}

/// Properties of [`ParticipantList`].
#[derive(Properties, PartialEq)]
pub struct ParticipantListProps {
    /// Everyone, us first.
    pub people: Vec<Participant>,
    /// We are a moderator: show the moderator buttons for the others.
    #[prop_or_default]
    pub can_moderate: bool,
    /// "Ask <name> to mute" pressed.
    #[prop_or_default]
    pub on_ask_to_mute: Callback<PeerId>,
    /// "Remove <name>" pressed (the id and the name, for the confirmation).
    #[prop_or_default]
    pub on_remove: Callback<(PeerId, String)>,
    /// "Lower <name>'s hand" pressed.
    #[prop_or_default]
    pub on_lower_hand: Callback<PeerId>,
}

/// The participant list panel.
#[component]
pub fn ParticipantList(props: &ParticipantListProps) -> Html {
    let s = use_strings();
    let (t, tile) = (&s.people, &s.tile);
    let mut queue: Vec<&Participant> = props.people.iter().filter(|p| p.hand.is_some()).collect();
    queue.sort_by_key(|p| p.hand);
    html! {
        <section class="panel people" aria-label={t.label}>
            <h2 class="panel-title">{(t.title)(props.people.len())}</h2>
            if !queue.is_empty() {
                <h3 class="hands-title" id="hands-title">{t.raised_hands}</h3>
                <ol class="hands-queue" aria-labelledby="hands-title">
                    { for queue.iter().map(|p| html! { <li key={p.key.clone()}>{p.name.clone()}</li> }) }
                </ol>
            }
            <ul class="people-list">
                { for props.people.iter().map(|p| {
                    let mut states = vec![
                        if p.audio { tile.microphone_on } else { tile.microphone_off },
                        if p.video { tile.camera_on } else { tile.camera_off },
                    ];
                    if p.screen {
                        states.push(tile.sharing_screen);
                    }
                    if p.speaking {
                        states.push(t.speaking);
                    }
                    let actions = p.id.clone().filter(|_| props.can_moderate).map(|id| {
                        let ask = {
                            let (cb, id) = (props.on_ask_to_mute.clone(), id.clone());
                            Callback::from(move |_| cb.emit(id.clone()))
                        };
                        let lower = {
                            let (cb, id) = (props.on_lower_hand.clone(), id.clone());
                            Callback::from(move |_| cb.emit(id.clone()))
                        };
                        let remove = {
                            let (cb, name) = (props.on_remove.clone(), p.name.clone());
                            Callback::from(move |_| cb.emit((id.clone(), name.clone())))
                        };
                        html! {
                            <div class="person-actions">
                                <button type="button" class="secondary small" onclick={ask}
                                    disabled={!p.audio}
                                    title={(!p.audio).then_some(t.already_muted)}>
                                    {(t.ask_to_mute)(&p.name)}
                                </button>
                                if p.hand.is_some() {
                                    <button type="button" class="secondary small" onclick={lower}>
                                        {(t.lower_hand)(&p.name)}
                                    </button>
                                }
                                <button type="button" class="secondary small danger-text" onclick={remove}>
                                    {(t.remove)(&p.name)}
                                </button>
                            </div>
                        }
                    });
                    html! {
                        <li key={p.key.clone()} class="person">
                            <span class="person-name">
                                {p.name.clone()}
                                { role_badge(s, p.role) }
                                if let Some(position) = p.hand {
                                    { hand_badge(s, &p.name, position) }
                                }
                            </span>
                            <span class="person-state">{states.join(" · ")}</span>
                            if let Some(status) = &p.status {
                                <span class="person-status">{status.clone()}</span>
                            }
                            if let Some(actions) = actions {
                                {actions}
                            }
                        </li>
                    }
                }) }
            </ul>
        </section>
    }
}
