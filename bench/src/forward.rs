//! `treff-forward`: the media server's forwarding benchmark.
//!
//! Synthetic members join a running treff server (started by `scripts/bench-forward.sh`, pinned
//! to one core) over loopback WebSockets and reach its media port with str0m: some publish a
//! camera of pre-made VP8-shaped frames (no encoder, so the generator stays light), everyone
//! subscribes. Each frame carries its number and the time it was written; subscribers measure
//! the time from the publisher's write to the frame arriving on their subscribe link (the
//! server's forwarding plus the generator's own sending and receiving, measured once with a
//! single stream as a baseline) and count what never arrives. The load grows in steps of more
//! rooms until the latency or the loss passes its target; the report names the largest step
//! within both. Only loopback addresses are accepted.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind as RtcKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use treff_bench::client::{self, Ws};
use treff_bench::procfs::{self, round, CpuMeter, CpuUse};
use treff_bench::stats::Latency;
use treff_shared::{
    ClientMessage, MediaKind, MediaLine, MediaLink, MediaMode, SdpType, ServerMessage,
    SessionDescription, SignalData,
};

/// Load generator for treff's media server. Run it through scripts/bench-forward.sh.
#[derive(Debug, Clone, Parser)]
#[command(name = "treff-forward", version, about)]
struct Args {
    /// The server's address (its media port has the same number, on UDP); loopback only.
    #[arg(long)]
    addr: SocketAddr,
    /// The server's process id, for its CPU time.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Directory for forward.json and forward.md.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// Rooms of each step, in order.
    #[arg(long, value_delimiter = ',', default_value = "1,3,6,10,14,18,22,26")]
    steps: Vec<usize>,
    /// Members of each room that publish a camera.
    #[arg(long, default_value_t = 2)]
    publishers: usize,
    /// Members of each room that only receive.
    #[arg(long, default_value_t = 8)]
    subscribers: usize,
    /// Frames per second of each camera.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Bytes per frame (one RTP packet each at the default).
    #[arg(long, default_value_t = 1000)]
    frame_bytes: usize,
    /// Seconds of each step before measuring.
    #[arg(long, default_value_t = 4)]
    warmup_secs: u64,
    /// Seconds measured per step.
    #[arg(long, default_value_t = 10)]
    measure_secs: u64,
    /// Target: p99 of the latency, ms.
    #[arg(long, default_value_t = 10.0)]
    target_p99_ms: f64,
    /// Target: share of frames lost, percent.
    #[arg(long, default_value_t = 0.1)]
    target_loss_pct: f64,
    /// How the wrapper scheduled server and generator, recorded in the report.
    #[arg(long, default_value = "as started (no priority given)")]
    scheduling: String,
}

/// What the members of one step share: the clock, the measure window and the tallies.
#[derive(Default)]
struct Tally {
    /// The measure window, in ns since the step's start; frames written inside it count.
    window: (u64, u64),
    /// Frames published inside the window, times the members that should receive each.
    expected: u64,
    /// Of those, frames that arrived.
    received: u64,
    /// Write-to-arrival times of those, ns.
    latency: Vec<u64>,
    /// Members whose links are up and who receive every publisher.
    ready: usize,
}

struct Step {
    base: Instant,
    tally: RefCell<Tally>,
    stop: std::cell::Cell<bool>,
}

impl Step {
    fn ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
}

/// One link to the media server: str0m on its own UDP socket.
struct Link {
    rtc: Rtc,
    socket: UdpSocket,
}

impl Link {
    async fn new(server: SocketAddr) -> anyhow::Result<Link> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_vp8(true)
            .enable_opus(true)
            .build(Instant::now());
        rtc.add_local_candidate(
            Candidate::host(socket.local_addr()?, "udp").context("host candidate")?,
        );
        rtc.add_remote_candidate(Candidate::host(server, "udp").context("server candidate")?);
        Ok(Link { rtc, socket })
    }

    fn input(&mut self, contents: &[u8], source: SocketAddr) {
        let Ok(contents) = contents.try_into() else {
            return;
        };
        let Ok(destination) = self.socket.local_addr() else {
            return;
        };
        let _ = self.rtc.handle_input(Input::Receive(
            Instant::now(),
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        ));
    }

    /// Sends what is due; returns the frames received and the next timeout.
    fn drain(&mut self, frames: &mut Vec<Vec<u8>>) -> Instant {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => return t,
                Err(_) => return Instant::now() + Duration::from_secs(1),
                Ok(Output::Transmit(t)) => {
                    let _ = self.socket.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(Event::MediaData(d))) => frames.push(d.data.to_vec()),
                Ok(Output::Event(_)) => {}
            }
        }
    }
}

/// A frame: VP8's P bit clear every 30th frame (a keyframe), then its number and write time.
fn frame(n: u64, sent_ns: u64, bytes: usize) -> Vec<u8> {
    let mut f = vec![if n % 30 == 0 { 0x10 } else { 0x11 }, 0x02, 0x00];
    f.extend_from_slice(&sent_ns.to_be_bytes());
    f.resize(bytes.max(16), 0x5a);
    f
}

fn sent_ns_of(frame: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(frame.get(3..11)?.try_into().ok()?))
}

/// One synthetic member, until the step stops.
async fn member(
    args: Rc<Args>,
    step: Rc<Step>,
    room: String,
    name: String,
    publishes: bool,
    receivers: u64,
) -> anyhow::Result<()> {
    let url = format!("ws://{}/ws", args.addr);
    let (mut ws, welcome) = client::connect_and_join(&url, &room, &name).await?;
    let mut epoch = (welcome.mode == MediaMode::Sfu).then_some(welcome.mode_epoch);
    let mut publish = if publishes {
        Some(Link::new(args.addr).await?)
    } else {
        None
    };
    let mut subscribe = Link::new(args.addr).await?;
    let mut pending: Option<SdpPendingOffer> = None;
    let mut video: Option<Mid> = None;
    let mut lines = 0usize;
    let mut counted_ready = false;
    let mut n = 0u64;
    let interval = Duration::from_secs(1) / args.fps;
    let mut next_frame = Instant::now() + interval;
    let mut buf = vec![0u8; 2048];
    let mut buf2 = vec![0u8; 2048];
    let mut frames = Vec::new();
    let mut got_any = false;
    while !step.stop.get() {
        if let (Some(e), Some(link), None) = (epoch, publish.as_mut(), video) {
            let mut change = link.rtc.sdp_api();
            let mid = change.add_media(RtcKind::Video, Direction::SendOnly, None, None, None);
            let (offer, p) = change.apply().context("publish offer")?;
            pending = Some(p);
            video = Some(mid);
            let description = SessionDescription {
                kind: SdpType::Offer,
                sdp: offer.to_sdp_string(),
                media: vec![MediaLine {
                    mid: mid.to_string(),
                    kind: MediaKind::Camera,
                    peer: None,
                }],
            };
            send(&mut ws, e, MediaLink::Publish, description).await?;
        }
        let publish_timeout = publish.as_mut().map(|l| l.drain(&mut Vec::new()));
        frames.clear();
        let subscribe_timeout = subscribe.drain(&mut frames);
        record(&step, &frames, &mut got_any);
        let wake = [Some(subscribe_timeout), publish_timeout, Some(next_frame)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(next_frame)
            .max(Instant::now() + Duration::from_micros(200));
        let sleep = tokio::time::sleep_until(wake.into());
        tokio::select! {
            msg = ws.next() => {
                let Some(Ok(msg)) = msg else { break };
                let Some(frame) = client::decode(&msg)? else { continue };
                match frame {
                    ServerMessage::Mode { mode: MediaMode::Sfu, epoch: e } => epoch = Some(e),
                    ServerMessage::MediaSignal { link: MediaLink::Publish, data: SignalData::Description(d), .. } => {
                        if let (Some(p), Some(link)) = (pending.take(), publish.as_mut()) {
                            let answer = SdpAnswer::from_sdp_string(&d.sdp).context("answer")?;
                            link.rtc.sdp_api().accept_answer(p, answer).context("accept answer")?;
                        }
                    }
                    ServerMessage::MediaSignal { epoch: e, link: MediaLink::Subscribe, data: SignalData::Description(d) } => {
                        lines = d.media.iter().filter(|l| l.kind == MediaKind::Camera).count();
                        let offer = SdpOffer::from_sdp_string(&d.sdp).context("offer")?;
                        let answer = subscribe.rtc.sdp_api().accept_offer(offer).context("accept offer")?;
                        let description = SessionDescription::new(SdpType::Answer, answer.to_sdp_string());
                        send(&mut ws, e, MediaLink::Subscribe, description).await?;
                    }
                    _ => {}
                }
            }
            received = subscribe.socket.recv_from(&mut buf) => {
                if let Ok((len, source)) = received {
                    subscribe.input(&buf[..len], source);
                }
            }
            received = async {
                match publish.as_ref() {
                    Some(link) => link.socket.recv_from(&mut buf2).await,
                    None => std::future::pending().await,
                }
            } => {
                if let (Ok((len, source)), Some(link)) = (received, publish.as_mut()) {
                    link.input(&buf2[..len], source);
                }
            }
            () = sleep => {}
        }
        let now = Instant::now();
        let _ = subscribe.rtc.handle_input(Input::Timeout(now));
        if let Some(link) = publish.as_mut() {
            let _ = link.rtc.handle_input(Input::Timeout(now));
            if now >= next_frame {
                next_frame += interval;
                if let (Some(mid), true) = (video, link.rtc.is_connected()) {
                    if let Some(writer) = link.rtc.writer(mid) {
                        let pt = writer
                            .payload_params()
                            .find(|p| p.spec().codec == Codec::Vp8)
                            .map(|p| p.pt());
                        if let Some(pt) = pt {
                            let sent = step.ns();
                            let data = frame(n, sent, args.frame_bytes);
                            let at = MediaTime::from_90khz(n * 90_000 / u64::from(args.fps));
                            if writer.write(pt, now, at, data).is_ok() {
                                let mut tally = step.tally.borrow_mut();
                                if (tally.window.0..tally.window.1).contains(&sent) {
                                    tally.expected += receivers;
                                }
                            }
                            n += 1;
                        }
                    }
                }
            }
        }
        let wanted = args.publishers - usize::from(publishes);
        let publishing = publish.as_ref().is_none_or(|l| l.rtc.is_connected());
        let receiving = wanted == 0 || (got_any && lines >= wanted);
        if !counted_ready && publishing && receiving {
            counted_ready = true;
            step.tally.borrow_mut().ready += 1;
        }
    }
    client::close(ws).await;
    Ok(())
}

async fn send(
    ws: &mut Ws,
    epoch: u32,
    link: MediaLink,
    description: SessionDescription,
) -> anyhow::Result<()> {
    let msg = ClientMessage::MediaSignal {
        epoch,
        link,
        data: SignalData::Description(description),
    };
    ws.send(client::frame(&msg)).await?;
    Ok(())
}

fn record(step: &Step, frames: &[Vec<u8>], got_any: &mut bool) {
    if frames.is_empty() {
        return;
    }
    *got_any = true;
    let now = step.ns();
    let mut tally = step.tally.borrow_mut();
    for f in frames {
        if let Some(sent) = sent_ns_of(f) {
            if (tally.window.0..tally.window.1).contains(&sent) {
                tally.received += 1;
                tally.latency.push(now.saturating_sub(sent));
            }
        }
    }
}

/// The figures of one step.
#[derive(Debug, Clone, Serialize)]
struct StepResult {
    rooms: usize,
    members: usize,
    /// Video tracks the server forwards: each publisher's to every other member of its room.
    streams: usize,
    /// Frames the server received from publishers per second.
    frames_in_per_s: f64,
    /// Frames it should have written to subscribers per second.
    frames_out_per_s: f64,
    expected: u64,
    received: u64,
    loss_pct: f64,
    latency: Latency,
    cpu: CpuUse,
    /// Within both targets.
    within_targets: bool,
}

async fn run_step(args: &Rc<Args>, rooms: usize, tag: &str) -> anyhow::Result<StepResult> {
    let step = Rc::new(Step {
        base: Instant::now(),
        tally: RefCell::new(Tally {
            window: (u64::MAX, u64::MAX),
            ..Tally::default()
        }),
        stop: std::cell::Cell::new(false),
    });
    let per_room = args.publishers + args.subscribers;
    let members = rooms * per_room;
    let mut tasks = Vec::new();
    for r in 0..rooms {
        let room = format!("fwd-{tag}-{r}");
        for m in 0..per_room {
            let publishes = m < args.publishers;
            let task = tokio::task::spawn_local(member(
                args.clone(),
                step.clone(),
                room.clone(),
                format!("m{m}"),
                publishes,
                (per_room - 1) as u64,
            ));
            tasks.push(task);
            // Joins at a pace the handshakes keep up with.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let ready_by = Instant::now() + Duration::from_secs(30 + rooms as u64);
    while step.tally.borrow().ready < members {
        if Instant::now() > ready_by {
            let ready = step.tally.borrow().ready;
            step.stop.set(true);
            bail!("{rooms} rooms: only {ready} of {members} members connected and receiving");
        }
        if let Some(done) = tasks.iter().position(|t| t.is_finished()) {
            let task = tasks.remove(done);
            step.stop.set(true);
            task.await??;
            bail!("a member ended early");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(args.warmup_secs)).await;
    let start = step.ns();
    let end = start + args.measure_secs * 1_000_000_000;
    step.tally.borrow_mut().window = (start, end);
    let meter = CpuMeter::start(args.server_pid, procfs::clock_ticks());
    tokio::time::sleep(Duration::from_secs(args.measure_secs)).await;
    let cpu = meter.read();
    // Stragglers written at the end of the window.
    tokio::time::sleep(Duration::from_millis(500)).await;
    step.stop.set(true);
    for task in tasks {
        let _ = task.await;
    }
    let tally = step.tally.take();
    let streams = rooms * args.publishers * (per_room - 1);
    let loss_pct = if tally.expected == 0 {
        100.0
    } else {
        100.0 * (1.0 - tally.received.min(tally.expected) as f64 / tally.expected as f64)
    };
    let latency = Latency::from_nanos(tally.latency);
    let secs = args.measure_secs as f64;
    let within_targets = latency.p99_ms <= args.target_p99_ms && loss_pct <= args.target_loss_pct;
    Ok(StepResult {
        rooms,
        members,
        streams,
        frames_in_per_s: round((rooms * args.publishers) as f64 * f64::from(args.fps), 1),
        frames_out_per_s: round(tally.expected as f64 / secs, 1),
        expected: tally.expected,
        received: tally.received,
        loss_pct: round(loss_pct, 3),
        latency,
        cpu,
        within_targets,
    })
}

#[derive(Debug, Serialize)]
struct Report {
    machine: procfs::Machine,
    server_cpus_allowed: String,
    generator_cpus_allowed: String,
    scheduling: String,
    fps: u32,
    frame_bytes: usize,
    room: String,
    target: String,
    /// One publisher, one subscriber: the generator's own share of the latency.
    baseline: Option<StepResult>,
    steps: Vec<StepResult>,
    /// The most streams forwarded within both targets, and the server's CPU then.
    best: Option<(usize, Option<f64>)>,
    errors: Vec<String>,
}

impl Report {
    fn markdown(&self) -> String {
        let mut md = String::new();
        md.push_str(&format!(
            "Media-server forwarding on {} × {}; server on CPU {}, generator on CPU {}; {}.\n\n",
            self.machine.nproc,
            self.machine.cpu,
            self.server_cpus_allowed,
            self.generator_cpus_allowed,
            self.scheduling
        ));
        md.push_str(&format!(
            "Rooms of {}; each camera {} fps of {}-byte frames. Latency: publisher's write to the \
             subscriber's arrival (generator included). Target: {}.\n\n",
            self.room, self.fps, self.frame_bytes, self.target
        ));
        md.push_str("| rooms | members | streams forwarded | frames out/s | p50 ms | p99 ms | max ms | loss % | server CPU % | within target |\n");
        md.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
        let rows = self.baseline.iter().chain(&self.steps);
        for (i, s) in rows.enumerate() {
            let label = if i == 0 && self.baseline.is_some() {
                "baseline 1:1".to_owned()
            } else {
                s.rooms.to_string()
            };
            md.push_str(&format!(
                "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                s.members,
                s.streams,
                s.frames_out_per_s,
                s.latency.p50_ms,
                s.latency.p99_ms,
                s.latency.max_ms,
                s.loss_pct,
                s.cpu.server_pct.map_or("?".into(), |p| p.to_string()),
                if s.within_targets { "yes" } else { "no" },
            ));
        }
        match self.best {
            Some((streams, cpu)) => md.push_str(&format!(
                "\nMost within the target: **{streams} video streams** forwarded by one server core \
                 (server CPU {} %).\n",
                cpu.map_or("?".into(), |c| c.to_string())
            )),
            None => md.push_str("\nNo step was within the target.\n"),
        }
        for e in &self.errors {
            md.push_str(&format!("\nError: {e}\n"));
        }
        md
    }
}

fn main() -> anyhow::Result<()> {
    let args = Rc::new(Args::parse());
    if !args.addr.ip().is_loopback() {
        bail!(
            "treff-forward only targets loopback addresses, not {}",
            args.addr
        );
    }
    if args.steps.len() > 20 || args.steps.iter().any(|&r| !(1..=200).contains(&r)) {
        bail!("--steps takes at most 20 steps of 1 to 200 rooms");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let report = local.block_on(&runtime, run(args.clone()));
    std::fs::create_dir_all(&args.out)?;
    let json = serde_json::to_string_pretty(&report)?;
    let md = report.markdown();
    std::fs::write(args.out.join("forward.json"), format!("{json}\n"))?;
    std::fs::write(args.out.join("forward.md"), &md)?;
    println!("{json}\n\n{md}");
    if !report.errors.is_empty() {
        bail!("{} step(s) failed", report.errors.len());
    }
    Ok(())
}

async fn run(args: Rc<Args>) -> Report {
    let mut report = Report {
        machine: procfs::Machine::read(),
        server_cpus_allowed: procfs::cpus_allowed(args.server_pid),
        generator_cpus_allowed: procfs::cpus_allowed(None),
        scheduling: args.scheduling.clone(),
        fps: args.fps,
        frame_bytes: args.frame_bytes,
        room: format!(
            "{} publishers and {} subscribers",
            args.publishers, args.subscribers
        ),
        target: format!(
            "p99 ≤ {} ms, loss ≤ {} %",
            args.target_p99_ms, args.target_loss_pct
        ),
        baseline: None,
        steps: Vec::new(),
        best: None,
        errors: Vec::new(),
    };
    let single = Rc::new(Args {
        publishers: 1,
        subscribers: 1,
        ..(*args).clone()
    });
    match run_step(&single, 1, "base").await {
        Ok(s) => report.baseline = Some(s),
        Err(e) => report.errors.push(format!("baseline: {e:#}")),
    }
    let mut over = 0;
    for (i, &rooms) in args.steps.iter().enumerate() {
        eprintln!("== {rooms} rooms");
        match run_step(&args, rooms, &i.to_string()).await {
            Ok(s) => {
                let cpu = s
                    .cpu
                    .server_pct
                    .map_or_else(|| "unknown".to_owned(), |pct| format!("{pct} %"));
                eprintln!(
                    "   {} streams: p99 {} ms, loss {} %, server CPU {cpu}",
                    s.streams, s.latency.p99_ms, s.loss_pct
                );
                if s.within_targets {
                    report.best = Some((s.streams, s.cpu.server_pct));
                } else {
                    over += 1;
                }
                report.steps.push(s);
            }
            Err(e) => {
                report.errors.push(format!("{rooms} rooms: {e:#}"));
                break;
            }
        }
        // Two steps past the target say enough.
        if over >= 2 {
            break;
        }
        // Let the server close the last step's rooms.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    report
}
