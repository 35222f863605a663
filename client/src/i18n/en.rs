//! English.

use treff_shared::{ErrorCode, Reaction};

use super::strings::*;

/// Every text of the web app in English.
pub static STRINGS: Strings = Strings {
    page: PageStrings {
        title_join: "treff – video calls",
        title_room: |room| format!("Room {room} – treff"),
        title_waiting: |room| format!("Waiting to join {room} – treff"),
        language: "Language",
    },
    join: JoinStrings {
        tagline: "Video calls in your browser. No account, no install.",
        room: "Room",
        room_placeholder: "e.g. team-standup",
        name: "Your name",
        name_placeholder: "How others see you",
        name_fixed: "Your invitation sets the name the others see.",
        password: "Room password",
        password_hint:
            "Optional. Set one when you create a room; needed to join a room that has one.",
        join: "Join",
        viewer_hint: "You join as a viewer: you see and hear the others, and your camera and \
                      microphone stay off.",
        media_hint: "Your camera and microphone are asked for when you join.",
        invalid_room: |max| {
            format!(
                "A room name must be 1 to {max} letters, digits, '-', '_' or '.' (no spaces or \
                 slashes)."
            )
        },
        invalid_name: |max| {
            format!("A display name must be 1 to {max} characters without control characters.")
        },
        password_too_long: |max, bytes| {
            format!(
                "A room password has at most {max} bytes (fewer characters if it has accents or \
                 emoji); this one has {bytes}."
            )
        },
    },
    room: RoomStrings {
        you_named: |name| format!("{name} (you)"),
        you: "you",
        own_video: |name| format!("Your video ({name})"),
        own_screen: "Your screen",
        own_screen_label: |name| format!("Screen shared by you ({name})"),
        video_of: |name| format!("Video of {name}"),
        screen_named: |name| format!("{name}'s screen"),
        screen_of: |name| format!("Screen shared by {name}"),
        peer_reconnecting: "Reconnecting…",
        link_connecting: "Connecting…",
        link_interrupted: "Connection interrupted…",
        link_failed: "Connection failed, retrying…",
        no_path_no_relay: "No connection: a direct connection is not possible on this network and \
                           no relay is configured (the server's operator can set up TURN).",
        no_path_relay_unreachable: "No connection: a direct connection is not possible on this \
                                    network and the relay server cannot be reached.",
        mesh: "Peer-to-peer · end-to-end encrypted",
        mesh_title: "Audio and video go directly between the participants' browsers; the server \
                     never sees them.",
        sfu: "Through the server",
        sfu_title: "With this many people, audio and video go through this treff server, which \
                    forwards them. Encrypted on the way, but the server can see and hear them.",
        waiting_note: "Waiting for a moderator to let you in",
        waiting_hint: "Nobody in the room sees or hears you until then.",
        leave: "Leave",
        lobby_label: "Waiting to join",
        lobby_title: |n| format!("Waiting to join ({n})"),
        admit: |name| format!("Admit {name}"),
        deny: |name| format!("Deny {name}"),
        remove_title: |name| format!("Remove {name} from the room?"),
        remove_text: |name| format!("{name} leaves the call at once."),
        remove: "Remove",
        end_title: "End the room for everyone?",
        end_text: "Everyone, you included, leaves the call at once.",
        end_for_all: "End for all",
        cancel: "Cancel",
        you_raised_hand: "You raised your hand.",
        raised_hand: |name| format!("{name} raised a hand."),
        you_reacted: |reaction| format!("You reacted: {}.", reaction.to_lowercase()),
        reacted: |name, reaction| format!("{name} reacted: {}.", reaction.to_lowercase()),
        locked: "Locked",
        locked_title: "Nobody new can join",
        recording: |names| format!("Recording: {names}"),
        lock: "Lock room",
        unlock_title: "Unlock: others can join again",
        lock_title: "Lock: nobody new can join",
        waiting_room: "Waiting room",
        waiting_room_on_title: "Newcomers wait until a moderator lets them in",
        waiting_room_off_title: "Newcomers join at once",
        everyone_may_record: "Everyone may record",
        everyone_may_record_title: "Everyone may record the call",
        moderators_record_title: "Only moderators may record the call",
        copy_link: "Copy link",
        alone: "You are the only one here. Share the link to invite others.",
        grid_label: "Participants' video",
    },
    tile: TileStrings {
        hand: |name, position| format!("{name}, hand raised ({position})"),
        hand_title: |position| format!("Hand raised ({position})"),
        moderator: "Moderator",
        viewer: "Viewer",
        microphone_on_title: "Microphone on",
        microphone_off_title: "Microphone off",
        camera_off_title: "Camera off",
        microphone_on: "microphone on",
        microphone_off: "microphone off",
        camera_on: "camera on",
        camera_off: "camera off",
        sharing_screen: "sharing screen",
        speaking: ", speaking",
        quality: |name, level| {
            let level = match level {
                Level::Good => "good",
                Level::Fair => "fair",
                Level::Poor => "poor",
            };
            format!("Connection to {name}: {level}")
        },
        quality_details: "Connection details",
        resolution: "Resolution",
        frame_rate: |fps| format!("{fps:.0} fps"),
        frame_rate_label: "Frame rate",
        bit_rate: |kbps| format!("{} kbit/s", group_thousands(kbps.round() as u64, ',')),
        bit_rate_label: "Bit rate",
        loss: |percent| format!("{percent:.1} %"),
        loss_label: "Packet loss",
        round_trip: "Round trip",
        path: "Path",
        path_direct: "direct",
        path_relayed: "relayed (TURN)",
        unknown: "not measured yet",
        reaction: |reaction| match reaction {
            Reaction::ThumbsUp => "Thumbs up",
            Reaction::Clap => "Applause",
            Reaction::Laugh => "Laughter",
            Reaction::Heart => "Heart",
            Reaction::Surprised => "Surprise",
            Reaction::Party => "Celebration",
        },
    },
    controls: ControlStrings {
        label: "Call controls",
        watching: "You are watching: the others cannot see or hear you.",
        camera_source: "Camera source",
        microphone_source: "Microphone source",
        none_found: "None found",
        camera_numbered: |n| format!("Camera {n}"),
        microphone_numbered: |n| format!("Microphone {n}"),
        microphone_off: "Turn microphone off",
        microphone_on: "Turn microphone on",
        microphone: "Microphone",
        camera_off: "Turn camera off",
        camera_on: "Turn camera on",
        camera: "Camera",
        share_screen: "Share screen",
        devices: "Devices",
        lower_hand_title: "Lower your hand",
        raise_hand_title: "Raise your hand to speak",
        raise_hand: "Raise hand",
        stop_recording_title: "Stop recording and save the file",
        record_title: "Record the call in this browser (everyone is told)",
        record_forbidden_title: "Only moderators may record in this room",
        record: "Record",
        reactions: "Reactions",
        send_reaction: "Send a reaction",
        chat: "Chat",
        processing: "Sound processing",
        echo_cancellation: "Echo cancellation",
        noise_suppression: "Noise suppression",
        auto_gain: "Automatic gain",
        unread: |n| match n {
            1 => "1 unread message".to_owned(),
            n => format!("{n} unread messages"),
        },
        people: "People",
        in_call: |n| format!("{n} in the call"),
    },
    chat: ChatStrings {
        title: "Chat",
        empty: "No messages yet.",
        message: "Message",
        placeholder: "Write a message",
        send: "Send",
    },
    people: PeopleStrings {
        speaking: "speaking",
        label: "Participants",
        title: |n| format!("People ({n})"),
        raised_hands: "Raised hands",
        already_muted: "Their microphone is already off",
        ask_to_mute: |name| format!("Ask {name} to mute"),
        lower_hand: |name| format!("Lower {name}'s hand"),
        remove: |name| format!("Remove {name}"),
    },
    notices: NoticeStrings {
        dismiss: "Dismiss",
        media_denied: "Access to the camera or microphone was denied. Allow it in the browser's \
                       site settings and rejoin to be seen and heard.",
        media_not_found: "No camera or microphone was found.",
        media_in_use: "The camera or microphone is in use by another program.",
        media_unavailable:
            "This browser offers no camera or microphone on this page; open it over https.",
        media_other: |detail| format!("The browser could not start the device ({detail})."),
        joined_audio_only: |problem| format!("{problem} You joined with your microphone only."),
        joined_receive_only: |problem| {
            format!("{problem} You can see and hear the others, but they cannot see or hear you.")
        },
        no_camera: "There is no camera to turn on.",
        no_microphone: "There is no microphone to turn on.",
        chat_not_sent: "The message was not sent: the connection to the server is down.",
        not_delivered: "That did not reach the room: the connection to the server is down.",
        rejoined: "The server was restarted; you rejoined the room.",
        locked: "The room is locked: nobody new can join.",
        unlocked: "The room is unlocked: others can join again.",
        waiting_room_on: "The waiting room is on: a moderator lets each newcomer in.",
        waiting_room_off: "The waiting room is off: newcomers join at once.",
        recording_not_allowed:
            "Only moderators may record in this room; a moderator can allow everyone.",
        recording_stopped: "Your recording stopped: only moderators may record now. What was \
                            recorded is saved.",
        recorder_failed: |reason| format!("The call could not be recorded: {reason}"),
        now_moderator: "You are now a moderator of this room.",
        mute_requested: "A moderator asks you to turn your microphone off.",
        mute_requested_muted: "A moderator asked you to turn your microphone off; it is off.",
        link_copied: |link| format!("Link copied: {link}"),
        link_not_copied: |link| format!("Copying was not allowed. The link is {link}"),
        removed: "A moderator removed you from the room.",
        ended_by_us: "You ended the room for everyone.",
        ended: "A moderator ended the room for everyone.",
        replaced: "This call was taken over by another tab or window.",
    },
    connection: ConnectionStrings {
        connecting: "Connecting to the server…",
        reconnecting: |attempt| format!("Reconnecting to the server (attempt {attempt})…"),
        retrying: |reason, seconds, attempt| {
            format!(
                "Cannot reach the server: {reason}. Retrying in {seconds} s (attempt {attempt})."
            )
        },
        cannot_open: |detail| format!("cannot open the connection: {detail}"),
        unreachable: "the server is unreachable",
        stopped_answering: "the server stopped answering",
        sending_failed: "sending failed",
        closed: "the connection closed",
        restarting: "the server is restarting",
        closed_with_code: |code| format!("the connection closed (code {code})"),
        quiet: "the connection went quiet",
    },
    errors: ErrorStrings {
        by_code: error,
        server_words: true,
    },
};

/// A sentence for each error code, for when the server sent none of its own.
fn error(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadJson => "The server could not read a message from this page.",
        ErrorCode::UnknownType => "The server does not know a message this page sent.",
        ErrorCode::InvalidFrame => "The server refused a message from this page as malformed.",
        ErrorCode::FrameTooLarge => "A message from this page was too large for the server.",
        ErrorCode::BinaryFrame => "The server accepts only text messages.",
        ErrorCode::NotJoined => "That needs you to be in the room first.",
        ErrorCode::AlreadyJoined => "This connection has already joined a room.",
        ErrorCode::InvalidRoom => "This room name is not allowed on this server.",
        ErrorCode::InvalidName => "This name is not allowed on this server.",
        ErrorCode::UnknownPeer => "That person is not in this room.",
        ErrorCode::SignalToSelf => "A connection to yourself is not possible.",
        ErrorCode::InvalidChat => "A chat message must not be blank or too long.",
        ErrorCode::RoomFull => "The room is full; try again later or use another room.",
        ErrorCode::TooManyRooms => {
            "This server hosts as many rooms as it allows; join an existing room or try later."
        }
        ErrorCode::JoinTimeout => "Joining took too long.",
        ErrorCode::Unavailable => "The server cannot open the room right now; try again.",
        ErrorCode::RateLimited => "Too much at once; wait a moment and try again.",
        ErrorCode::TooManySessions => {
            "Too many connections from your address; close other treff tabs and try again."
        }
        ErrorCode::PasswordRequired => "This room has a password; enter it to join.",
        ErrorCode::WrongPassword => "The password is not right.",
        ErrorCode::TokenRequired => {
            "This server admits only with a signed token (from your organisation's login); none \
             was given."
        }
        ErrorCode::InvalidToken => {
            "The invitation is not valid: it may have expired or be for another room."
        }
        ErrorCode::Forbidden => "Your role in this room does not allow that.",
        ErrorCode::RoomLocked => {
            "The room is locked: a moderator must unlock it before anyone new can join."
        }
        ErrorCode::InvalidMedia => "The media server could not use what this page sent.",
        ErrorCode::MediaFailed => "The media server could not connect to this browser.",
        ErrorCode::Denied => "You were not let in to the room.",
    }
}
