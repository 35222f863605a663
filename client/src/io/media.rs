//! Local capture: camera and microphone (with fallbacks), device lists, device switching and
//! screen capture. Turning the microphone or camera off is `track.enabled = false`, which keeps
//! the senders and needs no renegotiation.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DisplayMediaStreamConstraints, MediaDeviceInfo, MediaDeviceKind, MediaDevices, MediaStream,
    MediaStreamConstraints, MediaStreamTrack, MediaTrackConstraints,
};

use crate::js;
use crate::state::{Capture, Device};

/// Why the browser did not give us a device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The person or the browser's settings refused access.
    #[error("Access to the camera or microphone was denied. Allow it in the browser's site settings and rejoin to be seen and heard.")]
    Denied,
    /// There is no such device.
    #[error("No camera or microphone was found.")]
    NotFound,
    /// The device exists but another program holds it.
    #[error("The camera or microphone is in use by another program.")]
    InUse,
    /// The page is not a secure context (plain http on a non-local address), so the browser
    /// offers no media devices at all.
    #[error("This browser offers no camera or microphone on this page; open it over https.")]
    Unavailable,
    /// The person cancelled the screen picker.
    #[error("Screen sharing was cancelled.")]
    Cancelled,
    /// Anything else the browser threw.
    #[error("The browser could not start the device ({0}).")]
    Other(String),
}

impl MediaError {
    fn from_js(err: &JsValue) -> MediaError {
        match js::error_name(err).as_str() {
            "NotAllowedError" | "SecurityError" | "PermissionDeniedError" => MediaError::Denied,
            "NotFoundError" | "OverconstrainedError" | "DevicesNotFoundError" => {
                MediaError::NotFound
            }
            "NotReadableError" | "TrackStartError" | "AbortError" => MediaError::InUse,
            _ => MediaError::Other(js::describe(err)),
        }
    }
}

/// The outcome of asking for camera and microphone.
pub struct Captured {
    /// The stream (empty when nothing could be captured).
    pub stream: MediaStream,
    /// What we got.
    pub capture: Capture,
    /// Why we got less than camera and microphone.
    pub problem: Option<MediaError>,
}

fn devices() -> Result<MediaDevices, MediaError> {
    let window = web_sys::window().ok_or(MediaError::Unavailable)?;
    let navigator = window.navigator();
    // `navigator.mediaDevices` is undefined outside secure contexts.
    let present = Reflect::get(&navigator, &JsValue::from_str("mediaDevices"))
        .map(|v| !v.is_undefined())
        .unwrap_or(false);
    if !present {
        return Err(MediaError::Unavailable);
    }
    navigator
        .media_devices()
        .map_err(|_| MediaError::Unavailable)
}

fn device_constraint(device: Option<&str>) -> JsValue {
    match device {
        Some(id) => {
            let constraints = MediaTrackConstraints::new();
            let exact = Object::new();
            let _ = Reflect::set(&exact, &"exact".into(), &JsValue::from_str(id));
            constraints.set_device_id(&exact);
            constraints.into()
        }
        None => JsValue::TRUE,
    }
}

async fn get_user_media(
    audio: Option<Option<&str>>,
    video: Option<Option<&str>>,
) -> Result<MediaStream, MediaError> {
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&audio.map_or(JsValue::FALSE, device_constraint));
    constraints.set_video(&video.map_or(JsValue::FALSE, device_constraint));
    let promise = devices()?
        .get_user_media_with_constraints(&constraints)
        .map_err(|e| MediaError::from_js(&e))?;
    let stream = JsFuture::from(promise)
        .await
        .map_err(|e| MediaError::from_js(&e))?;
    stream
        .dyn_into::<MediaStream>()
        .map_err(|v| MediaError::Other(js::describe(&v)))
}

/// Asks for camera and microphone; falls back to microphone only, then to receiving only.
pub async fn capture() -> Captured {
    let first = match get_user_media(Some(None), Some(None)).await {
        Ok(stream) => {
            return Captured {
                stream,
                capture: Capture::Full,
                problem: None,
            }
        }
        Err(err) => err,
    };
    if first == MediaError::Unavailable {
        return receive_only(first);
    }
    match get_user_media(Some(None), None).await {
        Ok(stream) => Captured {
            stream,
            capture: Capture::AudioOnly,
            problem: Some(first),
        },
        Err(second) => receive_only(if first == MediaError::Denied {
            first
        } else {
            second
        }),
    }
}

fn receive_only(problem: MediaError) -> Captured {
    Captured {
        // unwrap-free: an empty MediaStream is always constructible in a browser.
        stream: MediaStream::new().unwrap_or_else(|_| JsValue::NULL.unchecked_into()),
        capture: Capture::ReceiveOnly,
        problem: Some(problem),
    }
}

/// Opens one camera (`video`) or microphone (`!video`) by device id.
pub async fn open_device(video: bool, device_id: &str) -> Result<MediaStreamTrack, MediaError> {
    let stream = if video {
        get_user_media(None, Some(Some(device_id))).await?
    } else {
        get_user_media(Some(Some(device_id)), None).await?
    };
    let tracks = stream.get_tracks();
    tracks
        .get(0)
        .dyn_into::<MediaStreamTrack>()
        .map_err(|_| MediaError::NotFound)
}

/// Lists cameras and microphones.
pub async fn list_devices() -> Result<(Vec<Device>, Vec<Device>), MediaError> {
    let promise = devices()?
        .enumerate_devices()
        .map_err(|e| MediaError::from_js(&e))?;
    let list: Array = JsFuture::from(promise)
        .await
        .map_err(|e| MediaError::from_js(&e))?
        .unchecked_into();
    let (mut cameras, mut microphones) = (Vec::new(), Vec::new());
    for info in list.iter() {
        let Ok(info) = info.dyn_into::<MediaDeviceInfo>() else {
            continue;
        };
        let (list, generic) = match info.kind() {
            MediaDeviceKind::Videoinput => (&mut cameras, "Camera"),
            MediaDeviceKind::Audioinput => (&mut microphones, "Microphone"),
            _ => continue,
        };
        let label = if info.label().is_empty() {
            format!("{generic} {}", list.len() + 1)
        } else {
            info.label()
        };
        list.push(Device {
            id: info.device_id(),
            label,
        });
    }
    Ok((cameras, microphones))
}

/// The device id a track was opened from.
pub fn track_device_id(track: &MediaStreamTrack) -> Option<String> {
    let settings = js::call(track, "getSettings", &[]).ok()?;
    js::get_string(&settings, "deviceId")
}

/// Asks the person to pick a screen, window or tab.
pub async fn capture_screen() -> Result<MediaStream, MediaError> {
    let constraints = DisplayMediaStreamConstraints::new();
    constraints.set_video(&JsValue::TRUE);
    constraints.set_audio(&JsValue::FALSE);
    let promise = devices()?
        .get_display_media_with_constraints(&constraints)
        .map_err(|e| MediaError::from_js(&e))?;
    let stream = JsFuture::from(promise)
        .await
        .map_err(|e| match js::error_name(&e).as_str() {
            "NotAllowedError" | "AbortError" => MediaError::Cancelled,
            _ => MediaError::from_js(&e),
        })?;
    stream
        .dyn_into::<MediaStream>()
        .map_err(|v| MediaError::Other(js::describe(&v)))
}

/// The first track of a kind in a stream.
pub fn first_track(stream: &MediaStream, video: bool) -> Option<MediaStreamTrack> {
    let tracks = if video {
        stream.get_video_tracks()
    } else {
        stream.get_audio_tracks()
    };
    tracks.get(0).dyn_into::<MediaStreamTrack>().ok()
}

/// Stops every track of a stream (turns the camera light off).
pub fn stop_all(stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
            track.stop();
        }
    }
}
