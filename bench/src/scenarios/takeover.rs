//! Takeover: the node that owns every room dies, and everyone carries on at the other node.
//!
//! Pairs (one room each) join with the caller on node A, which thereby owns every room, and the
//! callee on node B. Callers send ~1 KB offers at a steady rate and callees send them back, as
//! in the relay scenario. Then node A is killed with SIGKILL: the callers' connections break at
//! once, and node B closes the callees' with 1012 when it sees the owner's lease lapse. Every
//! member re-joins on node B with the resume token of its welcome, trying again every 300 ms
//! while B answers `unavailable` (the lease still names the dead node), as the web app does.
//!
//! Measured: the time from the kill to each member's resumed welcome, the time to each room's
//! first round trip after the kill, and the round trips before and after. It fails loudly: a
//! member not back within the patience, back without `resumed` or with another peer id, closed
//! by node B with another code than 1012, or a room that loses offers while both its members
//! are connected is an error of the run.

use std::cell::Cell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use treff_shared::{close_code, ClientMessage, ErrorCode, PeerId, ServerMessage, Welcome};

use super::Ctx;
use crate::client::{self, Ws};
use crate::procfs::{self, round};
use crate::stats::Latency;

/// Pause between two joins answered `unavailable`, as in the web app.
const RETRY: Duration = Duration::from_millis(300);
/// Longest wait for the answer to one join (the node answers within 3 s).
const JOIN_ANSWER: Duration = Duration::from_secs(5);
/// How long members wait for the last answers after the callers stopped sending.
const DRAIN: Duration = Duration::from_secs(2);
/// Offers sent this long before the kill must have come back.
const IN_FLIGHT: Duration = Duration::from_secs(1);

/// The settings of the takeover scenario.
pub struct TakeoverPlan {
    /// Pairs, one room each, all owned by node A.
    pub pairs: usize,
    /// Round trips per second per pair.
    pub rate_per_pair: f64,
    /// Steady load before the kill.
    pub before: Duration,
    /// Load after the last member is back.
    pub after: Duration,
    /// Longest time from the kill to a member's resumed welcome.
    pub patience: Duration,
}

/// What the takeover scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct Takeover {
    /// Pairs (rooms).
    pub pairs: usize,
    /// Members (two per pair).
    pub members: usize,
    /// Round trips per second asked for, all pairs together.
    pub target_rt_per_s: f64,
    /// Longest time allowed from the kill to a member's resumed welcome, seconds.
    pub patience_s: f64,
    /// Rooms node A owned before the kill (should be every room).
    pub rooms_owned_by_a: Option<i64>,
    /// Rooms node B owned at the end (should be every room).
    pub rooms_owned_by_b_after: Option<i64>,
    /// Round trips of offers sent before the kill.
    pub round_trip_before: Latency,
    /// Offers sent more than 1 s before the kill that did not come back (should be none).
    pub lost_before: u64,
    /// From the kill to the end of each caller's connection to node A.
    pub broken_at_a: Latency,
    /// From the kill to node B's close (1012) of each callee's connection.
    pub closed_by_b: Latency,
    /// Members back with `resumed` and their own peer id.
    pub resumed: usize,
    /// From the kill to each member's resumed welcome (p50 the median, max the last).
    pub resume: Latency,
    /// The same, callers only (they were on the killed node).
    pub resume_callers: Latency,
    /// The same, callees only (they were on node B).
    pub resume_callees: Latency,
    /// Joins sent on the way back, all members together.
    pub join_attempts: u64,
    /// Of those, the ones answered `unavailable`.
    pub unavailable: u64,
    /// Members asked to resume again after they were back.
    pub asked_again: usize,
    /// From the kill to each room's first round trip of an offer sent after the kill.
    pub first_round_trip_after: Latency,
    /// Offers sent from 1 s before the kill until both members of the room were back that did
    /// not come back (expected: the room had no owner).
    pub lost_during: u64,
    /// Round trips of offers sent once both members of the room were back.
    pub round_trip_after: Latency,
    /// Offers sent once both members of the room were back.
    pub sent_after: u64,
    /// Of those, the ones that did not come back (should be none).
    pub lost_after: u64,
    /// What went wrong, one line each; empty when the takeover worked.
    pub failures: Vec<String>,
}

/// The phases of the members' load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Run,
    StopSending,
    Close,
}

/// What every member task shares.
struct Shared {
    killed: Cell<Option<Instant>>,
    /// Members that are back or gave up.
    settled: Cell<usize>,
    b_url: String,
    patience: Duration,
}

impl Shared {
    fn settle(&self) {
        self.settled.set(self.settled.get() + 1);
    }
}

/// One member's account of the run.
#[derive(Default)]
struct Member {
    /// Ends of its connections: when, and the close code (`None`: broken without a close).
    ends: Vec<(Instant, Option<u16>)>,
    /// The first resumed welcome after the kill.
    resumed_at: Option<Instant>,
    attempts: u64,
    unavailable: u64,
    failure: Option<String>,
    /// Callers: offers sent (sequence number, when).
    sent: Vec<(u64, Instant)>,
    /// Callers: answers (sequence number, when).
    answers: Vec<(u64, Instant)>,
}

/// One member: who it is and where it is.
struct Seat {
    room: String,
    name: &'static str,
    welcome: Welcome,
    /// Callers: whom to send offers to.
    callee: Option<PeerId>,
}

/// Runs the scenario; `ctx.url` is node A, `ctx.second_url` node B (at `b`), and `kill_a`
/// kills node A with SIGKILL.
pub async fn run(
    ctx: &Ctx,
    plan: &TakeoverPlan,
    b: SocketAddr,
    kill_a: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<Takeover> {
    let setups: Vec<_> = (0..plan.pairs)
        .map(|i| {
            let (a_url, b_url) = (ctx.url.clone(), ctx.second_url.clone());
            let room = format!("{}takeover-{i}", ctx.rooms);
            tokio::task::spawn_local(async move {
                let (mut caller, caller_w) =
                    client::connect_and_join(&a_url, &room, "Caller").await?;
                let (callee, callee_w) = client::connect_and_join(&b_url, &room, "Callee").await?;
                client::wait_peer_joined(&mut caller).await?;
                anyhow::Ok((room, caller, caller_w, callee, callee_w))
            })
        })
        .collect();
    let mut joined = Vec::with_capacity(plan.pairs);
    for setup in setups {
        joined.push(setup.await??);
    }
    let mut failures = Vec::new();
    let owned = |addr| async move {
        procfs::healthz_json(addr)
            .await
            .ok()
            .and_then(|(_, v)| v.get("rooms_owned").and_then(serde_json::Value::as_i64))
    };
    let rooms_owned_by_a = owned(ctx.addr).await;
    if rooms_owned_by_a != Some(plan.pairs as i64) {
        failures.push(format!(
            "node A owns {rooms_owned_by_a:?} rooms before the kill, not all {}",
            plan.pairs
        ));
    }

    let shared = Rc::new(Shared {
        killed: Cell::new(None),
        settled: Cell::new(0),
        b_url: ctx.second_url.clone(),
        patience: plan.patience,
    });
    let (stage_tx, stage_rx) = watch::channel(Stage::Run);
    let period = Duration::from_secs_f64(1.0 / plan.rate_per_pair);
    let mut tasks = Vec::with_capacity(2 * plan.pairs);
    for (i, (room, caller, caller_w, callee, callee_w)) in joined.into_iter().enumerate() {
        // Spread the pairs' schedules over one sending period.
        let phase = period.mul_f64(i as f64 / plan.pairs as f64);
        let callee_id = callee_w.peer_id.clone();
        let seat = Seat {
            room: room.clone(),
            name: "Caller",
            welcome: caller_w,
            callee: Some(callee_id),
        };
        tasks.push(tokio::task::spawn_local(member(
            caller,
            seat,
            period,
            phase,
            shared.clone(),
            stage_rx.clone(),
        )));
        let seat = Seat {
            room,
            name: "Callee",
            welcome: callee_w,
            callee: None,
        };
        tasks.push(tokio::task::spawn_local(member(
            callee,
            seat,
            period,
            phase,
            shared.clone(),
            stage_rx.clone(),
        )));
    }

    tokio::time::sleep(plan.before).await;
    let killed = Instant::now();
    shared.killed.set(Some(killed));
    kill_a()?;
    eprintln!("takeover: node A killed");
    let give_up = killed + plan.patience + Duration::from_secs(1);
    while shared.settled.get() < tasks.len() && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "takeover: {} of {} members settled after {:.2} s",
        shared.settled.get(),
        tasks.len(),
        killed.elapsed().as_secs_f64()
    );
    tokio::time::sleep(plan.after).await;
    let _ = stage_tx.send(Stage::StopSending);
    tokio::time::sleep(DRAIN).await;
    let rooms_owned_by_b_after = owned(b).await;
    if rooms_owned_by_b_after != Some(plan.pairs as i64) {
        failures.push(format!(
            "node B owns {rooms_owned_by_b_after:?} rooms after the takeover, not all {}",
            plan.pairs
        ));
    }
    let _ = stage_tx.send(Stage::Close);
    let mut members = Vec::with_capacity(tasks.len());
    for task in tasks {
        members.push(task.await?);
    }

    let ms = |d: Duration| d.as_nanos() as u64;
    let since_kill = |at: Instant| ms(at.saturating_duration_since(killed));
    let mut resume = Vec::new();
    let mut resume_callers = Vec::new();
    let mut resume_callees = Vec::new();
    let mut broken_at_a = Vec::new();
    let mut closed_by_b = Vec::new();
    let (mut attempts, mut unavailable, mut asked_again) = (0, 0, 0);
    for (n, m) in members.iter().enumerate() {
        let pair = n / 2;
        let is_caller = n % 2 == 0;
        let who = format!(
            "room {}takeover-{pair}, {}",
            ctx.rooms,
            if is_caller {
                "caller (node A)"
            } else {
                "callee (node B)"
            }
        );
        attempts += m.attempts;
        unavailable += m.unavailable;
        asked_again += usize::from(m.ends.len() > 1);
        match m.ends.first() {
            Some(&(at, _)) if is_caller => broken_at_a.push(since_kill(at)),
            Some(&(at, code)) => {
                closed_by_b.push(since_kill(at));
                if code != Some(close_code::SERVER_RESTART) {
                    failures.push(format!(
                        "{who}: node B closed its connection with {code:?}, not 1012"
                    ));
                }
            }
            None => {}
        }
        if let Some(failure) = &m.failure {
            failures.push(format!("{who}: {failure}"));
        } else if let Some(at) = m.resumed_at {
            let took = since_kill(at);
            resume.push(took);
            if is_caller {
                resume_callers.push(took);
            } else {
                resume_callees.push(took);
            }
        } else if m.ends.is_empty() {
            failures.push(format!(
                "{who}: its connection was neither broken nor closed within {:?} of the kill",
                plan.patience
            ));
        } else {
            failures.push(format!("{who}: not back within {:?}", plan.patience));
        }
    }

    // Round trips, room by room: the caller's offers against the callee's answers.
    let (mut before, mut after, mut first_after) = (Vec::new(), Vec::new(), Vec::new());
    let (mut lost_before, mut lost_during, mut sent_after, mut lost_after) = (0, 0, 0, 0);
    for (pair, two) in members.chunks(2).enumerate() {
        let [caller, callee] = two else { continue };
        let both_back = caller
            .resumed_at
            .zip(callee.resumed_at)
            .map(|(x, y)| x.max(y));
        let answered: HashMap<u64, Instant> = caller.answers.iter().copied().collect();
        let (mut room_sent_after, mut room_lost_after) = (0, 0);
        let mut first: Option<Instant> = None;
        for &(seq, sent) in &caller.sent {
            let answer = answered.get(&seq).copied();
            if sent < killed {
                match answer {
                    Some(at) => before.push(ms(at - sent)),
                    None if sent + IN_FLIGHT < killed => lost_before += 1,
                    None => lost_during += 1,
                }
                continue;
            }
            if let Some(at) = answer {
                first = Some(first.map_or(at, |f| f.min(at)));
            }
            if both_back.is_some_and(|back| sent >= back) {
                room_sent_after += 1;
                match answer {
                    Some(at) => after.push(ms(at - sent)),
                    None => room_lost_after += 1,
                }
            } else if answer.is_none() {
                lost_during += 1;
            }
        }
        if let Some(at) = first {
            first_after.push(since_kill(at));
        }
        if both_back.is_some() {
            if room_sent_after == 0 {
                failures.push(format!(
                    "room {}takeover-{pair}: no offer was sent once both members were back",
                    ctx.rooms
                ));
            } else if room_lost_after > 0 {
                failures.push(format!(
                    "room {}takeover-{pair}: {room_lost_after} of {room_sent_after} offers sent once both members were back did not come back",
                    ctx.rooms
                ));
            }
        }
        sent_after += room_sent_after;
        lost_after += room_lost_after;
    }
    if lost_before > 0 {
        failures.push(format!(
            "{lost_before} offers sent more than {IN_FLIGHT:?} before the kill did not come back"
        ));
    }

    Ok(Takeover {
        pairs: plan.pairs,
        members: members.len(),
        target_rt_per_s: round(plan.rate_per_pair * plan.pairs as f64, 1),
        patience_s: plan.patience.as_secs_f64(),
        rooms_owned_by_a,
        rooms_owned_by_b_after,
        round_trip_before: Latency::from_nanos(before),
        lost_before,
        broken_at_a: Latency::from_nanos(broken_at_a),
        closed_by_b: Latency::from_nanos(closed_by_b),
        resumed: resume.len(),
        resume: Latency::from_nanos(resume),
        resume_callers: Latency::from_nanos(resume_callers),
        resume_callees: Latency::from_nanos(resume_callees),
        join_attempts: attempts,
        unavailable,
        asked_again,
        first_round_trip_after: Latency::from_nanos(first_after),
        lost_during,
        round_trip_after: Latency::from_nanos(after),
        sent_after,
        lost_after,
        failures,
    })
}

/// One member from its first welcome to the end of the run: callers send offers on schedule
/// and note the answers, callees send every offer back; whenever the connection ends after
/// the kill, the member re-joins on node B with its resume token.
async fn member(
    mut ws: Ws,
    seat: Seat,
    period: Duration,
    phase: Duration,
    shared: Rc<Shared>,
    mut stage: watch::Receiver<Stage>,
) -> Member {
    let mut m = Member::default();
    let mut token = seat.welcome.resume_token.clone();
    let mut ticker = tokio::time::interval_at(Instant::now() + phase, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut seq = 0u64;
    loop {
        let code = loop {
            let sending = seat.callee.is_some() && *stage.borrow() == Stage::Run;
            tokio::select! {
                changed = stage.changed() => {
                    if changed.is_err() || *stage.borrow() == Stage::Close {
                        client::close(ws).await;
                        return m;
                    }
                }
                _ = ticker.tick(), if sending => {
                    let Some(callee) = &seat.callee else { continue };
                    let msg = ClientMessage::Signal {
                        to: callee.clone(),
                        data: client::offer(0, seq, 0),
                    };
                    let at = Instant::now();
                    if ws.send(client::frame(&msg)).await.is_err() {
                        break None;
                    }
                    m.sent.push((seq, at));
                    seq += 1;
                }
                item = ws.next() => match item {
                    Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
                    Some(Ok(msg)) => {
                        let Ok(Some(ServerMessage::Signal { from, data })) = client::decode(&msg) else {
                            continue;
                        };
                        if seat.callee.is_some() {
                            if let Some((_, s, _)) = client::parse_offer(&data) {
                                m.answers.push((s, Instant::now()));
                            }
                        } else {
                            let answer = ClientMessage::Signal { to: from, data };
                            if ws.send(client::frame(&answer)).await.is_err() {
                                break None;
                            }
                        }
                    }
                    Some(Err(_)) | None => break None,
                },
            }
        };
        let ended = Instant::now();
        m.ends.push((ended, code));
        let Some(killed) = shared.killed.get() else {
            m.failure = Some(format!("its connection ended before the kill ({code:?})"));
            shared.settle();
            return m;
        };
        let back = rejoin(
            &shared.b_url,
            &seat,
            &token,
            killed,
            shared.patience,
            &mut m,
        )
        .await;
        match back {
            Ok((again, welcome)) => {
                if !welcome.resumed || welcome.peer_id != seat.welcome.peer_id {
                    m.failure = Some(format!(
                        "came back as {} (resumed: {}), not as {}",
                        welcome.peer_id, welcome.resumed, seat.welcome.peer_id
                    ));
                    if m.resumed_at.is_none() {
                        shared.settle();
                    }
                    client::close(again).await;
                    return m;
                }
                if m.resumed_at.is_none() {
                    m.resumed_at = Some(Instant::now());
                    shared.settle();
                }
                token = welcome.resume_token;
                ws = again;
            }
            Err(err) => {
                m.failure = Some(format!("{err:#}"));
                if m.resumed_at.is_none() {
                    shared.settle();
                }
                return m;
            }
        }
    }
}

/// Joins on node B with `token` until a welcome arrives, trying again after `unavailable` or
/// a connection that fails, for at most `patience` after the kill.
async fn rejoin(
    url: &str,
    seat: &Seat,
    token: &str,
    killed: Instant,
    patience: Duration,
    m: &mut Member,
) -> anyhow::Result<(Ws, Welcome)> {
    let deadline = killed + patience;
    let mut last = format!(
        "its connection ended only {:.2} s after the kill",
        killed.elapsed().as_secs_f64()
    );
    while Instant::now() < deadline {
        m.attempts += 1;
        match join_once(url, seat, token).await {
            Ok(Ok(back)) => return Ok(back),
            Ok(Err((code, message))) if code == ErrorCode::Unavailable => {
                m.unavailable += 1;
                last = format!("{code}: {message}");
            }
            Ok(Err((code, message))) => anyhow::bail!("re-join refused: {code}: {message}"),
            Err(err) => last = format!("{err:#}"),
        }
        tokio::time::sleep(RETRY).await;
    }
    anyhow::bail!("not back within {patience:?} of the kill (last answer: {last})")
}

/// One join with the resume token: the welcome, or the error frame's code and message.
async fn join_once(
    url: &str,
    seat: &Seat,
    token: &str,
) -> anyhow::Result<Result<(Ws, Welcome), (ErrorCode, String)>> {
    let mut ws = client::connect(url).await?;
    ws.send(client::resume_frame(
        &seat.room,
        seat.name,
        Some(token.to_owned()),
    )?)
    .await?;
    loop {
        match client::recv(&mut ws, JOIN_ANSWER).await? {
            ServerMessage::Welcome(welcome) => return Ok(Ok((ws, *welcome))),
            ServerMessage::Error { code, message } => return Ok(Err((code, message))),
            _ => continue,
        }
    }
}
