//! The processes of a cluster run: a `redis-server` of the benchmark's own on a free loopback
//! port, and treff nodes sharing rooms through it, each the real binary as a process of its
//! own (pinned with `taskset` when asked), its output in a log file. Every process started
//! here is killed by its id when its [`Process`] is dropped, however the run ends.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use serde::Serialize;

use crate::procfs;

/// Longest wait for a process to come up.
const START_PATIENCE: Duration = Duration::from_secs(10);

/// The log filter of every node: warnings, and the line with the address it listens on.
const NODE_LOG: &str = "warn,treff=info,treff_server=warn";

/// How to start the processes.
pub struct Launch {
    /// The `treff` binary.
    pub treff: PathBuf,
    /// The `redis-server` binary.
    pub redis_server: PathBuf,
    /// CPUs to pin every process to (a `taskset -c` list); `None` leaves them unpinned.
    pub cpus: Option<String>,
    /// Server flags beyond the address, static directory and cluster settings.
    pub flags: Vec<String>,
    /// Directory for the log files.
    pub logs: PathBuf,
}

/// One process started by the benchmark.
pub struct Process {
    /// Its name in the report (`redis`, `node-a`, ...).
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process id.
    pub pid: u32,
    /// Its stdout and stderr.
    pub log: PathBuf,
    child: Option<Child>,
}

/// A process as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessInfo {
    /// Its name.
    pub name: String,
    /// Where it listened.
    pub addr: String,
    /// Its process id.
    pub pid: u32,
    /// CPUs it was allowed to run on.
    pub cpus_allowed: String,
    /// Its log file.
    pub log: String,
}

impl Process {
    /// Kills it with SIGKILL (no goodbye to anyone) and reaps it.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child
                .kill()
                .with_context(|| format!("cannot kill {} ({})", self.name, self.pid))?;
            child.wait()?;
        }
        Ok(())
    }

    /// `ws://<addr>/ws`.
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// What the report shows of it.
    pub fn info(&self) -> ProcessInfo {
        ProcessInfo {
            name: self.name.clone(),
            addr: self.addr.to_string(),
            pid: self.pid,
            cpus_allowed: procfs::cpus_allowed(Some(self.pid)),
            log: self.log.display().to_string(),
        }
    }

    /// Fails, with the end of its log, if it has exited.
    fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(child) = &mut self.child {
            if let Some(status) = child.try_wait()? {
                self.child = None;
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(10).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                bail!("{} exited ({status}):\n{}", self.name, tail.join("\n"));
            }
        }
        Ok(())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

impl Launch {
    fn command(&self, program: &Path, log: &Path) -> anyhow::Result<Command> {
        let mut command = match &self.cpus {
            Some(cpus) => {
                // taskset execs the program, so the child's id is the program's.
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus).arg(program);
                c
            }
            None => Command::new(program),
        };
        let out = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .env("NO_COLOR", "1");
        Ok(command)
    }

    /// Starts `redis-server` without persistence on a free loopback port below the ephemeral
    /// range, so no client connection can take the port meanwhile.
    pub async fn redis(&self) -> anyhow::Result<Process> {
        let port = free_port()?;
        let log = self.logs.join("cluster-redis.log");
        let child = self
            .command(&self.redis_server, &log)?
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .spawn()
            .with_context(|| format!("cannot start {}", self.redis_server.display()))?;
        let mut redis = Process {
            name: "redis".into(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            pid: child.id(),
            log,
            child: Some(child),
        };
        let started = Instant::now();
        while tokio::net::TcpStream::connect(redis.addr).await.is_err() {
            redis.check_running()?;
            if started.elapsed() > START_PATIENCE {
                bail!("redis-server does not accept connections on {}", redis.addr);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(redis)
    }

    /// Starts a treff node on a port of its own choosing; with `redis`, as node `name` of the
    /// cluster, up once its `/healthz` says it joined (`"redis":"up"`).
    pub async fn node(&self, name: &str, redis: Option<&Process>) -> anyhow::Result<Process> {
        let log = self.logs.join(format!("cluster-{name}.log"));
        let mut command = self.command(&self.treff, &log)?;
        command
            .args(["--listen", "127.0.0.1:0", "--static-dir", "/nonexistent"])
            .args(["--log", NODE_LOG])
            .args(&self.flags);
        if let Some(redis) = redis {
            command
                .arg("--redis-url")
                .arg(format!("redis://{}/0", redis.addr))
                .args(["--node-id", name]);
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.treff.display()))?;
        let mut node = Process {
            name: name.into(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            pid: child.id(),
            log,
            child: Some(child),
        };
        let started = Instant::now();
        let mut last = String::from("no answer");
        loop {
            node.check_running()?;
            if started.elapsed() > START_PATIENCE {
                bail!("{name} did not come up within {START_PATIENCE:?}: {last}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            if node.addr.port() == 0 {
                let log = std::fs::read_to_string(&node.log).unwrap_or_default();
                let found = log
                    .split("listening on http://")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|addr| addr.parse().ok());
                match found {
                    Some(addr) => node.addr = addr,
                    None => continue,
                }
            }
            match procfs::healthz_json(node.addr).await {
                Ok((200, body)) if redis.is_none() || body["redis"] == "up" => return Ok(node),
                Ok((status, body)) => last = format!("/healthz {status} {body}"),
                Err(err) => last = format!("{err:#}"),
            }
        }
    }
}

/// A free loopback port between 20000 and the start of the ephemeral range.
fn free_port() -> anyhow::Result<u16> {
    let range =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let low: u16 = range
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(32768);
    let span = u64::from(low.saturating_sub(20000).max(1));
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    for _ in 0..100 {
        // xorshift: spread over the range without a dependency for it.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let port = 20000 + (seed % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port between 20000 and {low}")
}
