//! The WebRTC payloads that `signal` frames carry between two peers.
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

/// `RTCSessionDescriptionInit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDescription {
    /// Offer, answer, provisional answer or rollback.
    #[serde(rename = "type")]
    pub kind: SdpType,
    /// The session description itself.
    #[serde(default)]
    pub sdp: String,
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
            SignalData::Description(SessionDescription {
                kind: SdpType::Answer,
                sdp: "v=0".into()
            })
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
