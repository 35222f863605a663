//! The participant list: everyone in the room with their microphone, camera and connection state.

use yew::prelude::*;

/// One row.
#[derive(Clone, PartialEq)]
pub struct Participant {
    /// List key.
    pub key: String,
    /// Display name (with "(you)" for us).
    pub name: String,
    /// Microphone on.
    pub audio: bool,
    /// Camera on.
    pub video: bool,
    /// Sharing the screen.
    pub screen: bool,
    /// "Reconnecting…" and the like.
    pub status: Option<String>,
}

/// Properties of [`ParticipantList`].
#[derive(Properties, PartialEq)]
pub struct ParticipantListProps {
    /// Everyone, us first.
    pub people: Vec<Participant>,
}

/// The participant list panel.
#[component]
pub fn ParticipantList(props: &ParticipantListProps) -> Html {
    html! {
        <section class="panel people" aria-label="Participants">
            <h2 class="panel-title">{format!("People ({})", props.people.len())}</h2>
            <ul class="people-list">
                { for props.people.iter().map(|p| {
                    let mut states = vec![
                        if p.audio { "microphone on" } else { "microphone off" },
                        if p.video { "camera on" } else { "camera off" },
                    ];
                    if p.screen {
                        states.push("sharing screen");
                    }
                    html! {
                        <li key={p.key.clone()} class="person">
                            <span class="person-name">{p.name.clone()}</span>
                            <span class="person-state">{states.join(" · ")}</span>
                            if let Some(status) = &p.status {
                                <span class="person-status">{status.clone()}</span>
                            }
                        </li>
                    }
                }) }
            </ul>
        </section>
    }
}
