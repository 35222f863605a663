//! The page's address and what the browser remembers: `/room/<name>` deep links, the join token
//! of an invitation link (`?token=...`) and the display name in `localStorage`.

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

/// The value of `token` in a query string like `?a=1&token=xyz`, percent-decoded.
pub fn token_from_query(query: &str) -> Option<String> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "token")
        .map(|(_, value)| percent_decode(&value.replace('+', " ")))
        .filter(|token| !token.is_empty())
}

/// The join token in the current address, if any.
pub fn current_token() -> Option<String> {
    let query = web_sys::window()?.location().search().ok()?;
    token_from_query(&query)
}

/// The room in the current address, if any.
pub fn current_room() -> Option<String> {
    let path = web_sys::window()?.location().pathname().ok()?;
    room_from_path(&path)
}

/// Puts `/room/<room>` in the address bar (a new history entry unless it is already there). The
/// query string stays, so that reloading an invitation link keeps its token.
pub fn push_room(room: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let path = room_path(room);
    if window.location().pathname().ok().as_deref() == Some(path.as_str()) {
        return;
    }
    let query = window.location().search().unwrap_or_default();
    if let Ok(history) = window.history() {
        let url = format!("{path}{query}");
        let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
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

    #[test]
    fn the_token_is_read_from_the_query() {
        assert_eq!(token_from_query("?token=a.b.c"), Some("a.b.c".into()));
        assert_eq!(
            token_from_query("?x=1&token=a.b.c&y=2"),
            Some("a.b.c".into())
        );
        assert_eq!(token_from_query("?token=a%2Eb"), Some("a.b".into()));
        assert_eq!(token_from_query("?tokens=a"), None);
        assert_eq!(token_from_query("?token="), None);
        assert_eq!(token_from_query(""), None);
    }
}
