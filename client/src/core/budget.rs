//! The upload budget of a peer-to-peer call: everyone sends a copy of their camera to every
//! other member, so with more people each copy must get smaller for the whole to fit the
//! uplink (`mesh_upload_kbps` in `welcome`). [`share`] divides the budget among the peer
//! links and picks, for the bitrate each gets, a resolution that looks good at it.

/// What one peer link's camera may use.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VideoCap {
    /// Most bitrate of the encoded video, in kbit/s.
    pub max_kbps: u32,
    /// `scaleResolutionDownBy`: 1 keeps the camera's size, 2 halves width and height.
    pub scale_down: f64,
}

/// Kept for each link's sound (Opus with its packet overhead).
const AUDIO_KBPS: u32 = 64;
/// A camera picture at its full size (640x480 to 1280x720) looks good from about here.
const FULL_SIZE_KBPS: u32 = 1_500;
/// Below this a picture is not worth sending smaller; the budget then runs over.
const MIN_VIDEO_KBPS: u32 = 150;
/// The smallest size: a quarter of the width and height.
const MAX_SCALE_DOWN: f64 = 4.0;

/// Each link's share of `budget_kbps` when the camera goes to `links` peers; `None` without
/// a budget or a peer.
pub fn share(budget_kbps: u32, links: usize) -> Option<VideoCap> {
    if budget_kbps == 0 || links == 0 {
        return None;
    }
    let links = u32::try_from(links).unwrap_or(u32::MAX);
    let max_kbps = (budget_kbps / links)
        .saturating_sub(AUDIO_KBPS)
        .max(MIN_VIDEO_KBPS);
    // Pixels in proportion to bits: the side shrinks with the square root, in quarter steps
    // so that small changes of the budget do not reconfigure the encoder.
    let exact = (f64::from(FULL_SIZE_KBPS) / f64::from(max_kbps)).sqrt();
    let scale_down = ((exact * 4.0).round() / 4.0).clamp(1.0, MAX_SCALE_DOWN);
    Some(VideoCap {
        max_kbps,
        scale_down,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_people_on_a_good_uplink_keep_the_full_picture() {
        assert_eq!(
            share(4_000, 1),
            Some(VideoCap {
                max_kbps: 3_936,
                scale_down: 1.0
            })
        );
    }

    #[test]
    fn four_people_on_three_megabits_share_it_in_smaller_pictures() {
        let cap = share(3_000, 3).unwrap();
        assert_eq!(cap.max_kbps, 936);
        assert_eq!(cap.scale_down, 1.25);
        // Everything together fits: three links of video and sound.
        assert!(3 * (cap.max_kbps + AUDIO_KBPS) <= 3_000);
    }

    #[test]
    fn a_crowded_call_gets_small_pictures_but_never_nothing() {
        let cap = share(1_000, 7).unwrap();
        assert_eq!(cap.max_kbps, MIN_VIDEO_KBPS);
        assert_eq!(cap.scale_down, 3.25);
        assert_eq!(share(100, 50).unwrap().scale_down, 3.25);
    }

    #[test]
    fn no_budget_or_no_peer_caps_nothing() {
        assert_eq!(share(0, 3), None);
        assert_eq!(share(3_000, 0), None);
    }
}
