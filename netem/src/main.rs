//! `treff-netem --queue N [--delay-ms D] [--loss-percent L] [--seed S]`: takes the packets
//! iptables sends to NFQUEUE `N` and lets them go `D` ms later, dropping `L` % of them.
//! Runs until killed; the namespace it serves goes with it.

use std::io::ErrorKind;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nfq::{Queue, Verdict as NfVerdict};
use treff_netem::{DelayLine, Impairment, Verdict};

const USAGE: &str = "usage: treff-netem --queue N [--delay-ms D] [--loss-percent L] [--seed S]";

struct Options {
    queue: u16,
    impairment: Impairment,
    seed: u64,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut queue = None;
    let mut delay = Duration::ZERO;
    let mut loss = 0.0;
    let mut seed = 1;
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--queue" => queue = Some(value()?.parse().map_err(|e| format!("--queue: {e}"))?),
            "--delay-ms" => {
                delay =
                    Duration::from_millis(value()?.parse().map_err(|e| format!("--delay-ms: {e}"))?)
            }
            "--loss-percent" => {
                let percent: f64 = value()?
                    .parse()
                    .map_err(|e| format!("--loss-percent: {e}"))?;
                if !(0.0..=100.0).contains(&percent) {
                    return Err("--loss-percent: must be between 0 and 100".into());
                }
                loss = percent / 100.0;
            }
            "--seed" => seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Options {
        queue: queue.ok_or("--queue is required")?,
        impairment: Impairment { delay, loss },
        seed,
    })
}

fn run(options: Options) -> std::io::Result<()> {
    let mut queue = Queue::open()?;
    queue.bind(options.queue)?;
    // Above this many held packets the kernel passes new ones untouched rather than queue
    // them without end.
    queue.set_fail_open(options.queue, true)?;
    queue.set_queue_max_len(options.queue, 10_000)?;
    queue.set_nonblocking(true);
    let mut line = DelayLine::new(options.impairment, options.seed);
    loop {
        let now = Instant::now();
        let mut idle = true;
        match queue.recv() {
            Ok(mut message) => {
                idle = false;
                match line.arrive(message, now) {
                    Some(Verdict::Pass(m)) => {
                        message = m;
                        message.set_verdict(NfVerdict::Accept);
                        queue.verdict(message)?;
                    }
                    Some(Verdict::Drop(m)) => {
                        message = m;
                        message.set_verdict(NfVerdict::Drop);
                        queue.verdict(message)?;
                    }
                    None => {}
                }
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => {}
            Err(err) => return Err(err),
        }
        while let Some(mut message) = line.release(Instant::now()) {
            message.set_verdict(NfVerdict::Accept);
            queue.verdict(message)?;
        }
        if idle {
            // Nothing came: wait a little, never past the next packet's time.
            let wait = line.next_due().map_or(Duration::from_millis(1), |due| {
                due.saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(1))
            });
            std::thread::sleep(wait);
        }
    }
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(err) => {
            eprintln!("treff-netem: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("treff-netem: {err}");
            ExitCode::FAILURE
        }
    }
}
