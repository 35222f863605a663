//! The shape of a language's table: one field for every text the web app shows or says, grouped
//! by where it appears. Fixed text is a `&'static str`; text with a name or a number in it is a
//! function, so that each language puts the parts where its grammar wants them. Each language
//! fills in the whole struct (`en.rs`, `de.rs`), so a text missing in one is a compile error.

use treff_shared::{ErrorCode, Reaction};

pub use crate::core::quality::Level;

/// `n` with its thousands set apart by `separator` ("1,250", "1.250").
pub fn group_thousands(n: u64, separator: char) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

/// Every text of the web app in one language.
pub struct Strings {
    /// The page as a whole: its title and the language switch.
    pub page: PageStrings,
    /// The join page.
    pub join: JoinStrings,
    /// The room page: header, waiting page, waiting list, confirmations, announcements.
    pub room: RoomStrings,
    /// The video tiles and the badges beside names.
    pub tile: TileStrings,
    /// The control bar.
    pub controls: ControlStrings,
    /// The chat panel.
    pub chat: ChatStrings,
    /// The participant list.
    pub people: PeopleStrings,
    /// Notices and the reasons a call ended.
    pub notices: NoticeStrings,
    /// The connection to the server: the banner while it is down, and why it went down.
    pub connection: ConnectionStrings,
    /// Errors the server reports, by code.
    pub errors: ErrorStrings,
}

/// The page as a whole.
pub struct PageStrings {
    /// The title of the join page.
    pub title_join: &'static str,
    /// The title of a room's page, e.g. "Room team – treff".
    pub title_room: fn(&str) -> String,
    /// The title while waiting to be let into a room.
    pub title_waiting: fn(&str) -> String,
    /// The label of the language switch.
    pub language: &'static str,
}

/// The join page.
pub struct JoinStrings {
    /// Under the brand.
    pub tagline: &'static str,
    /// The room field's label.
    pub room: &'static str,
    /// The room field's example.
    pub room_placeholder: &'static str,
    /// The name field's label.
    pub name: &'static str,
    /// The name field's example.
    pub name_placeholder: &'static str,
    /// Under the name field when an invitation sets the name.
    pub name_fixed: &'static str,
    /// The room password field's label.
    pub password: &'static str,
    /// Under the room password field.
    pub password_hint: &'static str,
    /// The button.
    pub join: &'static str,
    /// Under the button for a viewer's invitation.
    pub viewer_hint: &'static str,
    /// Under the button otherwise.
    pub media_hint: &'static str,
    /// The room name breaks the rules; the longest name in characters.
    pub invalid_room: fn(usize) -> String,
    /// The display name breaks the rules; the longest name in characters.
    pub invalid_name: fn(usize) -> String,
    /// The room password is too long: the limit and this password's length, in bytes.
    pub password_too_long: fn(usize, usize) -> String,
}

/// The room page.
pub struct RoomStrings {
    /// Our own name as shown on our tile, in the list and in the chat ("Ada (you)").
    pub you_named: fn(&str) -> String,
    /// "you" in a list of names ("Recording: you, Bob").
    pub you: &'static str,
    /// Our camera's accessible name.
    pub own_video: fn(&str) -> String,
    /// The name on our own screen's tile.
    pub own_screen: &'static str,
    /// Our own screen's accessible name.
    pub own_screen_label: fn(&str) -> String,
    /// Someone's camera's accessible name ("Video of Bob").
    pub video_of: fn(&str) -> String,
    /// The name on someone's screen's tile ("Bob's screen").
    pub screen_named: fn(&str) -> String,
    /// Someone's screen's accessible name ("Screen shared by Bob").
    pub screen_of: fn(&str) -> String,
    /// Someone's connection to the server is being resumed.
    pub peer_reconnecting: &'static str,
    /// The connection to someone is being set up.
    pub link_connecting: &'static str,
    /// The connection to someone was interrupted.
    pub link_interrupted: &'static str,
    /// The connection to someone failed and is being restarted.
    pub link_failed: &'static str,
    /// No connection: only a relay would do, and none is configured.
    pub no_path_no_relay: &'static str,
    /// No connection: only a relay would do, and it cannot be reached.
    pub no_path_relay_unreachable: &'static str,
    /// The media go peer to peer.
    pub mesh: &'static str,
    /// What peer to peer means.
    pub mesh_title: &'static str,
    /// The media go through the server.
    pub sfu: &'static str,
    /// What through the server means.
    pub sfu_title: &'static str,
    /// On the waiting page.
    pub waiting_note: &'static str,
    /// Under it.
    pub waiting_hint: &'static str,
    /// Leave the room (waiting page and control bar).
    pub leave: &'static str,
    /// The moderators' list of who waits: its accessible name.
    pub lobby_label: &'static str,
    /// Its heading, with how many wait.
    pub lobby_title: fn(usize) -> String,
    /// Let someone in.
    pub admit: fn(&str) -> String,
    /// Turn someone away.
    pub deny: fn(&str) -> String,
    /// Asked before removing someone.
    pub remove_title: fn(&str) -> String,
    /// What removing them does.
    pub remove_text: fn(&str) -> String,
    /// The button that removes them.
    pub remove: &'static str,
    /// Asked before ending the room.
    pub end_title: &'static str,
    /// What ending it does.
    pub end_text: &'static str,
    /// End the room for everyone (control bar and confirmation).
    pub end_for_all: &'static str,
    /// Do not do it after all.
    pub cancel: &'static str,
    /// Told to screen readers: we raised our hand.
    pub you_raised_hand: &'static str,
    /// Told to screen readers: someone raised a hand.
    pub raised_hand: fn(&str) -> String,
    /// Told to screen readers: we reacted (the reaction's name).
    pub you_reacted: fn(&str) -> String,
    /// Told to screen readers: someone reacted (their name, the reaction's name).
    pub reacted: fn(&str, &str) -> String,
    /// The badge of a locked room.
    pub locked: &'static str,
    /// What it means.
    pub locked_title: &'static str,
    /// Who records now ("Recording: you, Bob"; the names already joined).
    pub recording: fn(&str) -> String,
    /// The moderators' lock toggle.
    pub lock: &'static str,
    /// What pressing it does while locked.
    pub unlock_title: &'static str,
    /// What pressing it does while unlocked.
    pub lock_title: &'static str,
    /// The moderators' waiting-room toggle.
    pub waiting_room: &'static str,
    /// What it means while on.
    pub waiting_room_on_title: &'static str,
    /// What it means while off.
    pub waiting_room_off_title: &'static str,
    /// The moderators' toggle that lets everyone record.
    pub everyone_may_record: &'static str,
    /// What it means while on.
    pub everyone_may_record_title: &'static str,
    /// What it means while off.
    pub moderators_record_title: &'static str,
    /// Copy the room's link.
    pub copy_link: &'static str,
    /// Nobody else is here.
    pub alone: &'static str,
    /// The video grid's accessible name.
    pub grid_label: &'static str,
}

/// The video tiles and the badges beside names.
pub struct TileStrings {
    /// The raised-hand mark's accessible name: whose hand and its place ("Bob, hand raised (1)").
    pub hand: fn(&str, usize) -> String,
    /// Its tooltip.
    pub hand_title: fn(usize) -> String,
    /// The moderator badge.
    pub moderator: &'static str,
    /// The viewer badge.
    pub viewer: &'static str,
    /// The microphone mark's tooltip while on.
    pub microphone_on_title: &'static str,
    /// The microphone mark's tooltip while off.
    pub microphone_off_title: &'static str,
    /// The camera mark's tooltip while off.
    pub camera_off_title: &'static str,
    /// A state in a row of states: microphone on.
    pub microphone_on: &'static str,
    /// Microphone off.
    pub microphone_off: &'static str,
    /// Camera on.
    pub camera_on: &'static str,
    /// Camera off.
    pub camera_off: &'static str,
    /// Sharing the screen.
    pub sharing_screen: &'static str,
    /// After a name, for screen readers: they are speaking.
    pub speaking: &'static str,
    /// The connection indicator's accessible name: whose and how good ("Connection to Bob:
    /// good").
    pub quality: fn(&str, Level) -> String,
    /// The details view's label.
    pub quality_details: &'static str,
    /// Details: the received picture's size.
    pub resolution: &'static str,
    /// Details: frames per second ("20 fps").
    pub frame_rate: fn(f64) -> String,
    /// Details: the frame rate's label.
    pub frame_rate_label: &'static str,
    /// Details: received bit rate ("1,250 kbit/s").
    pub bit_rate: fn(f64) -> String,
    /// Details: the bit rate's label.
    pub bit_rate_label: &'static str,
    /// Details: packet loss ("0.5 %").
    pub loss: fn(f64) -> String,
    /// Details: the loss's label.
    pub loss_label: &'static str,
    /// Details: the round-trip time's label.
    pub round_trip: &'static str,
    /// Details: the path's label.
    pub path: &'static str,
    /// Details: the media go straight between the browsers (or to the media server).
    pub path_direct: &'static str,
    /// Details: the media go through a relay (TURN).
    pub path_relayed: &'static str,
    /// Details: not measured yet.
    pub unknown: &'static str,
    /// What a reaction is called (buttons, announcements).
    pub reaction: fn(Reaction) -> &'static str,
}

/// The control bar.
pub struct ControlStrings {
    /// Its accessible name.
    pub label: &'static str,
    /// A viewer's note instead of the capture controls.
    pub watching: &'static str,
    /// The camera picker's label.
    pub camera_source: &'static str,
    /// The microphone picker's label.
    pub microphone_source: &'static str,
    /// A picker with nothing to pick.
    pub none_found: &'static str,
    /// A camera whose name the browser keeps to itself, by number.
    pub camera_numbered: fn(usize) -> String,
    /// A microphone whose name the browser keeps to itself, by number.
    pub microphone_numbered: fn(usize) -> String,
    /// Tooltip of the microphone button while on; also a notice's button.
    pub microphone_off: &'static str,
    /// Tooltip of the microphone button while off.
    pub microphone_on: &'static str,
    /// The microphone button.
    pub microphone: &'static str,
    /// Tooltip of the camera button while on.
    pub camera_off: &'static str,
    /// Tooltip of the camera button while off.
    pub camera_on: &'static str,
    /// The camera button.
    pub camera: &'static str,
    /// The screen button.
    pub share_screen: &'static str,
    /// The button that shows the device pickers on narrow screens.
    pub devices: &'static str,
    /// Tooltip of the hand button while raised.
    pub lower_hand_title: &'static str,
    /// Tooltip of the hand button while down.
    pub raise_hand_title: &'static str,
    /// The hand button.
    pub raise_hand: &'static str,
    /// Tooltip of the record button while recording.
    pub stop_recording_title: &'static str,
    /// Tooltip of the record button when we may record.
    pub record_title: &'static str,
    /// Tooltip of the record button when we may not.
    pub record_forbidden_title: &'static str,
    /// The record button.
    pub record: &'static str,
    /// The reactions button.
    pub reactions: &'static str,
    /// The reaction picker's accessible name.
    pub send_reaction: &'static str,
    /// The chat button.
    pub chat: &'static str,
    /// The microphone processing options' disclosure.
    pub processing: &'static str,
    /// Processing option: echo cancellation.
    pub echo_cancellation: &'static str,
    /// Processing option: noise suppression.
    pub noise_suppression: &'static str,
    /// Processing option: automatic gain.
    pub auto_gain: &'static str,
    /// How many chat messages are unread (at least one).
    pub unread: fn(usize) -> String,
    /// The participants button.
    pub people: &'static str,
    /// How many are in the call.
    pub in_call: fn(usize) -> String,
}

/// The chat panel.
pub struct ChatStrings {
    /// Its heading and accessible name.
    pub title: &'static str,
    /// Before the first message.
    pub empty: &'static str,
    /// The message field's label.
    pub message: &'static str,
    /// The message field's example.
    pub placeholder: &'static str,
    /// The send button.
    pub send: &'static str,
}

/// The participant list.
pub struct PeopleStrings {
    /// A state in the list: speaking now.
    pub speaking: &'static str,
    /// Its accessible name.
    pub label: &'static str,
    /// Its heading, with how many are in the call.
    pub title: fn(usize) -> String,
    /// The heading of the queue of raised hands.
    pub raised_hands: &'static str,
    /// Why "ask to mute" is disabled.
    pub already_muted: &'static str,
    /// Ask someone to turn their microphone off.
    pub ask_to_mute: fn(&str) -> String,
    /// Lower someone's hand.
    pub lower_hand: fn(&str) -> String,
    /// Remove someone from the room.
    pub remove: fn(&str) -> String,
}

/// Notices and the reasons a call ended.
pub struct NoticeStrings {
    /// The close button of a notice.
    pub dismiss: &'static str,
    /// The camera or microphone was refused.
    pub media_denied: &'static str,
    /// There is no camera or microphone.
    pub media_not_found: &'static str,
    /// Another program holds the device.
    pub media_in_use: &'static str,
    /// The page is not a secure context.
    pub media_unavailable: &'static str,
    /// The browser failed otherwise; its words.
    pub media_other: fn(&str) -> String,
    /// Joined with the microphone only; the problem's sentence first.
    pub joined_audio_only: fn(&str) -> String,
    /// Joined without camera and microphone; the problem's sentence first.
    pub joined_receive_only: fn(&str) -> String,
    /// The camera button without a camera.
    pub no_camera: &'static str,
    /// The microphone button without a microphone.
    pub no_microphone: &'static str,
    /// A chat message could not be sent.
    pub chat_not_sent: &'static str,
    /// A moderator action could not be sent.
    pub not_delivered: &'static str,
    /// The server forgot us and we joined again.
    pub rejoined: &'static str,
    /// The room was locked.
    pub locked: &'static str,
    /// The room was unlocked.
    pub unlocked: &'static str,
    /// The waiting room was turned on.
    pub waiting_room_on: &'static str,
    /// The waiting room was turned off.
    pub waiting_room_off: &'static str,
    /// We may not record.
    pub recording_not_allowed: &'static str,
    /// Our recording was stopped.
    pub recording_stopped: &'static str,
    /// The browser could not record; why, in its words.
    pub recorder_failed: fn(&str) -> String,
    /// We became a moderator.
    pub now_moderator: &'static str,
    /// A moderator asks us to mute.
    pub mute_requested: &'static str,
    /// A moderator asked us to mute, and we are muted.
    pub mute_requested_muted: &'static str,
    /// The link was copied.
    pub link_copied: fn(&str) -> String,
    /// The link could not be copied; here it is.
    pub link_not_copied: fn(&str) -> String,
    /// A moderator removed us.
    pub removed: &'static str,
    /// We ended the room.
    pub ended_by_us: &'static str,
    /// A moderator ended the room.
    pub ended: &'static str,
    /// Another tab took over.
    pub replaced: &'static str,
}

/// The connection to the server.
pub struct ConnectionStrings {
    /// The first connection.
    pub connecting: &'static str,
    /// A retry, by number.
    pub reconnecting: fn(u32) -> String,
    /// Between retries: why, seconds to the next try, its number.
    pub retrying: fn(&str, u64, u32) -> String,
    /// The WebSocket could not be created; the browser's words.
    pub cannot_open: fn(&str) -> String,
    /// The server could not be reached.
    pub unreachable: &'static str,
    /// The server went silent.
    pub stopped_answering: &'static str,
    /// A frame could not be sent.
    pub sending_failed: &'static str,
    /// The connection closed.
    pub closed: &'static str,
    /// The server is restarting.
    pub restarting: &'static str,
    /// The connection closed with an unexpected code.
    pub closed_with_code: fn(u16) -> String,
    /// A probe went unanswered.
    pub quiet: &'static str,
}

/// Errors the server reports, by code.
pub struct ErrorStrings {
    /// A sentence for every code.
    pub by_code: fn(ErrorCode) -> &'static str,
    /// Show the server's own sentence when it sent one (it is written in English, and often
    /// says more, such as this server's limit); otherwise the sentence for its code.
    pub server_words: bool,
}

impl ErrorStrings {
    /// What to say about an error from the server: its own sentence or the one for its code.
    pub fn text(&self, code: ErrorCode, message: &str) -> String {
        if self.server_words && !message.trim().is_empty() {
            message.to_owned()
        } else {
            (self.by_code)(code).to_owned()
        }
    }
}
