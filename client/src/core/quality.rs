//! How good each remote person's connection is, and who is speaking, as plain functions of what
//! `getStats()` measured. The IO layer reads the counters of every link every half second
//! ([`StreamCounters`] per received stream, [`PathCounters`] per link); [`Meter`] turns two
//! successive reads into rates (frames per second, bit rate, loss) and a [`Level`], and
//! [`Speaking`] picks the loudest voice from the audio levels, with hysteresis so the highlight
//! does not flicker. In SFU mode the media server announces the speaker instead.

use std::collections::BTreeMap;

use treff_shared::PeerId;

/// The counters of one received stream at one moment (`inbound-rtp`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamCounters {
    /// `packetsReceived`.
    pub packets_received: u64,
    /// `packetsLost` (may go negative with duplicates; clamped when used).
    pub packets_lost: i64,
    /// `bytesReceived`.
    pub bytes_received: u64,
    /// `framesDecoded` (video only).
    pub frames_decoded: u64,
    /// `frameWidth` × `frameHeight` of the last decoded frame (video only).
    pub size: Option<(u32, u32)>,
    /// `freezeCount` (Chromium; Firefox does not report it).
    pub freezes: u64,
    /// `audioLevel`, 0 to 1 (audio only).
    pub audio_level: Option<f64>,
    /// `totalAudioEnergy` (audio only), for browsers whose `audioLevel` lags.
    pub audio_energy: Option<f64>,
    /// `totalSamplesDuration` in seconds (audio only), paired with the energy.
    pub samples_duration: Option<f64>,
}

/// The path of one link at one moment (the selected `candidate-pair`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PathCounters {
    /// `currentRoundTripTime`, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// The local or remote candidate is a relay (TURN): the media takes a detour.
    pub relayed: Option<bool>,
}

/// One stream a link receives, as one read saw it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InboundStream {
    /// The line it arrives on (`mid`).
    pub mid: Option<String>,
    /// The track it feeds (`trackIdentifier`).
    pub track_id: Option<String>,
    /// Audio rather than video.
    pub audio: bool,
    /// Its counters.
    pub counters: StreamCounters,
}

/// One read of a link's `getStats()`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkStats {
    /// Bytes received on all its candidate pairs (the liveness check uses this).
    pub bytes: u64,
    /// Its selected path.
    pub path: PathCounters,
    /// Every stream it receives.
    pub streams: Vec<InboundStream>,
}

/// One person's streams as one read of their link saw them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// When the read was made (ms, the page's clock).
    pub at_ms: u64,
    /// The person's camera, if it is received.
    pub video: Option<StreamCounters>,
    /// The person's microphone, if it is received.
    pub audio: Option<StreamCounters>,
    /// The link's path.
    pub path: PathCounters,
}

/// How good a connection is, for the indicator on the tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Nothing to worry about.
    Good,
    /// Noticeable: some loss, a long round trip or a low frame rate.
    Fair,
    /// The picture or sound suffers.
    Poor,
}

/// The figures behind a level, for the details view.
#[derive(Clone, Debug, PartialEq)]
pub struct Quality {
    /// The level.
    pub level: Level,
    /// The size of the received picture, if video is received.
    pub size: Option<(u32, u32)>,
    /// Frames decoded per second.
    pub fps: Option<f64>,
    /// Received bit rate of the camera and microphone together, kbit/s.
    pub kbps: f64,
    /// Packets lost in the last interval, percent of those sent.
    pub loss_percent: f64,
    /// Round-trip time, ms.
    pub rtt_ms: Option<f64>,
    /// Relayed (TURN) rather than direct.
    pub relayed: Option<bool>,
}

/// Loss (percent) at or above which a connection is fair, and poor.
const LOSS_FAIR: f64 = 2.0;
const LOSS_POOR: f64 = 8.0;
/// Round trip (ms) at or above which a connection is fair, and poor.
const RTT_FAIR: f64 = 250.0;
const RTT_POOR: f64 = 500.0;
/// Frame rate below which a picture is fair, and poor (when the camera is on).
const FPS_FAIR: f64 = 14.0;
const FPS_POOR: f64 = 7.0;
/// How long a worse level stays after its cause ended, so the indicator does not flicker.
const HOLD_MS: u64 = 3000;
/// Shortest interval that gives a rate (a read sooner than this after the last one is skipped).
const MIN_INTERVAL_MS: u64 = 400;

/// The level of one interval's figures. `video_on`: the person's camera is on, so a low frame
/// rate means something.
pub fn level_of(
    loss_percent: f64,
    rtt_ms: Option<f64>,
    fps: Option<f64>,
    froze: bool,
    video_on: bool,
) -> Level {
    let rtt = rtt_ms.unwrap_or(0.0);
    let fps = if video_on { fps } else { None };
    if loss_percent >= LOSS_POOR || rtt >= RTT_POOR || fps.is_some_and(|f| f < FPS_POOR) {
        Level::Poor
    } else if loss_percent >= LOSS_FAIR
        || rtt >= RTT_FAIR
        || froze
        || fps.is_some_and(|f| f < FPS_FAIR)
    {
        Level::Fair
    } else {
        Level::Good
    }
}

/// One person's connection quality over successive samples.
#[derive(Debug, Default)]
pub struct Meter {
    last: Option<Sample>,
    /// The worst level seen recently and until when it holds.
    held: Option<(Level, u64)>,
    current: Option<Quality>,
}

impl Meter {
    /// Takes a new read; returns the quality when it changed (level or figures).
    pub fn sample(&mut self, sample: Sample, video_on: bool) -> Option<&Quality> {
        let Some(last) = self.last.as_ref() else {
            self.last = Some(sample);
            return None;
        };
        let interval = sample.at_ms.saturating_sub(last.at_ms);
        if interval < MIN_INTERVAL_MS {
            return None;
        }
        let seconds = interval as f64 / 1000.0;
        let mut bytes = 0u64;
        let (mut received, mut lost) = (0i64, 0i64);
        for (now, before) in [(&sample.video, &last.video), (&sample.audio, &last.audio)] {
            if let (Some(now), Some(before)) = (now, before) {
                bytes += now.bytes_received.saturating_sub(before.bytes_received);
                received += now.packets_received as i64 - before.packets_received as i64;
                lost += now.packets_lost - before.packets_lost;
            }
        }
        let (received, lost) = (received.max(0), lost.max(0));
        let loss_percent = if received + lost > 0 {
            lost as f64 * 100.0 / (received + lost) as f64
        } else {
            0.0
        };
        let (fps, froze) = match (&sample.video, &last.video) {
            (Some(now), Some(before)) => (
                Some(now.frames_decoded.saturating_sub(before.frames_decoded) as f64 / seconds),
                now.freezes > before.freezes,
            ),
            _ => (None, false),
        };
        let measured = level_of(loss_percent, sample.path.rtt_ms, fps, froze, video_on);
        let level = match self.held {
            Some((held, until)) if held > measured && sample.at_ms < until => held,
            _ => measured,
        };
        if measured > Level::Good
            && self
                .held
                .is_none_or(|(held, until)| measured >= held || sample.at_ms >= until)
        {
            self.held = Some((measured, sample.at_ms + HOLD_MS));
        }
        let quality = Quality {
            level,
            size: sample.video.as_ref().and_then(|v| v.size),
            fps,
            kbps: bytes as f64 * 8.0 / 1000.0 / seconds,
            loss_percent,
            rtt_ms: sample.path.rtt_ms,
            relayed: sample.path.relayed,
        };
        self.last = Some(sample);
        if self.current.as_ref() == Some(&quality) {
            return None;
        }
        self.current = Some(quality);
        self.current.as_ref()
    }

    /// The latest quality, once two reads were made.
    pub fn quality(&self) -> Option<&Quality> {
        self.current.as_ref()
    }
}

/// The quality of everyone's connection and who speaks, for one call: a [`Meter`] per person
/// and one [`Speaking`], fed by each read of each link.
#[derive(Debug, Default)]
pub struct Monitor {
    meters: BTreeMap<PeerId, Meter>,
    cameras: BTreeMap<PeerId, bool>,
    /// The last audio energy and duration per person, for a level between two reads.
    energy: BTreeMap<PeerId, (f64, f64)>,
    speaking: Speaking,
}

/// What one read changed.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    /// People whose quality changed, with the new one.
    pub quality: Vec<(PeerId, Quality)>,
    /// The speaker changed (to nobody: `Some(None)`).
    pub speaker: Option<Option<PeerId>>,
}

impl Monitor {
    /// Whether a person's camera is on (a stopped picture is then a problem).
    pub fn camera(&mut self, peer: &PeerId, on: bool) {
        self.cameras.insert(peer.clone(), on);
    }

    /// Forgets a person who left.
    pub fn forget(&mut self, peer: &PeerId) {
        self.meters.remove(peer);
        self.cameras.remove(peer);
        self.energy.remove(peer);
        self.speaking.forget(peer);
    }

    /// Forgets everyone's voice (the media server announces the speaker from now on).
    pub fn stop_speaking(&mut self) {
        self.speaking = Speaking::default();
        self.energy.clear();
    }

    /// One read of one link, per person it carries. `levels`: judge who speaks from the audio
    /// levels (the mesh; the media server announces it otherwise).
    pub fn read(&mut self, samples: Vec<(PeerId, Sample)>, levels: bool, now_ms: u64) -> Changes {
        let mut changes = Changes::default();
        for (peer, sample) in samples {
            if levels {
                if let Some(level) = self.level(&peer, sample.audio.as_ref()) {
                    self.speaking.level(&peer, level, now_ms);
                }
            }
            let video_on = self.cameras.get(&peer).copied().unwrap_or(true);
            let meter = self.meters.entry(peer.clone()).or_default();
            if let Some(quality) = meter.sample(sample, video_on) {
                changes.quality.push((peer, quality.clone()));
            }
        }
        if levels {
            changes.speaker = self.speaking.update(now_ms);
        }
        changes
    }

    /// A voice's level since the last read: from the audio energy where the browser counts it
    /// (an average over the interval), else its momentary `audioLevel`.
    fn level(&mut self, peer: &PeerId, audio: Option<&StreamCounters>) -> Option<f64> {
        let audio = audio?;
        if let (Some(energy), Some(duration)) = (audio.audio_energy, audio.samples_duration) {
            let before = self.energy.insert(peer.clone(), (energy, duration));
            if let Some((e0, d0)) = before {
                if duration > d0 {
                    return Some(((energy - e0).max(0.0) / (duration - d0)).sqrt());
                }
            }
            return None;
        }
        audio.audio_level
    }
}

/// Audio level (0 to 1) above which a voice counts as speaking: about -34 dBov, clear of the
/// hiss of an open microphone.
const SPEAKING_LEVEL: f64 = 0.02;
/// How much louder a new voice must be to take the highlight from the one who has it.
const TAKEOVER_FACTOR: f64 = 1.4;
/// How long a new voice must lead before the highlight moves.
const TAKEOVER_MS: u64 = 600;
/// How long the speaker may pause before nobody is highlighted.
const SILENT_MS: u64 = 1500;

/// Who is speaking, from the audio level of each person's received microphone.
#[derive(Debug, Default)]
pub struct Speaking {
    levels: BTreeMap<PeerId, (f64, u64)>,
    current: Option<PeerId>,
    /// The voice that leads, and since when, while it has not taken over yet.
    challenger: Option<(PeerId, u64)>,
    last_loud: u64,
}

impl Speaking {
    /// The level of one person's voice at `now_ms`.
    pub fn level(&mut self, peer: &PeerId, level: f64, now_ms: u64) {
        self.levels.insert(peer.clone(), (level, now_ms));
    }

    /// Forgets someone (they left, or their audio stopped).
    pub fn forget(&mut self, peer: &PeerId) {
        self.levels.remove(peer);
        if self.current.as_ref() == Some(peer) {
            self.current = None;
        }
    }

    /// Decides at `now_ms`; returns the new speaker (or `Some(None)`: nobody) when it changed.
    pub fn update(&mut self, now_ms: u64) -> Option<Option<PeerId>> {
        // Levels older than two reads are stale.
        self.levels
            .retain(|_, (_, at)| now_ms.saturating_sub(*at) <= 1200);
        let loudest = self
            .levels
            .iter()
            .filter(|(_, (level, _))| *level >= SPEAKING_LEVEL)
            .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
            .map(|(peer, (level, _))| (peer.clone(), *level));
        let current_level = self
            .current
            .as_ref()
            .and_then(|p| self.levels.get(p))
            .map_or(0.0, |(l, _)| *l);
        if current_level >= SPEAKING_LEVEL {
            self.last_loud = now_ms;
        }
        let before = self.current.clone();
        match loudest {
            Some((peer, _)) if self.current.is_none() => {
                self.current = Some(peer);
                self.challenger = None;
            }
            Some((peer, level))
                if Some(&peer) != self.current.as_ref()
                    && level >= current_level * TAKEOVER_FACTOR =>
            {
                match &self.challenger {
                    Some((who, since)) if *who == peer => {
                        if now_ms.saturating_sub(*since) >= TAKEOVER_MS {
                            self.current = Some(peer);
                            self.challenger = None;
                            self.last_loud = now_ms;
                        }
                    }
                    _ => self.challenger = Some((peer, now_ms)),
                }
            }
            _ => self.challenger = None,
        }
        if self.current.is_some()
            && self.current == before
            && current_level < SPEAKING_LEVEL
            && now_ms.saturating_sub(self.last_loud) >= SILENT_MS
        {
            self.current = None;
        }
        if self.current.is_some() && self.current != before {
            self.last_loud = now_ms;
        }
        (self.current != before).then(|| self.current.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(frames: u64, packets: u64, lost: i64, bytes: u64) -> StreamCounters {
        StreamCounters {
            packets_received: packets,
            packets_lost: lost,
            bytes_received: bytes,
            frames_decoded: frames,
            size: Some((640, 480)),
            ..StreamCounters::default()
        }
    }

    fn sample(at_ms: u64, v: StreamCounters, rtt: f64) -> Sample {
        Sample {
            at_ms,
            video: Some(v),
            audio: None,
            path: PathCounters {
                rtt_ms: Some(rtt),
                relayed: Some(false),
            },
        }
    }

    #[test]
    fn a_clean_fluid_picture_is_good_with_its_figures() {
        let mut meter = Meter::default();
        assert!(meter
            .sample(sample(0, video(0, 0, 0, 0), 20.0), true)
            .is_none());
        let q = meter
            .sample(sample(1000, video(20, 200, 0, 125_000), 20.0), true)
            .cloned()
            .unwrap();
        assert_eq!(q.level, Level::Good);
        assert_eq!(q.fps, Some(20.0));
        assert_eq!(q.kbps, 1000.0);
        assert_eq!(q.size, Some((640, 480)));
        assert_eq!(q.loss_percent, 0.0);
    }

    #[test]
    fn loss_round_trip_and_frame_rate_each_lower_the_level() {
        assert_eq!(
            level_of(3.0, Some(20.0), Some(20.0), false, true),
            Level::Fair
        );
        assert_eq!(
            level_of(10.0, Some(20.0), Some(20.0), false, true),
            Level::Poor
        );
        assert_eq!(
            level_of(0.0, Some(300.0), Some(20.0), false, true),
            Level::Fair
        );
        assert_eq!(
            level_of(0.0, Some(600.0), Some(20.0), false, true),
            Level::Poor
        );
        assert_eq!(
            level_of(0.0, Some(20.0), Some(10.0), false, true),
            Level::Fair
        );
        assert_eq!(
            level_of(0.0, Some(20.0), Some(3.0), false, true),
            Level::Poor
        );
        assert_eq!(
            level_of(0.0, Some(20.0), Some(20.0), true, true),
            Level::Fair
        );
        // A camera that is off has no frame rate to judge.
        assert_eq!(
            level_of(0.0, Some(20.0), Some(0.0), false, false),
            Level::Good
        );
    }

    #[test]
    fn a_bad_moment_holds_for_a_few_seconds_then_clears() {
        let mut meter = Meter::default();
        meter.sample(sample(0, video(0, 0, 0, 0), 20.0), true);
        // 20 % loss in the first second.
        let q = meter
            .sample(sample(1000, video(20, 80, 20, 100_000), 20.0), true)
            .cloned();
        assert_eq!(q.unwrap().level, Level::Poor);
        // Clean again, but still shown poor for a while.
        meter.sample(sample(2000, video(40, 180, 20, 200_000), 20.0), true);
        assert_eq!(meter.quality().unwrap().level, Level::Poor);
        meter.sample(sample(4500, video(90, 430, 20, 450_000), 20.0), true);
        assert_eq!(meter.quality().unwrap().level, Level::Good);
    }

    #[test]
    fn reads_too_close_together_give_no_rate() {
        let mut meter = Meter::default();
        meter.sample(sample(0, video(0, 0, 0, 0), 20.0), true);
        assert!(meter
            .sample(sample(100, video(2, 20, 0, 10_000), 20.0), true)
            .is_none());
        assert!(meter.quality().is_none());
    }

    fn peer(id: &str) -> PeerId {
        PeerId::new(id).unwrap()
    }

    #[test]
    fn the_loudest_voice_is_highlighted_and_moves_only_after_leading_a_while() {
        let (ada, bob) = (peer("ada"), peer("bob"));
        let mut s = Speaking::default();
        s.level(&ada, 0.001, 0);
        s.level(&bob, 0.001, 0);
        assert_eq!(s.update(0), None, "silence: nobody");
        s.level(&ada, 0.2, 500);
        assert_eq!(s.update(500), Some(Some(ada.clone())));
        // Bob is louder, but only for a moment.
        s.level(&bob, 0.5, 1000);
        assert_eq!(s.update(1000), None);
        s.level(&bob, 0.01, 1500);
        assert_eq!(s.update(1500), None);
        // Bob leads for long enough.
        for t in [2000, 2500, 3000] {
            s.level(&ada, 0.1, t);
            s.level(&bob, 0.5, t);
            s.update(t);
        }
        assert_eq!(s.current, Some(bob.clone()));
        // Everyone falls silent: after a pause nobody is highlighted.
        for t in [3500, 4000] {
            s.level(&ada, 0.0, t);
            s.level(&bob, 0.0, t);
            assert_eq!(s.update(t), None);
        }
        s.level(&bob, 0.0, 4500);
        assert_eq!(s.update(4500), Some(None));
    }

    #[test]
    fn the_monitor_reports_changed_quality_and_the_speaker_from_audio_energy() {
        let (ada, bob) = (peer("ada"), peer("bob"));
        let mut m = Monitor::default();
        let read = |at, frames, energy: f64| Sample {
            at_ms: at,
            video: Some(video(frames, frames * 10, 0, frames * 5000)),
            audio: Some(StreamCounters {
                audio_energy: Some(energy),
                samples_duration: Some(at as f64 / 1000.0),
                ..StreamCounters::default()
            }),
            path: PathCounters::default(),
        };
        let first = m.read(
            vec![
                (ada.clone(), read(0, 0, 0.0)),
                (bob.clone(), read(0, 0, 0.0)),
            ],
            true,
            0,
        );
        assert!(first.quality.is_empty());
        // Ada talks (a level of 0.3 is an energy of 0.09 per second), Bob is silent.
        let second = m.read(
            vec![
                (ada.clone(), read(1000, 20, 0.09)),
                (bob.clone(), read(1000, 20, 0.0)),
            ],
            true,
            1000,
        );
        assert_eq!(second.quality.len(), 2);
        assert_eq!(second.speaker, Some(Some(ada.clone())));
        // Bob's camera goes off: his picture stopping is no reason for a poor level.
        m.camera(&bob, false);
        let third = m.read(vec![(bob.clone(), read(2000, 20, 0.0))], false, 2000);
        assert_eq!(third.quality[0].1.level, Level::Good);
        assert_eq!(third.speaker, None);
    }

    #[test]
    fn someone_who_leaves_is_no_longer_the_speaker() {
        let ada = peer("ada");
        let mut s = Speaking::default();
        s.level(&ada, 0.3, 0);
        s.update(0);
        s.forget(&ada);
        assert_eq!(s.update(100), None);
        assert_eq!(s.current, None);
    }
}
