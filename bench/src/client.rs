//! A WebSocket client that speaks treff's protocol through `treff_shared`, as the web app does.
//!
//! Every wait here is bounded by [`PATIENCE`], so a server that stops answering fails the
//! scenario instead of hanging the benchmark.

use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use treff_shared::{
    ClientMessage, DisplayName, MediaState, PeerId, RoomName, ServerMessage, SessionDescription,
    SignalData, Welcome,
};

/// One client connection.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest wait for anything the server must do (connect, welcome, close).
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Length of the SDP in every relayed offer, chosen so a `signal` frame is about 1 KB.
pub const SDP_CHARS: usize = 940;

/// Opens `/ws` with Nagle off (as browsers do) and small buffers, so 10,000 clients fit in the
/// generator's memory.
pub async fn connect(url: &str) -> anyhow::Result<Ws> {
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(16 * 1024);
    let (ws, _) = timeout(
        PATIENCE,
        tokio_tungstenite::connect_async_with_config(url, Some(config), true),
    )
    .await
    .context("connect timed out")?
    .context("connect failed")?;
    Ok(ws)
}

/// A protocol frame as a WebSocket text message.
pub fn frame(msg: &ClientMessage) -> Message {
    Message::text(msg.encode())
}

/// The `join` frame the web app sends.
pub fn join_frame(room: &str, name: &str) -> anyhow::Result<Message> {
    resume_frame(room, name, None)
}

/// The `join` frame with the `resume_token` of an earlier welcome, which takes its peer id
/// back.
pub fn resume_frame(
    room: &str,
    name: &str,
    resume_token: Option<String>,
) -> anyhow::Result<Message> {
    Ok(frame(&ClientMessage::Join {
        room: RoomName::new(room)?,
        name: DisplayName::new(name)?,
        resume_token,
        media: MediaState {
            audio: true,
            video: true,
            screen: false,
        },
        password: None,
        token: None,
    }))
}

/// Decodes a text message; `None` for control frames.
pub fn decode(msg: &Message) -> anyhow::Result<Option<ServerMessage>> {
    match msg {
        Message::Text(text) => Ok(Some(
            ServerMessage::decode(text.as_str()).context("server frame does not decode")?,
        )),
        Message::Close(frame) => bail!("closed by the server: {frame:?}"),
        _ => Ok(None),
    }
}

/// The next protocol frame, skipping control frames; fails after `wait` or on close.
pub async fn recv(ws: &mut Ws, wait: Duration) -> anyhow::Result<ServerMessage> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let item = tokio::time::timeout_at(deadline, ws.next())
            .await
            .context("no frame in time")?;
        match item {
            Some(Ok(msg)) => {
                if let Some(frame) = decode(&msg)? {
                    return Ok(frame);
                }
            }
            Some(Err(err)) => return Err(err).context("websocket error"),
            None => bail!("connection ended"),
        }
    }
}

/// Sends `join` and waits for the welcome.
pub async fn join(ws: &mut Ws, room: &str, name: &str) -> anyhow::Result<Welcome> {
    ws.send(join_frame(room, name)?).await?;
    loop {
        match recv(ws, PATIENCE).await? {
            ServerMessage::Welcome(welcome) => return Ok(*welcome),
            ServerMessage::Error { code, message } => bail!("join refused: {code}: {message}"),
            _ => continue,
        }
    }
}

/// Connects and joins.
pub async fn connect_and_join(url: &str, room: &str, name: &str) -> anyhow::Result<(Ws, Welcome)> {
    let mut ws = connect(url).await?;
    let welcome = join(&mut ws, room, name).await?;
    Ok((ws, welcome))
}

/// Waits for the next `peer-joined` and returns the newcomer's id.
pub async fn wait_peer_joined(ws: &mut Ws) -> anyhow::Result<PeerId> {
    loop {
        if let ServerMessage::PeerJoined { peer } = recv(ws, PATIENCE).await? {
            return Ok(peer.peer_id);
        }
    }
}

/// Closes with 1000 (the member leaves at once) and waits for the server's close.
pub async fn close(mut ws: Ws) {
    let normal = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    if ws.close(Some(normal)).await.is_err() {
        return;
    }
    let _ = timeout(PATIENCE, async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// An offer of [`SDP_CHARS`] characters that carries its step, sequence number and send time,
/// so the receiver measures latency without any shared state.
pub fn offer(step: u32, seq: u64, sent_ns: u64) -> SignalData {
    let head = format!("v=0\r\no=- {step} {seq} {sent_ns} IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
    let pad = SDP_CHARS.saturating_sub(head.len() + "a=x-pad:\r\n".len());
    let mut sdp = String::with_capacity(SDP_CHARS);
    sdp.push_str(&head);
    sdp.push_str("a=x-pad:");
    sdp.extend(std::iter::repeat_n('x', pad));
    sdp.push_str("\r\n");
    SignalData::Description(SessionDescription::new(treff_shared::SdpType::Offer, sdp))
}

/// The step, sequence number and send time written by [`offer`].
pub fn parse_offer(data: &SignalData) -> Option<(u32, u64, u64)> {
    let SignalData::Description(desc) = data else {
        return None;
    };
    let mut origin = desc.sdp.lines().nth(1)?.split_whitespace().skip(1);
    let step = origin.next()?.parse().ok()?;
    let seq = origin.next()?.parse().ok()?;
    let sent = origin.next()?.parse().ok()?;
    Some((step, seq, sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_round_trip_their_stamp_and_are_about_one_kilobyte() {
        let data = offer(3, 42, 123_456_789);
        assert_eq!(parse_offer(&data), Some((3, 42, 123_456_789)));
        let SignalData::Description(desc) = &data else {
            unreachable!()
        };
        assert_eq!(desc.sdp.len(), SDP_CHARS);
        let to = PeerId::new("k3x9m2pq7a").unwrap();
        let len = ClientMessage::Signal { to, data }.encode().len();
        assert!((1000..1100).contains(&len), "frame of {len} bytes");
    }
}
