//! Everything treff keeps in Redis, and the two tasks that carry messages between nodes.
//!
//! | key | holds | expiry |
//! |---|---|---|
//! | `treff:room:{name}:owner` | the lease: `"{epoch} {run} {node}"` | [`LEASE`], renewed every [`RENEW_EVERY`] |
//! | `treff:room:{name}:epoch` | the room's last epoch (a counter, so epochs only grow) | 7 days |
//! | `treff:room:{name}:state` | the room's [`RoomState`](crate::room::RoomState) as JSON | [`STATE_TTL`], renewed with the lease |
//! | `treff:node:{node}:alive` | the node's run, while it runs | [`ALIVE`], renewed every [`RENEW_EVERY`] |
//! | channel `treff:node:{node}` | [`Envelope`](super::wire::Envelope)s for that node | - |
//!
//! Every change of a lease or of a room's state is a Lua script that first checks the lease
//! value, so a node that lost its lease can neither renew it nor overwrite the new owner's state.

use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Client, RedisResult, Script};
use tokio::sync::mpsc;

/// How long a lease lives without renewal: a dead owner's rooms are free this long after its
/// last renewal.
pub const LEASE: Duration = Duration::from_secs(5);
/// How often an owner renews its leases.
pub const RENEW_EVERY: Duration = Duration::from_secs(1);
/// An owner that could not renew for this long stops its rooms before the lease can lapse.
pub const FENCE_AFTER: Duration = Duration::from_millis(3500);
/// How long a room's state outlives its last renewal: long enough for every member to come
/// back within its resume grace after the owner died.
pub const STATE_TTL: Duration = Duration::from_secs(600);
/// A node that has not said it is alive for this long is gone: the rooms it owns hold its
/// members for their resume grace.
pub const ALIVE: Duration = Duration::from_secs(4);
/// How long one Redis command may take before it counts as failed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(1500);

const ACQUIRE: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[4] then return {0, cur} end
local epoch = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], 604800000)
local value = epoch .. ' ' .. ARGV[1] .. ' ' .. ARGV[2]
redis.call('SET', KEYS[1], value, 'PX', ARGV[3])
return {1, value}
";

// Renews a lease; a lease that is gone altogether (Redis lost its data) is taken back with a
// new epoch, since nobody else holds it. Returns the lease value now, or false.
const RENEW: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return cur
end
if cur then return false end
local epoch = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], 604800000)
local value = epoch .. ' ' .. ARGV[4] .. ' ' .. ARGV[5]
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value
";

const SAVE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] == '1' then redis.call('DEL', KEYS[2]) end
return 1
";

/// A room's lease as it stands in Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Raised with every new owner: the fencing token.
    pub epoch: u64,
    /// The owner's run (a random number per process start).
    pub run: u64,
    /// The owner's node id.
    pub node: String,
    /// The value in Redis, which every guarded script compares.
    pub value: String,
}

impl Lease {
    /// Reads a lease value; `None` for anything else.
    pub fn parse(value: &str) -> Option<Lease> {
        let mut parts = value.splitn(3, ' ');
        let epoch = parts.next()?.parse().ok()?;
        let run = parts.next()?.parse().ok()?;
        let node = parts.next()?.to_owned();
        Some(Lease {
            epoch,
            run,
            node,
            value: value.to_owned(),
        })
    }
}

fn alive_key(node: &str) -> String {
    format!("treff:node:{node}:alive")
}

fn owner_key(room: &str) -> String {
    format!("treff:room:{room}:owner")
}

fn epoch_key(room: &str) -> String {
    format!("treff:room:{room}:epoch")
}

fn state_key(room: &str) -> String {
    format!("treff:room:{room}:state")
}

/// The channel a node reads its messages from.
pub fn channel(node: &str) -> String {
    format!("treff:node:{node}")
}

/// Commands on the cluster's Redis. Cheap to clone: one multiplexed connection that
/// reconnects by itself.
#[derive(Clone)]
pub struct Store {
    con: ConnectionManager,
    run: u64,
    node: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("node", &self.node).finish()
    }
}

/// Runs `fut`, failing it after [`COMMAND_TIMEOUT`].
async fn timed<T>(fut: impl std::future::Future<Output = RedisResult<T>>) -> RedisResult<T> {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(result) => result,
        Err(_) => Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "Redis did not answer in time",
        ))),
    }
}

impl Store {
    /// A store for node `node` in run `run`; connects lazily, so a node starts while Redis is
    /// down and joins the cluster once it is up.
    pub fn new(client: Client, node: String, run: u64) -> RedisResult<Store> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let con = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Store { con, run, node })
    }

    /// Takes the lease of `room` if nobody holds it, or if it still holds `stale` (a lease of
    /// an owner known to be gone). Returns whether this node took it, and the lease now.
    pub async fn acquire(&self, room: &str, stale: Option<&str>) -> RedisResult<(bool, Lease)> {
        let mut con = self.con.clone();
        let (took, value): (i64, String) = timed(
            Script::new(ACQUIRE)
                .key(owner_key(room))
                .key(epoch_key(room))
                .arg(self.run)
                .arg(&self.node)
                .arg(LEASE.as_millis() as u64)
                .arg(stale.unwrap_or(""))
                .invoke_async(&mut con),
        )
        .await?;
        let lease = Lease::parse(&value).ok_or_else(|| {
            redis::RedisError::from((redis::ErrorKind::Parse, "a lease that is not treff's"))
        })?;
        Ok((took == 1, lease))
    }

    /// Renews the leases (room, lease value) in one round trip, and says this node is alive.
    /// For each lease: the lease value now (a new one where Redis had lost the lease and this
    /// node took it back), or `None` where another node holds it.
    pub async fn renew(&self, leases: &[(String, String)]) -> RedisResult<Vec<Option<String>>> {
        let script = Script::new(RENEW);
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(alive_key(&self.node))
            .arg(self.run)
            .arg("PX")
            .arg(ALIVE.as_millis() as u64)
            .ignore();
        for (room, value) in leases {
            pipe.invoke_script(
                script
                    .key(owner_key(room))
                    .key(state_key(room))
                    .key(epoch_key(room))
                    .arg(value)
                    .arg(LEASE.as_millis() as u64)
                    .arg(STATE_TTL.as_millis() as u64)
                    .arg(self.run)
                    .arg(&self.node),
            );
        }
        let mut con = self.con.clone();
        // Scripts in a pipeline are sent as EVALSHA; load it first so none fails with NOSCRIPT.
        timed(script.prepare_invoke().load_async(&mut con)).await?;
        timed(pipe.query_async(&mut con)).await
    }

    /// Which of `nodes` said they were alive within [`ALIVE`].
    pub async fn alive(&self, nodes: &[String]) -> RedisResult<Vec<bool>> {
        if nodes.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = nodes.iter().map(|n| alive_key(n)).collect();
        let mut con = self.con.clone();
        let runs: Vec<Option<u64>> = timed(con.mget(keys)).await?;
        Ok(runs.into_iter().map(|r| r.is_some()).collect())
    }

    /// The current lease values of `rooms`, `None` where the lease lapsed.
    pub async fn owners(&self, rooms: &[String]) -> RedisResult<Vec<Option<String>>> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = rooms.iter().map(|r| owner_key(r)).collect();
        let mut con = self.con.clone();
        timed(con.mget(keys)).await
    }

    /// Stores `room`'s state if `lease` is still this node's.
    pub async fn save_state(&self, room: &str, lease: &str, state: &str) -> RedisResult<bool> {
        let mut con = self.con.clone();
        let saved: i64 = timed(
            Script::new(SAVE)
                .key(owner_key(room))
                .key(state_key(room))
                .arg(lease)
                .arg(state)
                .arg(STATE_TTL.as_millis() as u64)
                .invoke_async(&mut con),
        )
        .await?;
        Ok(saved == 1)
    }

    /// The state another owner left of `room`, if any.
    pub async fn load_state(&self, room: &str) -> RedisResult<Option<String>> {
        let mut con = self.con.clone();
        timed(con.get(state_key(room))).await
    }

    /// Gives up the lease of `room` if it is still `lease`; `drop_state` also forgets the room
    /// (it is empty), otherwise the next owner carries it on.
    pub async fn release(&self, room: &str, lease: &str, drop_state: bool) -> RedisResult<bool> {
        let mut con = self.con.clone();
        let released: i64 = timed(
            Script::new(RELEASE)
                .key(owner_key(room))
                .key(state_key(room))
                .arg(lease)
                .arg(if drop_state { "1" } else { "0" })
                .invoke_async(&mut con),
        )
        .await?;
        Ok(released == 1)
    }

    /// Publishes `messages` (channel, payload) in order, in one round trip.
    pub async fn publish(&self, messages: &[(String, String)]) -> RedisResult<()> {
        let mut pipe = redis::pipe();
        for (channel, payload) in messages {
            pipe.publish(channel, payload).ignore();
        }
        let mut con = self.con.clone();
        timed(pipe.query_async::<()>(&mut con)).await
    }
}

/// Publishes what arrives on `outbox`, in order, batching what queued up meanwhile. A batch
/// that fails is lost; its addressees notice the gap in the numbers and resynchronise.
pub async fn publisher(store: Store, mut outbox: mpsc::UnboundedReceiver<(String, String)>) {
    let mut batch = Vec::new();
    while outbox.recv_many(&mut batch, 512).await > 0 {
        if let Err(err) = store.publish(&batch).await {
            tracing::warn!(error = %err, lost = batch.len(), "cannot publish to other nodes");
        }
        batch.clear();
    }
}

/// What the subscriber task reports.
#[derive(Debug)]
pub enum Subscription {
    /// Subscribed (again): anything published meanwhile was lost.
    Up,
    /// The subscription broke; reconnecting.
    Down,
    /// A message on this node's channel.
    Message(String),
}

/// Reads this node's channel for as long as `report` accepts, resubscribing after every
/// break.
pub async fn subscriber(
    client: Client,
    channel: String,
    report: mpsc::UnboundedSender<Subscription>,
) {
    loop {
        let connected = tokio::time::timeout(COMMAND_TIMEOUT, client.get_async_pubsub()).await;
        let mut pubsub = match connected {
            Ok(Ok(pubsub)) => pubsub,
            Ok(Err(_)) | Err(_) => {
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        if let Err(err) = pubsub.subscribe(&channel).await {
            tracing::warn!(error = %err, "cannot subscribe to this node's channel");
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        if report.send(Subscription::Up).is_err() {
            return;
        }
        let mut messages = pubsub.into_on_message();
        while let Some(msg) = messages.next().await {
            let Ok(payload) = msg.get_payload::<String>() else {
                continue;
            };
            if report.send(Subscription::Message(payload)).is_err() {
                return;
            }
        }
        if report.send(Subscription::Down).is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_value_names_epoch_run_and_node() {
        let lease = Lease::parse("12 987 host a:8000").unwrap();
        assert_eq!((lease.epoch, lease.run), (12, 987));
        assert_eq!(lease.node, "host a:8000");
        assert_eq!(Lease::parse("x 1 a"), None);
        assert_eq!(Lease::parse("1 2"), None);
    }
}
