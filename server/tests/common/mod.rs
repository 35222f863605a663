//! Test harness: the real server on a loopback port, and a real WebSocket client.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream as TokioTcp;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use treff_server::Config;
use treff_shared::{ClientMessage, DisplayName, MediaState, RoomName, ServerMessage, Welcome};

/// How long a test waits for a frame it expects.
pub const PATIENCE: Duration = Duration::from_secs(3);

/// The real server, running in its own thread with its own actix system.
pub struct TestServer {
    pub addr: SocketAddr,
    pub tls: bool,
    handle: actix_web::dev::ServerHandle,
    /// Completes the server's shutdown future: what SIGTERM is for the binary.
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// Fires when the server future has completed.
    stopped: tokio::sync::oneshot::Receiver<()>,
}

impl TestServer {
    /// Starts the server with the default configuration changed by `tweak`.
    pub fn start(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let listener = treff_server::listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config::with_defaults(addr);
        config.workers = Some(1);
        config.static_dir = PathBuf::from("/nonexistent");
        tweak(&mut config);
        let tls = config.tls_cert.is_some();
        let (tx, rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                // Only an explicit `shut_down` stops gracefully; dropping the server does not.
                let shutdown = async move {
                    if shutdown_rx.await.is_err() {
                        std::future::pending::<()>().await;
                    }
                };
                let server = treff_server::run(listener, config, shutdown).expect("server starts");
                tx.send(server.handle()).unwrap();
                let _ = server.await;
                let _ = stopped_tx.send(());
            })
        });
        let handle = rx.recv().expect("server thread started");
        TestServer {
            addr,
            tls,
            handle,
            shutdown: Some(shutdown_tx),
            stopped: stopped_rx,
        }
    }

    /// Completes the server's shutdown future, as SIGTERM does for the binary.
    pub fn shut_down(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.send(()).expect("server still running");
        }
    }

    /// True when the server future completes within `wait`.
    pub async fn stopped_within(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, &mut self.stopped).await.is_ok()
    }

    pub fn ws_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/ws", self.addr)
    }

    /// A plain-HTTP GET; returns the status code, the headers and the body.
    pub fn get(&self, path: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        parse_http(&raw)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // The stop command is sent at once; the server thread ends by itself.
        drop(self.handle.stop(false));
    }
}

pub fn parse_http(raw: &str) -> (u16, String, String) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

type Ws = WebSocketStream<MaybeTlsStream<TokioTcp>>;

/// A WebSocket client speaking the protocol through `treff_shared`.
pub struct Client {
    ws: Ws,
}

impl Client {
    pub async fn connect(server: &TestServer) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(server.ws_url())
            .await
            .expect("websocket connects");
        Client { ws }
    }

    /// Connects with a given Origin header; returns the HTTP status on refusal.
    pub async fn connect_with_origin(server: &TestServer, origin: &str) -> Result<Client, u16> {
        let mut req = server.ws_url().into_client_request().unwrap();
        req.headers_mut().insert("Origin", origin.parse().unwrap());
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => Ok(Client { ws }),
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    pub fn from_stream(ws: Ws) -> Client {
        Client { ws }
    }

    pub async fn send(&mut self, msg: &ClientMessage) {
        self.send_text(&msg.encode()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    pub async fn send_raw(&mut self, msg: Message) {
        self.ws.send(msg).await.expect("send");
    }

    /// The next protocol frame (control frames are skipped); panics after [`PATIENCE`].
    pub async fn recv(&mut self) -> ServerMessage {
        match self.next_event(PATIENCE).await {
            Some(Event::Frame(msg)) => msg,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// The next frame or close within `wait`, or `None` when nothing arrived.
    pub async fn next_event(&mut self, wait: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let item = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match item {
                Some(Ok(Message::Text(text))) => {
                    return Some(Event::Frame(
                        ServerMessage::decode(&text).expect("server frames decode"),
                    ))
                }
                Some(Ok(Message::Close(frame))) => {
                    return Some(Event::Closed(frame.map(|f| u16::from(f.code))))
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Some(Event::Closed(None)),
            }
        }
    }

    /// Asserts that no protocol frame arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Some(event) = self.next_event(wait).await {
            panic!("expected silence, got {event:?}");
        }
    }

    /// Joins `room` as `name` and returns the welcome.
    pub async fn join(&mut self, room: &str, name: &str) -> Welcome {
        self.join_with(room, name, None).await
    }

    pub async fn join_with(&mut self, room: &str, name: &str, token: Option<String>) -> Welcome {
        self.send_join(room, name, token, None, None).await;
        self.expect_welcome().await
    }

    /// Sends a join frame with every optional field.
    pub async fn send_join(
        &mut self,
        room: &str,
        name: &str,
        resume_token: Option<String>,
        password: Option<&str>,
        token: Option<&str>,
    ) {
        self.send(&ClientMessage::Join {
            room: RoomName::new(room).unwrap(),
            name: DisplayName::new(name).unwrap(),
            resume_token,
            media: MediaState::default(),
            password: password.map(str::to_owned),
            token: token.map(str::to_owned),
        })
        .await;
    }

    /// A join frame with neither password nor token.
    pub async fn join_frame_without_token(&mut self) {
        self.send_join("team", "Ada", None, None, None).await;
    }

    /// The next frame, which must be a welcome.
    pub async fn expect_welcome(&mut self) -> Welcome {
        match self.recv().await {
            ServerMessage::Welcome(w) => *w,
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    /// Sends a normal close frame (code 1000) and waits for the server's close.
    pub async fn close_normally(mut self) {
        self.ws
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            })))
            .await
            .unwrap();
        // Wait for the server's close: dropping the socket earlier could cut the close frame
        // off (the server then sees a broken connection, not a normal close).
        while let Some(Event::Frame(_)) = self.next_event(PATIENCE).await {}
    }

    /// Drops the TCP connection without a close frame, like a crashed browser.
    pub fn break_connection(self) {
        drop(self.ws);
    }

    /// Expects the server to close the connection with `code`.
    pub async fn expect_close(&mut self, code: u16) {
        loop {
            match self.next_event(PATIENCE).await {
                Some(Event::Closed(got)) => {
                    assert_eq!(got, Some(code), "close code");
                    return;
                }
                Some(Event::Frame(_)) => continue,
                None => panic!("expected close {code}, got nothing"),
            }
        }
    }
}

/// Expects the next frame to be an error with `code` whose message is a sentence; returns the
/// message.
pub async fn expect_error(client: &mut Client, code: treff_shared::ErrorCode) -> String {
    match client.recv().await {
        ServerMessage::Error { code: got, message } => {
            assert_eq!(got, code, "{message}");
            assert!(message.ends_with('.'), "a sentence: {message}");
            message
        }
        other => panic!("expected error {code}, got {other:?}"),
    }
}

#[derive(Debug)]
pub enum Event {
    Frame(ServerMessage),
    Closed(Option<u16>),
}

/// Starts the `treff` binary with `args` (its log at info, or `TREFF_TEST_LOG`) and returns
/// the process and the address its startup log names. The rest of its log is read on a thread
/// of its own, printed with `label` when `TREFF_TEST_LOG` is set.
pub fn spawn_treff(args: &[&str], label: &str) -> (std::process::Child, SocketAddr) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_treff"))
        .args(args)
        .env(
            "TREFF_LOG",
            std::env::var("TREFF_TEST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("treff logs its address").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    let label = label.to_owned();
    std::thread::spawn(move || {
        let echo = std::env::var_os("TREFF_TEST_LOG").is_some();
        for line in lines.map_while(Result::ok) {
            if echo {
                eprintln!("[{label}] {line}");
            }
        }
    });
    (child, addr)
}

/// The repository root (for scripts).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
