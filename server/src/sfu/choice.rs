//! The media server's judgements, as plain functions of what it measured: which simulcast
//! layer each subscriber gets of each camera ([`choose_layers`]), which layers a publisher
//! needs to send at all ([`layers_needed`]), and who is speaking ([`Speakers`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One camera a subscriber receives, as the choice sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    /// The layers the publisher sends, lowest first, with their measured bitrate in bit/s (0:
    /// not measured yet).
    pub layers: Vec<(String, u64)>,
    /// How wide the subscriber shows this camera, in CSS pixels; `None`: it did not say.
    pub width: Option<u16>,
    /// Whose turn it is to look good: the active speaker first.
    pub speaking: bool,
}

/// Bitrate assumed for a layer that has not been measured yet, by its position (low, mid,
/// high).
const ASSUMED_BPS: [u64; 3] = [150_000, 500_000, 1_500_000];

/// The share of the downlink estimate that video may use (audio, RTX and estimation error take
/// the rest).
const VIDEO_SHARE: f64 = 0.85;

/// How many layers up from the lowest a picture of this width needs: a thumbnail never gets
/// the top layer.
fn wanted_step(width: Option<u16>, layers: usize) -> usize {
    let top = layers.saturating_sub(1);
    let step = match width {
        Some(w) if w <= 200 => 0,
        Some(w) if w <= 400 => 1,
        Some(_) => 2,
        // Not said yet: the middle, until it does.
        None => 1,
    };
    // With two layers, "middle" and "top" are both the upper one, except for a thumbnail.
    step.min(top)
}

/// The highest layer (index, lowest first) that any of a camera's subscribers needs for the
/// size it shows the camera at (`None`: a subscriber that did not say yet); the lowest when
/// nobody subscribes. A publisher need not send the layers above it.
pub fn layers_needed(widths: impl IntoIterator<Item = Option<u16>>, layers: usize) -> usize {
    widths
        .into_iter()
        .map(|width| wanted_step(width, layers))
        .max()
        .unwrap_or(0)
}

fn layer_bps(layers: &[(String, u64)], index: usize) -> u64 {
    match layers.get(index) {
        Some((_, measured)) if *measured > 0 => *measured,
        _ => {
            // Position among the layers, mapped onto low, mid, high.
            let position = if layers.len() <= 1 {
                2
            } else {
                index * 2 / (layers.len() - 1)
            };
            ASSUMED_BPS[position.min(2)]
        }
    }
}

/// The layer index to forward for each camera: as high as its picture needs, within
/// `budget_bps` of video downlink (from the estimate), upgrading the speaker first, then larger
/// pictures. Every camera gets at least its lowest layer.
pub fn choose_layers(wanted: &[Wanted], estimate_bps: Option<u64>) -> Vec<usize> {
    let mut chosen = vec![0usize; wanted.len()];
    let Some(estimate) = estimate_bps else {
        // No estimate yet: what the pictures need.
        return wanted
            .iter()
            .map(|w| wanted_step(w.width, w.layers.len()))
            .collect();
    };
    let budget = (estimate as f64 * VIDEO_SHARE) as u64;
    let mut used: u64 = wanted
        .iter()
        .map(|w| {
            if w.layers.is_empty() {
                0
            } else {
                layer_bps(&w.layers, 0)
            }
        })
        .sum();
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by_key(|&i| {
        (
            !wanted[i].speaking,
            std::cmp::Reverse(wanted[i].width.unwrap_or(0)),
            i,
        )
    });
    // One step at a time, in priority order, while the budget allows.
    loop {
        let mut upgraded = false;
        for &i in &order {
            let target = wanted_step(wanted[i].width, wanted[i].layers.len());
            if chosen[i] >= target {
                continue;
            }
            let extra = layer_bps(&wanted[i].layers, chosen[i] + 1)
                .saturating_sub(layer_bps(&wanted[i].layers, chosen[i]));
            if used + extra <= budget {
                used += extra;
                chosen[i] += 1;
                upgraded = true;
            }
        }
        if !upgraded {
            break;
        }
    }
    chosen
}

/// Room kept above the video for audio and RTX when asking the estimator to probe.
const AUDIO_HEADROOM_BPS: u64 = 300_000;

/// The downlink a subscriber would need for every camera's wanted layer: what the bandwidth
/// estimator probes up to. A layer the publisher does not send yet counts at its assumed
/// bitrate, so the estimate can grow to carry it once it arrives; a probe that stopped at
/// what is forwarded now could never make room for the next layer up.
pub fn desired_bps(wanted: &[Wanted]) -> u64 {
    let video: u64 = wanted
        .iter()
        .filter(|w| !w.layers.is_empty())
        .map(|w| layer_bps(&w.layers, wanted_step(w.width, w.layers.len())))
        .sum();
    (video as f64 / VIDEO_SHARE) as u64 + AUDIO_HEADROOM_BPS
}

/// Audio level in dBov below which a member counts as silent.
const SILENCE_DBOV: f32 = -50.0;
/// How much louder (dB) a new speaker must be to take over from the current one.
const TAKEOVER_DB: f32 = 3.0;
/// How long a new speaker must stay louder before the highlight moves.
const TAKEOVER_AFTER: Duration = Duration::from_millis(600);
/// How long the current speaker may be silent before nobody is highlighted.
const SILENT_AFTER: Duration = Duration::from_millis(1500);
/// Levels older than this are forgotten.
const WINDOW: Duration = Duration::from_millis(400);

/// Who is speaking, from the audio-level header extension of each member's audio.
#[derive(Debug)]
pub struct Speakers<P> {
    /// The loudest recent level of each member, and when it was heard.
    levels: BTreeMap<P, (f32, Instant)>,
    current: Option<P>,
    /// A member louder than the current one, since when.
    challenger: Option<(P, Instant)>,
    /// When the current speaker was last above silence.
    current_heard: Option<Instant>,
}

impl<P> Default for Speakers<P> {
    fn default() -> Self {
        Speakers {
            levels: BTreeMap::new(),
            current: None,
            challenger: None,
            current_heard: None,
        }
    }
}

impl<P: Ord + Clone> Speakers<P> {
    /// A packet of `peer`'s audio at `dbov` (0 is loudest, -127 silence).
    pub fn heard(&mut self, peer: &P, dbov: f32, now: Instant) {
        let entry = self.levels.entry(peer.clone()).or_insert((f32::MIN, now));
        if now.duration_since(entry.1) > WINDOW || dbov > entry.0 {
            *entry = (dbov, now);
        }
    }

    /// The member highlighted now.
    pub fn current(&self) -> Option<&P> {
        self.current.as_ref()
    }

    /// A member left.
    pub fn forget(&mut self, peer: &P) {
        self.levels.remove(peer);
        if self.current.as_ref() == Some(peer) {
            self.current = None;
        }
        if self.challenger.as_ref().is_some_and(|(p, _)| p == peer) {
            self.challenger = None;
        }
    }

    /// Who speaks now; `Some(change)` when it changed since the last call.
    pub fn update(&mut self, now: Instant) -> Option<Option<P>> {
        let level = |levels: &BTreeMap<P, (f32, Instant)>, peer: &P| {
            levels
                .get(peer)
                .filter(|(_, at)| now.duration_since(*at) <= WINDOW)
                .map_or(f32::MIN, |(db, _)| *db)
        };
        let loudest = self
            .levels
            .iter()
            .filter(|(_, (db, at))| *db > SILENCE_DBOV && now.duration_since(*at) <= WINDOW)
            .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
            .map(|(p, (db, _))| (p.clone(), *db));
        if let Some(current) = &self.current {
            if level(&self.levels, current) > SILENCE_DBOV {
                self.current_heard = Some(now);
            }
        }
        let before = self.current.clone();
        match (&self.current, loudest) {
            (None, Some((peer, _))) => {
                self.current = Some(peer);
                self.current_heard = Some(now);
                self.challenger = None;
            }
            (Some(current), Some((peer, db))) if &peer != current => {
                let current_db = level(&self.levels, current);
                if db >= current_db + TAKEOVER_DB {
                    match &self.challenger {
                        Some((p, since)) if *p == peer => {
                            if now.duration_since(*since) >= TAKEOVER_AFTER {
                                self.current = Some(peer);
                                self.current_heard = Some(now);
                                self.challenger = None;
                            }
                        }
                        _ => self.challenger = Some((peer, now)),
                    }
                } else {
                    self.challenger = None;
                }
            }
            (Some(_), _) => self.challenger = None,
            (None, None) => {}
        }
        if self.current.is_some()
            && self
                .current_heard
                .is_some_and(|heard| now.duration_since(heard) >= SILENT_AFTER)
        {
            self.current = None;
        }
        (self.current != before).then(|| self.current.clone())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_publisher_sends_the_layers_its_largest_picture_needs() {
        // Nobody subscribes: the lowest layer is enough.
        assert_eq!(layers_needed([], 3), 0);
        // Thumbnails only: the lowest.
        assert_eq!(layers_needed([Some(160), Some(120)], 3), 0);
        // One middle-sized tile among thumbnails: the middle one.
        assert_eq!(layers_needed([Some(160), Some(320)], 3), 1);
        // A subscriber that did not say: the middle, until it does.
        assert_eq!(layers_needed([Some(160), None], 3), 1);
        // A large tile: the top one, of two as of three.
        assert_eq!(layers_needed([Some(1280)], 3), 2);
        assert_eq!(layers_needed([Some(1280)], 2), 1);
        assert_eq!(layers_needed([Some(160)], 2), 0);
    }

    use super::*;

    fn three() -> Vec<(String, u64)> {
        vec![
            ("q".into(), 150_000),
            ("h".into(), 500_000),
            ("f".into(), 1_500_000),
        ]
    }

    fn cam(width: Option<u16>, speaking: bool) -> Wanted {
        Wanted {
            layers: three(),
            width,
            speaking,
        }
    }

    #[test]
    fn a_thumbnail_never_gets_the_top_layer_and_a_big_tile_does() {
        let wanted = [
            cam(Some(160), false),
            cam(Some(320), false),
            cam(Some(1200), false),
        ];
        assert_eq!(choose_layers(&wanted, Some(50_000_000)), vec![0, 1, 2]);
        assert_eq!(choose_layers(&wanted, None), vec![0, 1, 2]);
    }

    #[test]
    fn with_two_layers_a_big_tile_gets_the_upper_one() {
        let two = Wanted {
            layers: vec![("q".into(), 0), ("f".into(), 0)],
            width: Some(900),
            speaking: false,
        };
        assert_eq!(choose_layers(&[two], Some(10_000_000)), vec![1]);
    }

    #[test]
    fn a_small_downlink_keeps_the_speaker_sharpest() {
        let wanted = [cam(Some(1200), false), cam(Some(1200), true)];
        // Room for both lowest layers (300k) and one upgrade to full (1.35M more), not two.
        let budget =
            ((150_000 * 2 + 350_000 + 1_000_000 + 350_000 + 1_000) as f64 / VIDEO_SHARE) as u64;
        assert_eq!(choose_layers(&wanted, Some(budget)), vec![1, 2]);
        // Nothing fits: everyone keeps the lowest layer.
        assert_eq!(choose_layers(&wanted, Some(10_000)), vec![0, 0]);
    }

    #[test]
    fn the_probe_reaches_for_the_wanted_layer_even_before_it_is_sent() {
        // The top layer is not sent yet (0 measured): the probe still aims at its assumed rate.
        let big = Wanted {
            layers: vec![
                ("q".into(), 150_000),
                ("h".into(), 540_000),
                ("f".into(), 0),
            ],
            width: Some(900),
            speaking: false,
        };
        let desired = desired_bps(std::slice::from_ref(&big));
        assert_eq!(
            desired,
            (1_500_000.0 / VIDEO_SHARE) as u64 + AUDIO_HEADROOM_BPS
        );
        // Whatever it probes to is enough to choose that layer.
        assert_eq!(choose_layers(&[big], Some(desired)), vec![2]);
        // A thumbnail needs only its lowest layer.
        let small = cam(Some(120), false);
        assert_eq!(
            desired_bps(&[small]),
            (150_000.0 / VIDEO_SHARE) as u64 + AUDIO_HEADROOM_BPS
        );
        assert_eq!(desired_bps(&[]), AUDIO_HEADROOM_BPS);
    }

    #[test]
    fn the_loudest_member_becomes_the_speaker_and_keeps_it_against_a_slightly_louder_one() {
        let t0 = Instant::now();
        let mut s = Speakers::default();
        s.heard(&"ada", -20.0, t0);
        assert_eq!(s.update(t0), Some(Some("ada")));
        let ms = |m: u64| t0 + Duration::from_millis(m);
        s.heard(&"ada", -20.0, ms(100));
        s.heard(&"bob", -19.0, ms(100));
        assert_eq!(s.update(ms(100)), None, "1 dB louder is not enough");
        s.heard(&"ada", -30.0, ms(500));
        s.heard(&"bob", -15.0, ms(500));
        assert_eq!(s.update(ms(500)), None, "louder, but not for long yet");
        s.heard(&"ada", -30.0, ms(1200));
        s.heard(&"bob", -15.0, ms(1200));
        assert_eq!(s.update(ms(1200)), Some(Some("bob")));
        // Silence: after a while nobody is highlighted.
        assert_eq!(s.update(ms(2000)), None);
        assert_eq!(s.update(ms(3000)), Some(None));
    }
}
