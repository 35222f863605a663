//! A `<video>` bound to a `MediaStream`: Yew cannot set `srcObject` declaratively, so an effect
//! does whenever the stream handle changes.

use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlVideoElement;
use yew::prelude::*;

use crate::state::StreamHandle;

/// Properties of [`Video`].
#[derive(Properties, PartialEq)]
pub struct VideoProps {
    /// What to play; `None` shows nothing.
    pub stream: Option<StreamHandle>,
    /// Accessible name; contains the participant's display name.
    pub label: AttrValue,
    /// Muted (our own tile, and tiles without sound).
    #[prop_or_default]
    pub muted: bool,
    /// Mirrored like a mirror (our own camera).
    #[prop_or_default]
    pub mirrored: bool,
    /// Hidden but still playing (camera off: the sound must go on).
    #[prop_or_default]
    pub hidden: bool,
    /// Whose picture it is (`data-peer`), for remote pictures: the call reports the size each
    /// is shown at to the media server.
    #[prop_or_default]
    pub peer: Option<AttrValue>,
    /// `camera` or `screen` (`data-kind`).
    #[prop_or_default]
    pub kind: Option<AttrValue>,
}

/// A live video element.
#[component]
pub fn Video(props: &VideoProps) -> Html {
    let node = use_node_ref();
    {
        let node = node.clone();
        let muted = props.muted;
        use_effect_with(props.stream.clone(), move |stream| {
            if let Some(video) = node.cast::<HtmlVideoElement>() {
                video.set_muted(muted);
                let stream = stream.as_ref().map(|s| s.stream.clone());
                video.set_src_object(stream.as_ref());
                if stream.is_some() {
                    // Autoplay may be refused before any user gesture; the join click counts.
                    if let Ok(promise) = video.play() {
                        wasm_bindgen_futures::spawn_local(async move {
                            let _ = JsFuture::from(promise).await;
                        });
                    }
                }
            }
        });
    }
    let class = classes!(
        "video",
        props.mirrored.then_some("mirrored"),
        props.hidden.then_some("video-hidden")
    );
    html! {
        <video
            ref={node}
            {class}
            aria-label={props.label.clone()}
            autoplay=true
            playsinline=true
            muted={props.muted}
            data-peer={props.peer.clone()}
            data-kind={props.kind.clone()}
        />
    }
}
