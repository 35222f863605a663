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

use super::js;
use crate::core::notice::MediaProblem;
use crate::core::AudioProcessing;
use crate::state::Device;

/// Why the browser did not give us a device: a [`MediaProblem`] the person is told about, or a
/// cancelled screen picker, which needs no word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaError {
    /// Something the person should know.
    Problem(MediaProblem),
    /// The person cancelled the screen picker.
    Cancelled,
}

impl From<MediaProblem> for MediaError {
    fn from(problem: MediaProblem) -> Self {
        MediaError::Problem(problem)
    }
}

fn problem_from_js(err: &JsValue) -> MediaProblem {
    match js::error_name(err).as_str() {
        "NotAllowedError" | "SecurityError" | "PermissionDeniedError" => MediaProblem::Denied,
        "NotFoundError" | "OverconstrainedError" | "DevicesNotFoundError" => MediaProblem::NotFound,
        "NotReadableError" | "TrackStartError" | "AbortError" => MediaProblem::InUse,
        _ => MediaProblem::Other(js::describe(err)),
    }
}

/// The outcome of asking for camera and microphone.
pub struct Captured {
    /// The stream (empty when nothing could be captured).
    pub stream: MediaStream,
    /// Why we got less than camera and microphone.
    pub problem: Option<MediaProblem>,
}

fn devices() -> Result<MediaDevices, MediaProblem> {
    let window = web_sys::window().ok_or(MediaProblem::Unavailable)?;
    let navigator = window.navigator();
    // `navigator.mediaDevices` is undefined outside secure contexts.
    let present = Reflect::get(&navigator, &JsValue::from_str("mediaDevices"))
        .map(|v| !v.is_undefined())
        .unwrap_or(false);
    if !present {
        return Err(MediaProblem::Unavailable);
    }
    navigator
        .media_devices()
        .map_err(|_| MediaProblem::Unavailable)
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
) -> Result<MediaStream, MediaProblem> {
    request(
        audio.map_or(JsValue::FALSE, device_constraint),
        video.map_or(JsValue::FALSE, device_constraint),
    )
    .await
}

/// `getUserMedia` with these `audio` and `video` constraints.
async fn request(audio: JsValue, video: JsValue) -> Result<MediaStream, MediaProblem> {
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&audio);
    constraints.set_video(&video);
    let promise = devices()?
        .get_user_media_with_constraints(&constraints)
        .map_err(|e| problem_from_js(&e))?;
    let stream = JsFuture::from(promise)
        .await
        .map_err(|e| problem_from_js(&e))?;
    stream
        .dyn_into::<MediaStream>()
        .map_err(|v| MediaProblem::Other(js::describe(&v)))
}

/// Asks for camera and microphone; falls back to microphone only, then to receiving only.
pub async fn capture() -> Captured {
    let first = match get_user_media(Some(None), Some(None)).await {
        Ok(stream) => {
            return Captured {
                stream,
                problem: None,
            }
        }
        Err(err) => err,
    };
    if first == MediaProblem::Unavailable {
        return receive_only(first);
    }
    match get_user_media(Some(None), None).await {
        Ok(stream) => Captured {
            stream,
            problem: Some(first),
        },
        Err(second) => receive_only(if first == MediaProblem::Denied {
            first
        } else {
            second
        }),
    }
}

fn receive_only(problem: MediaProblem) -> Captured {
    Captured {
        stream: empty_stream(),
        problem: Some(problem),
    }
}

/// An empty stream. Every browser with WebRTC can construct one; a `null` stands in otherwise,
/// so that nothing panics.
pub fn empty_stream() -> MediaStream {
    MediaStream::new().unwrap_or_else(|_| JsValue::NULL.unchecked_into())
}

/// Opens one camera (`video`) or microphone (`!video`) by device id (empty: the default one);
/// a microphone with `processing`.
pub async fn open_device(
    video: bool,
    device_id: &str,
    processing: AudioProcessing,
) -> Result<MediaStreamTrack, MediaProblem> {
    let device = (!device_id.is_empty()).then_some(device_id);
    let stream = if video {
        get_user_media(None, Some(device)).await?
    } else {
        let constraints = device_constraint(device);
        let constraints = if constraints.is_object() {
            constraints
        } else {
            Object::new().into()
        };
        for (key, on) in [
            ("echoCancellation", processing.echo_cancellation),
            ("noiseSuppression", processing.noise_suppression),
            ("autoGainControl", processing.auto_gain),
        ] {
            let _ = Reflect::set(&constraints, &key.into(), &JsValue::from_bool(on));
        }
        request(constraints, JsValue::FALSE).await?
    };
    let tracks = stream.get_tracks();
    tracks
        .get(0)
        .dyn_into::<MediaStreamTrack>()
        .map_err(|_| MediaProblem::NotFound)
}

/// Lists cameras and microphones.
pub async fn list_devices() -> Result<(Vec<Device>, Vec<Device>), MediaProblem> {
    let promise = devices()?
        .enumerate_devices()
        .map_err(|e| problem_from_js(&e))?;
    let list: Array = JsFuture::from(promise)
        .await
        .map_err(|e| problem_from_js(&e))?
        .unchecked_into();
    let (mut cameras, mut microphones) = (Vec::new(), Vec::new());
    for info in list.iter() {
        let Ok(info) = info.dyn_into::<MediaDeviceInfo>() else {
            continue;
        };
        let list = match info.kind() {
            MediaDeviceKind::Videoinput => &mut cameras,
            MediaDeviceKind::Audioinput => &mut microphones,
            _ => continue,
        };
        // Empty until the browser tells names (after a permission): the picker numbers them.
        let label = info.label();
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
        .map_err(|e| problem_from_js(&e))?;
    let stream = JsFuture::from(promise)
        .await
        .map_err(|e| match js::error_name(&e).as_str() {
            "NotAllowedError" | "AbortError" => MediaError::Cancelled,
            _ => MediaError::Problem(problem_from_js(&e)),
        })?;
    stream
        .dyn_into::<MediaStream>()
        .map_err(|v| MediaError::Problem(MediaProblem::Other(js::describe(&v))))
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
