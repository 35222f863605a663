//! The responsive video grid: one tile per camera, one per shared screen.

use treff_shared::{Reaction, Role};
use yew::prelude::*;

use super::icons::{Icon, IconKind};
use super::video::Video;
use crate::core::quality::{Level, Quality};
use crate::i18n::{use_strings, Strings};
use crate::state::StreamHandle;

/// Everything one tile shows.
#[derive(Clone, PartialEq)]
pub struct TileData {
    /// Stable key (peer id, plus a suffix for screens).
    pub key: String,
    /// The participant's display name.
    pub name: String,
    /// The `<video>`'s accessible name.
    pub label: String,
    /// What to play.
    pub stream: Option<StreamHandle>,
    /// Our own camera: mirrored and muted.
    pub is_self: bool,
    /// A shared screen rather than a camera.
    pub is_screen: bool,
    /// Microphone on.
    pub audio: bool,
    /// Camera on (a screen tile is always "on").
    pub video: bool,
    /// A connection state worth telling ("Reconnecting…"), if any.
    pub status: Option<String>,
    /// The participant's role (moderators and viewers get a badge by the name).
    pub role: Role,
    /// The other participant's id; `None` for our own tiles.
    pub peer: Option<String>,
    /// They are speaking (from the audio levels in the mesh, as the media server says
    /// otherwise): the tile is highlighted.
    pub speaking: bool,
    /// Their place in the queue of raised hands (1: first), if their hand is raised.
    pub hand: Option<usize>,
    /// The reaction on show on the tile, if any.
    pub reaction: Option<Reaction>,
    /// How good the connection to them is (other people's cameras only), once measured.
    pub quality: Option<Quality>,
}

/// Properties of [`QualityIndicator`].
#[derive(Properties, PartialEq)]
struct QualityProps {
    /// Whose connection.
    name: String,
    /// The tile's key, for the details' id.
    id: String,
    quality: Quality,
}

/// Signal bars (one, two or three lit) whose button opens the figures behind them.
#[component]
fn QualityIndicator(props: &QualityProps) -> Html {
    let s = use_strings();
    let t = &s.tile;
    let open = use_state(|| false);
    let q = &props.quality;
    let (class, lit) = match q.level {
        Level::Good => ("quality-good", 3),
        Level::Fair => ("quality-fair", 2),
        Level::Poor => ("quality-poor", 1),
    };
    let toggle = {
        let open = open.clone();
        Callback::from(move |_| open.set(!*open))
    };
    let details = format!("quality-{}", props.id);
    let name = (t.quality)(&props.name, q.level);
    let unknown = || t.unknown.to_string();
    html! {
        <div class="tile-quality">
            <button type="button" class={classes!("quality", class)} aria-label={name.clone()}
                title={name} aria-expanded={if *open { "true" } else { "false" }}
                aria-controls={details.clone()} onclick={toggle}>
                <span class="bars" aria-hidden="true">
                    { for (1..=3).map(|i| html! { <span class={classes!("bar", (i <= lit).then_some("lit"))}></span> }) }
                </span>
            </button>
            if *open {
                <dl id={details} class="quality-details" aria-label={t.quality_details}>
                    <dt>{t.resolution}</dt>
                    <dd>{q.size.map_or_else(unknown, |(w, h)| format!("{w} × {h}"))}</dd>
                    <dt>{t.frame_rate_label}</dt>
                    <dd>{q.fps.map_or_else(unknown, t.frame_rate)}</dd>
                    <dt>{t.bit_rate_label}</dt>
                    <dd>{(t.bit_rate)(q.kbps)}</dd>
                    <dt>{t.loss_label}</dt>
                    <dd>{(t.loss)(q.loss_percent)}</dd>
                    <dt>{t.round_trip}</dt>
                    <dd>{q.rtt_ms.map_or_else(unknown, |ms| format!("{ms:.0} ms"))}</dd>
                    <dt>{t.path}</dt>
                    <dd>{match q.relayed {
                        Some(true) => t.path_relayed.to_string(),
                        Some(false) => t.path_direct.to_string(),
                        None => unknown(),
                    }}</dd>
                </dl>
            }
        </div>
    }
}

/// The raised-hand mark: an image whose accessible name says whose hand it is and its place.
pub fn hand_badge(s: &Strings, name: &str, position: usize) -> Html {
    html! {
        <span class="hand-badge" role="img" aria-label={(s.tile.hand)(name, position)}
            title={(s.tile.hand_title)(position)}>
            <span aria-hidden="true">{format!("✋ {position}")}</span>
        </span>
    }
}

/// A badge saying what someone may do: "Moderator", "Viewer", or nothing for participants.
pub fn role_badge(s: &Strings, role: Role) -> Html {
    let text = match role {
        Role::Moderator => s.tile.moderator,
        Role::Viewer => s.tile.viewer,
        Role::Participant => return html! {},
    };
    html! { <span class="role-badge">{text}</span> }
}

/// Properties of [`VideoGrid`].
#[derive(Properties, PartialEq)]
pub struct VideoGridProps {
    /// The tiles, own tile first.
    pub tiles: Vec<TileData>,
}

/// The grid; the column count follows the number of tiles.
#[component]
pub fn VideoGrid(props: &VideoGridProps) -> Html {
    let s = use_strings();
    let count = props.tiles.len().max(1);
    let class = classes!("grid", format!("grid-{}", count.min(9)));
    html! {
        <section {class} aria-label={s.room.grid_label}>
            { for props.tiles.iter().map(|tile| html! { <Tile key={tile.key.clone()} tile={tile.clone()} /> }) }
        </section>
    }
}

/// Properties of [`Tile`].
#[derive(Properties, PartialEq)]
pub struct TileProps {
    /// What to show.
    pub tile: TileData,
}

/// One participant's video with name, microphone and connection state.
#[component]
pub fn Tile(props: &TileProps) -> Html {
    let s = use_strings();
    let t = &s.tile;
    let tile = &props.tile;
    let initial = tile
        .name
        .chars()
        .next()
        .map(|c| c.to_uppercase().collect::<String>())
        .unwrap_or_default();
    let show_video = tile.video && tile.stream.is_some();
    let class = classes!(
        "tile",
        tile.is_self.then_some("tile-self"),
        tile.is_screen.then_some("tile-screen"),
        tile.status.is_some().then_some("tile-degraded"),
        tile.speaking.then_some("tile-speaking")
    );
    html! {
        <figure {class}>
            <Video stream={tile.stream.clone()} label={tile.label.clone()}
                peer={tile.peer.clone().map(AttrValue::from)}
                kind={Some(AttrValue::from(if tile.is_screen { "screen" } else { "camera" }))}
                muted={tile.is_self || tile.is_screen} mirrored={tile.is_self && !tile.is_screen}
                hidden={!show_video} />
            if !show_video {
                <div class="placeholder" aria-hidden="true"><span class="avatar">{initial}</span></div>
            }
            if let Some(position) = tile.hand.filter(|_| !tile.is_screen) {
                <div class="tile-hand">{ hand_badge(s, &tile.name, position) }</div>
            }
            if let Some(reaction) = tile.reaction.filter(|_| !tile.is_screen) {
                // Announced by the room's live region; here it is only seen.
                <div class="tile-reaction" aria-hidden="true" key={reaction.as_str()}>{reaction.emoji()}</div>
            }
            if let Some(status) = &tile.status {
                <div class="tile-status" role="status">{status.clone()}</div>
            }
            if let Some(quality) = tile.quality.clone().filter(|_| !tile.is_self && !tile.is_screen) {
                <QualityIndicator name={tile.name.clone()} id={tile.key.clone()} {quality} />
            }
            <figcaption class="tile-caption">
                if !tile.is_screen {
                    <span class={classes!("state", (!tile.audio).then_some("state-off"))}
                        title={if tile.audio { t.microphone_on_title } else { t.microphone_off_title }}>
                        <Icon kind={if tile.audio { IconKind::Mic } else { IconKind::MicOff }} />
                        <span class="sr-only">{if tile.audio { t.microphone_on } else { t.microphone_off }}</span>
                    </span>
                    if !tile.video {
                        <span class="state state-off" title={t.camera_off_title}>
                            <Icon kind={IconKind::CameraOff} />
                            <span class="sr-only">{t.camera_off}</span>
                        </span>
                    }
                }
                <span class="tile-name">{tile.name.clone()}</span>
                if tile.speaking {
                    <span class="sr-only">{t.speaking}</span>
                }
                if !tile.is_screen {
                    { role_badge(s, tile.role) }
                }
            </figcaption>
        </figure>
    }
}
