//! Several treff nodes sharing rooms through Redis (`--redis-url`).
//!
//! Each room runs on exactly one node, its *owner*, which holds the room's lease in Redis with
//! an epoch (a fencing token) and renews it every second. A member may connect to any node; that
//! node forwards the member's frames to the owner and the owner's frames back, over Redis
//! pub/sub, numbered so a lost message is noticed and answered with a resync. The owner keeps
//! the room's lasting state (members with their resume tokens, chat, settings) in Redis, so when
//! it dies another node takes the room over with the next epoch and the members resume there
//! with their peer ids. `docs/CLUSTER.md` describes the design and its failure cases.
//!
//! - [`wire`]: the messages between nodes;
//! - [`link`]: their numbering and gap detection (sans-IO);
//! - [`store`]: the keys and scripts in Redis, and the publish and subscribe tasks;
//! - [`node`]: the node actor that ties them to the registry and the rooms.

pub mod link;
pub mod node;
pub mod relay;
pub mod store;
pub mod wire;
