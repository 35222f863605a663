//! German: addressed with "du", as is usual among teams, classes and families, and without a
//! gender where it names roles ("die Moderation", "Teilnehmende").

use treff_shared::{ErrorCode, Reaction};

use super::strings::*;

/// Every text of the web app in German.
pub static STRINGS: Strings = Strings {
    page: PageStrings {
        title_join: "treff – Videoanrufe",
        title_room: |room| format!("Raum {room} – treff"),
        title_waiting: |room| format!("Warten auf Einlass in {room} – treff"),
        language: "Sprache",
    },
    join: JoinStrings {
        tagline: "Videoanrufe im Browser. Ohne Konto, ohne Installation.",
        room: "Raum",
        room_placeholder: "z. B. team-standup",
        name: "Dein Name",
        name_placeholder: "So sehen dich die anderen",
        name_fixed: "Deine Einladung legt fest, welchen Namen die anderen sehen.",
        password: "Raumpasswort",
        password_hint: "Optional. Leg eins fest, wenn du einen Raum eröffnest; nötig, um einem \
                        Raum mit Passwort beizutreten.",
        join: "Beitreten",
        viewer_hint: "Du trittst nur zum Zuschauen bei: Du siehst und hörst die anderen, deine \
                      Kamera und dein Mikrofon bleiben aus.",
        media_hint: "Beim Beitreten fragt der Browser nach deiner Kamera und deinem Mikrofon.",
        invalid_room: |max| {
            format!(
                "Ein Raumname hat 1 bis {max} Buchstaben, Ziffern, „-“, „_“ oder „.“ (keine \
                 Leerzeichen oder Schrägstriche)."
            )
        },
        invalid_name: |max| format!("Ein Name hat 1 bis {max} Zeichen, ohne Steuerzeichen."),
        password_too_long: |max, bytes| {
            format!(
                "Ein Raumpasswort hat höchstens {max} Bytes (weniger Zeichen, wenn es Umlaute, \
                 Akzente oder Emoji enthält); dieses hat {bytes}."
            )
        },
    },
    room: RoomStrings {
        you_named: |name| format!("{name} (du)"),
        you: "du",
        own_video: |name| format!("Dein Video ({name})"),
        own_screen: "Dein Bildschirm",
        own_screen_label: |name| format!("Von dir geteilter Bildschirm ({name})"),
        video_of: |name| format!("Video von {name}"),
        screen_named: |name| format!("Bildschirm von {name}"),
        screen_of: |name| format!("Von {name} geteilter Bildschirm"),
        peer_reconnecting: "Verbindet neu…",
        link_connecting: "Verbindet…",
        link_interrupted: "Verbindung unterbrochen…",
        link_failed: "Verbindung fehlgeschlagen, neuer Versuch…",
        no_path_no_relay: "Keine Verbindung: In diesem Netz ist keine direkte Verbindung möglich, \
                           und es ist kein Relay eingerichtet (der Betrieb des Servers kann TURN \
                           einrichten).",
        no_path_relay_unreachable: "Keine Verbindung: In diesem Netz ist keine direkte Verbindung \
                                    möglich, und der Relay-Server ist nicht erreichbar.",
        mesh: "Direkt · Ende-zu-Ende-verschlüsselt",
        mesh_title: "Ton und Bild gehen direkt zwischen den Browsern der Teilnehmenden; der \
                     Server sieht sie nie.",
        sfu: "Über den Server",
        sfu_title: "Bei so vielen Personen laufen Ton und Bild über diesen treff-Server, der sie \
                    weiterleitet. Unterwegs verschlüsselt, aber der Server kann sie sehen und \
                    hören.",
        waiting_note: "Du wartest, bis dich jemand aus der Moderation hereinlässt",
        waiting_hint: "Bis dahin sieht und hört dich niemand im Raum.",
        leave: "Verlassen",
        lobby_label: "Warten auf Einlass",
        lobby_title: |n| format!("Warten auf Einlass ({n})"),
        admit: |name| format!("{name} einlassen"),
        deny: |name| format!("{name} ablehnen"),
        remove_title: |name| format!("{name} aus dem Raum entfernen?"),
        remove_text: |name| format!("{name} verlässt den Anruf sofort."),
        remove: "Entfernen",
        end_title: "Den Raum für alle beenden?",
        end_text: "Alle, auch du, verlassen den Anruf sofort.",
        end_for_all: "Für alle beenden",
        cancel: "Abbrechen",
        you_raised_hand: "Du hast die Hand gehoben.",
        raised_hand: |name| format!("{name} hat die Hand gehoben."),
        you_reacted: |reaction| format!("Du hast reagiert: {reaction}."),
        reacted: |name, reaction| format!("{name} hat reagiert: {reaction}."),
        locked: "Gesperrt",
        locked_title: "Niemand Neues kann beitreten",
        recording: |names| format!("Aufnahme: {names}"),
        lock: "Raum sperren",
        unlock_title: "Entsperren: Andere können wieder beitreten",
        lock_title: "Sperren: Niemand Neues kann beitreten",
        waiting_room: "Warteraum",
        waiting_room_on_title: "Neue warten, bis jemand aus der Moderation sie hereinlässt",
        waiting_room_off_title: "Neue kommen sofort herein",
        everyone_may_record: "Alle dürfen aufnehmen",
        everyone_may_record_title: "Alle dürfen den Anruf aufnehmen",
        moderators_record_title: "Nur die Moderation darf den Anruf aufnehmen",
        copy_link: "Link kopieren",
        alone: "Du bist allein hier. Teile den Link, um andere einzuladen.",
        grid_label: "Videos der Teilnehmenden",
    },
    tile: TileStrings {
        hand: |name, position| format!("{name}, Hand gehoben ({position})"),
        hand_title: |position| format!("Hand gehoben ({position})"),
        moderator: "Moderation",
        viewer: "Zuschauend",
        microphone_on_title: "Mikrofon an",
        microphone_off_title: "Mikrofon aus",
        camera_off_title: "Kamera aus",
        microphone_on: "Mikrofon an",
        microphone_off: "Mikrofon aus",
        camera_on: "Kamera an",
        camera_off: "Kamera aus",
        sharing_screen: "teilt den Bildschirm",
        speaking: ", spricht",
        quality: |name, level| {
            let level = match level {
                Level::Good => "gut",
                Level::Fair => "mittel",
                Level::Poor => "schlecht",
            };
            format!("Verbindung zu {name}: {level}")
        },
        quality_details: "Verbindungsdetails",
        resolution: "Auflösung",
        frame_rate: |fps| format!("{fps:.0} Bilder/s"),
        frame_rate_label: "Bildrate",
        bit_rate: |kbps| format!("{} kbit/s", group_thousands(kbps.round() as u64, '.')),
        bit_rate_label: "Datenrate",
        loss: |percent| format!("{percent:.1} %").replace('.', ","),
        loss_label: "Paketverlust",
        round_trip: "Umlaufzeit",
        path: "Weg",
        path_direct: "direkt",
        path_relayed: "über Relay (TURN)",
        unknown: "noch nicht gemessen",
        reaction: |reaction| match reaction {
            Reaction::ThumbsUp => "Daumen hoch",
            Reaction::Clap => "Applaus",
            Reaction::Laugh => "Lachen",
            Reaction::Heart => "Herz",
            Reaction::Surprised => "Überraschung",
            Reaction::Party => "Feier",
        },
    },
    controls: ControlStrings {
        label: "Anrufsteuerung",
        watching: "Du schaust zu: Die anderen können dich weder sehen noch hören.",
        camera_source: "Kamera wählen",
        microphone_source: "Mikrofon wählen",
        none_found: "Keins gefunden",
        camera_numbered: |n| format!("Kamera {n}"),
        microphone_numbered: |n| format!("Mikrofon {n}"),
        microphone_off: "Mikrofon ausschalten",
        microphone_on: "Mikrofon einschalten",
        microphone: "Mikrofon",
        camera_off: "Kamera ausschalten",
        camera_on: "Kamera einschalten",
        camera: "Kamera",
        share_screen: "Bildschirm teilen",
        devices: "Geräte",
        lower_hand_title: "Hand senken",
        raise_hand_title: "Hand heben, um etwas zu sagen",
        raise_hand: "Hand heben",
        stop_recording_title: "Aufnahme beenden und als Datei speichern",
        record_title: "Den Anruf in diesem Browser aufnehmen (alle erfahren es)",
        record_forbidden_title: "In diesem Raum darf nur die Moderation aufnehmen",
        record: "Aufnehmen",
        reactions: "Reaktionen",
        send_reaction: "Eine Reaktion senden",
        chat: "Chat",
        processing: "Tonverarbeitung",
        echo_cancellation: "Echounterdrückung",
        noise_suppression: "Rauschunterdrückung",
        auto_gain: "Automatische Lautstärke",
        unread: |n| match n {
            1 => "1 ungelesene Nachricht".to_owned(),
            n => format!("{n} ungelesene Nachrichten"),
        },
        people: "Personen",
        in_call: |n| format!("{n} im Anruf"),
    },
    chat: ChatStrings {
        title: "Chat",
        empty: "Noch keine Nachrichten.",
        message: "Nachricht",
        placeholder: "Nachricht schreiben",
        send: "Senden",
    },
    people: PeopleStrings {
        speaking: "spricht",
        label: "Teilnehmende",
        title: |n| format!("Personen ({n})"),
        raised_hands: "Gehobene Hände",
        already_muted: "Das Mikrofon ist schon aus",
        ask_to_mute: |name| format!("{name} bitten, das Mikrofon auszuschalten"),
        lower_hand: |name| format!("Hand von {name} senken"),
        remove: |name| format!("{name} entfernen"),
    },
    notices: NoticeStrings {
        dismiss: "Schließen",
        media_denied: "Der Zugriff auf Kamera oder Mikrofon wurde verweigert. Erlaube ihn in den \
                       Website-Einstellungen des Browsers und tritt erneut bei, damit man dich \
                       sieht und hört.",
        media_not_found: "Es wurde keine Kamera und kein Mikrofon gefunden.",
        media_in_use: "Kamera oder Mikrofon werden gerade von einem anderen Programm benutzt.",
        media_unavailable: "Dieser Browser bietet auf dieser Seite weder Kamera noch Mikrofon an; \
                            öffne sie über https.",
        media_other: |detail| format!("Der Browser konnte das Gerät nicht starten ({detail})."),
        joined_audio_only: |problem| format!("{problem} Du bist nur mit Mikrofon beigetreten."),
        joined_receive_only: |problem| {
            format!(
                "{problem} Du siehst und hörst die anderen, aber sie können dich weder sehen noch \
                 hören."
            )
        },
        no_camera: "Es gibt keine Kamera, die sich einschalten ließe.",
        no_microphone: "Es gibt kein Mikrofon, das sich einschalten ließe.",
        chat_not_sent: "Die Nachricht wurde nicht gesendet: Die Verbindung zum Server ist \
                        unterbrochen.",
        not_delivered: "Das hat den Raum nicht erreicht: Die Verbindung zum Server ist \
                        unterbrochen.",
        rejoined: "Der Server wurde neu gestartet; du bist dem Raum wieder beigetreten.",
        locked: "Der Raum ist gesperrt: Niemand Neues kann beitreten.",
        unlocked: "Der Raum ist entsperrt: Andere können wieder beitreten.",
        waiting_room_on: "Der Warteraum ist an: Die Moderation lässt alle Neuen einzeln herein.",
        waiting_room_off: "Der Warteraum ist aus: Neue kommen sofort herein.",
        recording_not_allowed: "In diesem Raum darf nur die Moderation aufnehmen; sie kann es \
                                allen erlauben.",
        recording_stopped: "Deine Aufnahme wurde beendet: Jetzt darf nur noch die Moderation \
                            aufnehmen. Was bis dahin aufgenommen wurde, ist gespeichert.",
        recorder_failed: |reason| format!("Der Anruf konnte nicht aufgenommen werden: {reason}"),
        now_moderator: "Du moderierst jetzt diesen Raum.",
        mute_requested: "Die Moderation bittet dich, dein Mikrofon auszuschalten.",
        mute_requested_muted: "Die Moderation hat dich gebeten, dein Mikrofon auszuschalten; es \
                               ist aus.",
        link_copied: |link| format!("Link kopiert: {link}"),
        link_not_copied: |link| format!("Kopieren war nicht erlaubt. Der Link lautet {link}"),
        removed: "Die Moderation hat dich aus dem Raum entfernt.",
        ended_by_us: "Du hast den Raum für alle beendet.",
        ended: "Die Moderation hat den Raum für alle beendet.",
        replaced: "Dieser Anruf wurde von einem anderen Tab oder Fenster übernommen.",
    },
    connection: ConnectionStrings {
        connecting: "Verbindung zum Server wird aufgebaut…",
        reconnecting: |attempt| format!("Neue Verbindung zum Server (Versuch {attempt})…"),
        retrying: |reason, seconds, attempt| {
            format!(
                "Der Server ist nicht erreichbar: {reason}. Neuer Versuch in {seconds} s \
                 (Versuch {attempt})."
            )
        },
        cannot_open: |detail| format!("Die Verbindung lässt sich nicht öffnen: {detail}"),
        unreachable: "Der Server antwortet nicht",
        stopped_answering: "Der Server antwortet nicht mehr",
        sending_failed: "Senden fehlgeschlagen",
        closed: "Die Verbindung wurde geschlossen",
        restarting: "Der Server startet neu",
        closed_with_code: |code| format!("Die Verbindung wurde geschlossen (Code {code})"),
        quiet: "Die Verbindung ist verstummt",
    },
    errors: ErrorStrings {
        by_code: error,
        server_words: false,
    },
};

/// A sentence for each error code of the server.
fn error(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadJson => "Der Server konnte eine Nachricht dieser Seite nicht lesen.",
        ErrorCode::UnknownType => "Der Server kennt eine Nachricht dieser Seite nicht.",
        ErrorCode::InvalidFrame => {
            "Der Server hat eine fehlerhafte Nachricht dieser Seite abgelehnt."
        }
        ErrorCode::FrameTooLarge => "Eine Nachricht dieser Seite war zu groß für den Server.",
        ErrorCode::BinaryFrame => "Der Server nimmt nur Textnachrichten an.",
        ErrorCode::NotJoined => "Dafür musst du erst im Raum sein.",
        ErrorCode::AlreadyJoined => "Diese Verbindung ist schon einem Raum beigetreten.",
        ErrorCode::InvalidRoom => {
            "Dieser Raumname ist auf diesem Server nicht erlaubt (zu lang oder mit unerlaubten \
             Zeichen)."
        }
        ErrorCode::InvalidName => {
            "Dieser Name ist auf diesem Server nicht erlaubt (zu lang oder mit Steuerzeichen)."
        }
        ErrorCode::UnknownPeer => "Diese Person ist nicht in diesem Raum.",
        ErrorCode::SignalToSelf => "Eine Verbindung zu dir selbst ist nicht möglich.",
        ErrorCode::InvalidChat => "Eine Chatnachricht darf weder leer noch zu lang sein.",
        ErrorCode::RoomFull => {
            "Der Raum ist voll; versuch es später noch einmal oder nimm einen anderen Raum."
        }
        ErrorCode::TooManyRooms => {
            "Auf diesem Server sind schon so viele Räume offen, wie er erlaubt; tritt einem \
             bestehenden Raum bei oder versuch es später."
        }
        ErrorCode::JoinTimeout => "Das Beitreten hat zu lange gedauert.",
        ErrorCode::Unavailable => {
            "Der Server kann den Raum gerade nicht öffnen; versuch es gleich noch einmal."
        }
        ErrorCode::RateLimited => {
            "Zu viel auf einmal; warte einen Moment und versuch es dann noch einmal."
        }
        ErrorCode::TooManySessions => {
            "Zu viele Verbindungen von deiner Adresse; schließ andere treff-Tabs und versuch es \
             noch einmal."
        }
        ErrorCode::PasswordRequired => "Dieser Raum hat ein Passwort; gib es ein, um beizutreten.",
        ErrorCode::WrongPassword => "Das Passwort stimmt nicht.",
        ErrorCode::TokenRequired => {
            "Dieser Server lässt nur mit einer signierten Einladung herein (über die Anmeldung \
             deiner Organisation); es wurde keine mitgeschickt."
        }
        ErrorCode::InvalidToken => {
            "Die Einladung ist nicht gültig: Sie ist vielleicht abgelaufen oder für einen \
             anderen Raum."
        }
        ErrorCode::Forbidden => "Deine Rolle in diesem Raum erlaubt das nicht.",
        ErrorCode::RoomLocked => {
            "Der Raum ist gesperrt: Erst wenn die Moderation ihn entsperrt, kann jemand Neues \
             beitreten."
        }
        ErrorCode::InvalidMedia => {
            "Der Medienserver konnte nicht verwenden, was diese Seite geschickt hat."
        }
        ErrorCode::MediaFailed => {
            "Der Medienserver konnte keine Verbindung zu diesem Browser herstellen."
        }
        ErrorCode::Denied => "Du wurdest nicht in den Raum gelassen.",
    }
}
