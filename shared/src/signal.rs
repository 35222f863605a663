//! The payloads that `signal` frames carry between two peers: WebRTC negotiation, and the
//! word that ends a switch between the mesh and the media server; and the media server's word
//! to a publisher on which simulcast layers anyone watches.
//!
//! The shapes mirror what the browser's own objects serialize to (`RTCSessionDescriptionInit`,
//! `RTCIceCandidateInit`), so a JavaScript client can send `{description: pc.localDescription}`
//! or `{candidate: event.candidate}` unchanged.

use serde::{Deserialize, Serialize};

/// What one peer tells another during negotiation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalData {
    /// An SDP offer or answer: `{"description":{"type":"offer","sdp":"..."}}`.
    Description(SessionDescription),
    /// A trickled ICE candidate, or `null` for the end of candidates:
    /// `{"candidate":{"candidate":"candidate:...","sdpMid":"0","sdpMLineIndex":0}}`.
    Candidate(Option<IceCandidate>),
    /// Every picture and sound the sender shows of the receiver now comes over the transport of
    /// mode epoch `epoch`: the receiver may close what the older transport kept for the sender
    /// (its peer link to the sender, or its own links to the media server).
    /// `{"swapped":{"epoch":2}}`.
    Swapped {
        /// The mode epoch the sender's pictures of the receiver moved to.
        epoch: u32,
    },
    /// From the media server to a publisher: of the camera on line `mid` of its publish link,
    /// send only the simulcast layers named in `active` (by `rid`); nobody watches the others
    /// at a size that needs them, so encoding them would only cost the publisher's CPU and
    /// uplink. `{"layers":{"mid":"1","active":["q","h"]}}`.
    Layers {
        /// The publish link's line that carries the camera.
        mid: String,
        /// The layers to keep sending, lowest first; every other layer pauses.
        active: Vec<String>,
    },
}

/// `RTCSdpType`: what a session description is. Any other `type` is refused when the frame is
/// decoded (`invalid-frame`), so no client has to guess what an unknown one means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdpType {
    /// An offer.
    Offer,
    /// A provisional answer.
    Pranswer,
    /// An answer.
    Answer,
    /// Back to the last stable state.
    Rollback,
}

impl SdpType {
    /// The type as the browser names it, e.g. `"offer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SdpType::Offer => "offer",
            SdpType::Pranswer => "pranswer",
            SdpType::Answer => "answer",
            SdpType::Rollback => "rollback",
        }
    }

    /// The type the browser reports as `type`, if it is one of the four.
    pub fn from_browser(name: &str) -> Option<SdpType> {
        [
            SdpType::Offer,
            SdpType::Pranswer,
            SdpType::Answer,
            SdpType::Rollback,
        ]
        .into_iter()
        .find(|t| t.as_str() == name)
    }
}

/// `RTCSessionDescriptionInit`, plus what the sender sends on each of its media lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDescription {
    /// Offer, answer, provisional answer or rollback.
    #[serde(rename = "type")]
    pub kind: SdpType,
    /// The session description itself.
    #[serde(default)]
    pub sdp: String,
    /// The lines on which the sender of this description sends, by `mid`, with what each
    /// carries. The receiver files each remote track under its sender's word, not under a guess
    /// from the order of the m-lines (a second video line is not always a screen).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<MediaLine>,
}

impl SessionDescription {
    /// A description without any media annotation.
    pub fn new(kind: SdpType, sdp: impl Into<String>) -> SessionDescription {
        SessionDescription {
            kind,
            sdp: sdp.into(),
            media: Vec::new(),
        }
    }
}

/// What one media line (a transceiver, named by its `mid`) carries from its sender.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MediaLine {
    /// The line's `a=mid`.
    pub mid: String,
    /// What the sender sends on it.
    pub kind: MediaKind,
    /// Whose media it is, when the sender forwards someone else's (the media server does);
    /// absent when it is the sender's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<crate::PeerId>,
}

/// What a media line carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MediaKind {
    /// The microphone.
    Audio,
    /// The camera.
    Camera,
    /// A shared screen, window or tab.
    Screen,
}

/// `RTCIceCandidateInit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceCandidate {
    /// The `candidate:` line.
    pub candidate: String,
    /// Media stream identification tag the candidate belongs to.
    #[serde(rename = "sdpMid", default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// Index of the m-line the candidate belongs to.
    #[serde(
        rename = "sdpMLineIndex",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_m_line_index: Option<u16>,
    /// ICE username fragment, which tells candidates of an ICE restart apart.
    #[serde(
        rename = "usernameFragment",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub username_fragment: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_shapes_parse() {
        let d: SignalData =
            serde_json::from_str(r#"{"description":{"type":"answer","sdp":"v=0"}}"#).unwrap();
        assert_eq!(
            d,
            SignalData::Description(SessionDescription::new(SdpType::Answer, "v=0"))
        );
        let c: SignalData = serde_json::from_str(
            r#"{"candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"ab"}}"#,
        )
        .unwrap();
        assert!(
            matches!(c, SignalData::Candidate(Some(ref ice)) if ice.sdp_m_line_index == Some(0))
        );
        let end: SignalData = serde_json::from_str(r#"{"candidate":null}"#).unwrap();
        assert_eq!(end, SignalData::Candidate(None));
        let swapped = SignalData::Swapped { epoch: 2 };
        let json = serde_json::to_string(&swapped).unwrap();
        assert_eq!(json, r#"{"swapped":{"epoch":2}}"#);
        assert_eq!(serde_json::from_str::<SignalData>(&json).unwrap(), swapped);
        let layers = SignalData::Layers {
            mid: "1".into(),
            active: vec!["q".into(), "h".into()],
        };
        let json = serde_json::to_string(&layers).unwrap();
        assert_eq!(json, r#"{"layers":{"mid":"1","active":["q","h"]}}"#);
        assert_eq!(serde_json::from_str::<SignalData>(&json).unwrap(), layers);
    }

    #[test]
    fn media_lines_travel_with_the_description_and_are_optional() {
        let mut d = SessionDescription::new(SdpType::Offer, "v=0");
        d.media = vec![
            MediaLine {
                mid: "0".into(),
                kind: MediaKind::Audio,
                peer: None,
            },
            MediaLine {
                mid: "2".into(),
                kind: MediaKind::Screen,
                peer: None,
            },
        ];
        let json = serde_json::to_string(&SignalData::Description(d.clone())).unwrap();
        assert!(
            json.contains(r#""media":[{"mid":"0","kind":"audio"},{"mid":"2","kind":"screen"}]"#),
            "{json}"
        );
        let back: SignalData = serde_json::from_str(&json).unwrap();
        assert_eq!(back, SignalData::Description(d));
        let plain =
            serde_json::to_string(&SessionDescription::new(SdpType::Answer, "v=0")).unwrap();
        assert!(!plain.contains("media"), "{plain}");
    }

    #[test]
    fn sdp_types_are_exactly_the_browsers_four() {
        for name in ["offer", "pranswer", "answer", "rollback"] {
            let t = SdpType::from_browser(name).unwrap();
            assert_eq!(t.as_str(), name);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{name}\""));
        }
        assert_eq!(SdpType::from_browser("Offer"), None);
        let bad =
            serde_json::from_str::<SignalData>(r#"{"description":{"type":"bogus","sdp":""}}"#);
        assert!(bad.is_err(), "an unknown type must not become a rollback");
    }
}
