//! The page's address and what the browser remembers: `/room/<name>` deep links and the display
//! name in `localStorage`.

/// `localStorage` key of the remembered display name.
const NAME_KEY: &str = "treff.name";

/// The room named in a path like `/room/<name>`, percent-decoded.
pub fn room_from_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/room/")?;
    let name = rest.trim_end_matches('/');
    if name.is_empty() || name.contains('/') {
        return None;
    }
    Some(percent_decode(name))
}

/// The path of a room, percent-encoding what is not a plain character.
pub fn room_path(room: &str) -> String {
    let mut out = String::from("/room/");
    for byte in room.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(Ok(byte)) = s.get(i + 1..i + 3).map(|hex| u8::from_str_radix(hex, 16)) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The room in the current address, if any.
pub fn current_room() -> Option<String> {
    let path = web_sys::window()?.location().pathname().ok()?;
    room_from_path(&path)
}

/// Puts `/room/<room>` in the address bar (a new history entry unless it is already there).
pub fn push_room(room: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let path = room_path(room);
    if window.location().pathname().ok().as_deref() == Some(path.as_str()) {
        return;
    }
    if let Ok(history) = window.history() {
        let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path));
    }
}

/// The shareable link of a room.
pub fn room_link(room: &str) -> String {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    format!("{origin}{}", room_path(room))
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The display name used last time.
pub fn remembered_name() -> Option<String> {
    storage()?.get_item(NAME_KEY).ok().flatten()
}

/// Remembers the display name for next time.
pub fn remember_name(name: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(NAME_KEY, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_paths_round_trip() {
        assert_eq!(room_from_path("/room/team"), Some("team".into()));
        assert_eq!(room_from_path("/room/team/"), Some("team".into()));
        assert_eq!(room_from_path("/room/k%C3%BCche"), Some("küche".into()));
        assert_eq!(room_from_path("/room/"), None);
        assert_eq!(room_from_path("/"), None);
        assert_eq!(room_from_path("/room/a/b"), None);
        assert_eq!(room_path("küche"), "/room/k%C3%BCche");
        assert_eq!(room_from_path(&room_path("küche")), Some("küche".into()));
        assert_eq!(room_from_path("/room/bad%zz"), Some("bad%zz".into()));
    }
}
