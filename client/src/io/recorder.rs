//! Recording the call in this browser: every picture on the page's grid drawn onto one canvas,
//! everyone's sound mixed into one track, both into a `MediaRecorder`; the WebM file is saved
//! when the recording stops.
//!
//! The canvas is redrawn 15 times a second from the `<video>` elements the grid shows, so the
//! recording follows the grid as people come and go; each new sound (a newcomer's stream) is
//! added to the mix as it appears.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use gloo_timers::callback::Interval;
use js_sys::Array;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    AudioContext, Blob, BlobEvent, BlobPropertyBag, CanvasRenderingContext2d, HtmlAnchorElement,
    HtmlCanvasElement, HtmlVideoElement, MediaRecorder, MediaRecorderOptions, MediaStream,
    MediaStreamAudioDestinationNode, Url,
};

/// Size of the recorded picture.
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;
/// Pictures per second drawn and recorded.
const FPS: u32 = 15;

/// A running recording; dropping it without [`Recorder::stop`] discards it.
pub struct Recorder {
    recorder: MediaRecorder,
    _drawing: Interval,
    _on_data: Closure<dyn FnMut(BlobEvent)>,
    _on_stop: Closure<dyn FnMut()>,
    _audio: AudioContext,
}

fn error(context: &str, err: JsValue) -> String {
    let detail = err
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| err.as_string())
        .unwrap_or_else(|| format!("{err:?}"));
    format!("{context}: {detail}")
}

impl Recorder {
    /// Starts recording; the file is named after `room`.
    pub fn start(room: &str) -> Result<Recorder, String> {
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or("no document")?;
        let canvas: HtmlCanvasElement = document
            .create_element("canvas")
            .map_err(|e| error("canvas", e))?
            .unchecked_into();
        canvas.set_width(WIDTH);
        canvas.set_height(HEIGHT);
        let context: CanvasRenderingContext2d = canvas
            .get_context("2d")
            .map_err(|e| error("canvas", e))?
            .ok_or("no 2d canvas")?
            .unchecked_into();
        let stream = canvas
            .capture_stream_with_frame_request_rate(f64::from(FPS))
            .map_err(|e| error("canvas stream", e))?;

        let audio = AudioContext::new().map_err(|e| error("audio", e))?;
        let mix = audio
            .create_media_stream_destination()
            .map_err(|e| error("audio mix", e))?;
        for track in mix.stream().get_audio_tracks().iter() {
            stream.add_track(&track.unchecked_into());
        }

        let options = MediaRecorderOptions::new();
        options.set_mime_type(
            if MediaRecorder::is_type_supported("video/webm;codecs=vp8,opus") {
                "video/webm;codecs=vp8,opus"
            } else {
                "video/webm"
            },
        );
        let recorder =
            MediaRecorder::new_with_media_stream_and_media_recorder_options(&stream, &options)
                .map_err(|e| error("recorder", e))?;

        let chunks = Rc::new(RefCell::new(Vec::<Blob>::new()));
        let on_data = {
            let chunks = chunks.clone();
            Closure::<dyn FnMut(BlobEvent)>::new(move |event: BlobEvent| {
                if let Some(blob) = event.data() {
                    if blob.size() > 0.0 {
                        chunks.borrow_mut().push(blob);
                    }
                }
            })
        };
        recorder.set_ondataavailable(Some(on_data.as_ref().unchecked_ref()));
        let file = format!("treff-{room}-{}.webm", file_time());
        let on_stop = {
            let audio = audio.clone();
            Closure::<dyn FnMut()>::new(move || {
                save(&chunks.borrow(), &file);
                // Only now: closing the mix earlier ends its track under the recorder.
                let _ = audio.close();
            })
        };
        recorder.set_onstop(Some(on_stop.as_ref().unchecked_ref()));

        let mixed = RefCell::new(HashSet::<String>::new());
        let drawing = {
            let audio = audio.clone();
            Interval::new(1000 / FPS, move || {
                draw(&context, &audio, &mix, &mut mixed.borrow_mut());
            })
        };
        // A chunk a second: a tab that crashes mid-call loses at most the last second.
        recorder
            .start_with_time_slice(1000)
            .map_err(|e| error("recorder", e))?;
        Ok(Recorder {
            recorder,
            _drawing: drawing,
            _on_data: on_data,
            _on_stop: on_stop,
            _audio: audio,
        })
    }

    /// Stops recording and saves the file.
    pub fn stop(self) {
        // The last chunk, then the stop event, which saves the file.
        let _ = self.recorder.request_data();
        let _ = self.recorder.stop();
        // The stop event saves the file; the closures must outlive it.
        let keep = self;
        gloo_timers::callback::Timeout::new(5_000, move || drop(keep)).forget();
    }
}

/// Draws every picture of the grid in a grid of its own, and adds new sounds to the mix.
fn draw(
    context: &CanvasRenderingContext2d,
    audio: &AudioContext,
    mix: &MediaStreamAudioDestinationNode,
    mixed: &mut HashSet<String>,
) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Ok(videos) = document.query_selector_all(".grid video") else {
        return;
    };
    let videos: Vec<HtmlVideoElement> = (0..videos.length())
        .filter_map(|i| videos.item(i))
        .filter_map(|node| node.dyn_into::<HtmlVideoElement>().ok())
        .collect();
    context.set_fill_style_str("#0f1218");
    context.fill_rect(0.0, 0.0, f64::from(WIDTH), f64::from(HEIGHT));
    let n = videos.len().max(1);
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let (w, h) = (
        f64::from(WIDTH) / cols as f64,
        f64::from(HEIGHT) / rows as f64,
    );
    for (i, video) in videos.iter().enumerate() {
        let (x, y) = ((i % cols) as f64 * w, (i / cols) as f64 * h);
        if video.video_width() > 0 && !video.class_list().contains("video-hidden") {
            // Fit the picture into its cell without distorting it.
            let (vw, vh) = (
                f64::from(video.video_width()),
                f64::from(video.video_height()),
            );
            let scale = (w / vw).min(h / vh);
            let (dw, dh) = (vw * scale, vh * scale);
            let _ = context.draw_image_with_html_video_element_and_dw_and_dh(
                video,
                x + (w - dw) / 2.0,
                y + (h - dh) / 2.0,
                dw,
                dh,
            );
        }
        if let Some(label) = video.get_attribute("aria-label") {
            context.set_fill_style_str("#e8ecf3");
            context.set_font("20px sans-serif");
            let _ = context.fill_text(&label, x + 12.0, y + h - 14.0);
        }
        // Every stream with sound joins the mix once.
        if let Some(stream) = video
            .src_object()
            .and_then(|s| s.dyn_into::<MediaStream>().ok())
        {
            if stream.get_audio_tracks().length() > 0 && mixed.insert(stream.id()) {
                if let Ok(source) = audio.create_media_stream_source(&stream) {
                    let _ = source.connect_with_audio_node(mix);
                }
            }
        }
    }
}

/// Saves the recorded chunks as a WebM file the browser downloads.
fn save(chunks: &[Blob], file: &str) {
    let parts = Array::new();
    for chunk in chunks {
        parts.push(chunk);
    }
    let options = BlobPropertyBag::new();
    options.set_type("video/webm");
    let Ok(blob) = Blob::new_with_blob_sequence_and_options(&parts, &options) else {
        return;
    };
    // For the browser tests: a driver that reports no downloads (Firefox over BiDi) learns the
    // size of the file from here.
    super::hook::mark("recording-saved", Some(&blob.size().to_string()));
    let Ok(url) = Url::create_object_url_with_blob(&blob) else {
        return;
    };
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Ok(link) = document.create_element("a") {
        let link: HtmlAnchorElement = link.unchecked_into();
        link.set_href(&url);
        link.set_download(file);
        let _ = document.body().map(|b| b.append_child(&link));
        link.click();
        // Firefox starts the download after the click returns: the link stays a moment.
        gloo_timers::callback::Timeout::new(1_000, move || link.remove()).forget();
    }
    // The download has its own reference; the URL can go once it started.
    gloo_timers::callback::Timeout::new(60_000, move || {
        let _ = Url::revoke_object_url(&url);
    })
    .forget();
}

/// The local time as `YYYY-MM-DD-HHMM`, for the file name.
fn file_time() -> String {
    let now = js_sys::Date::new_0();
    format!(
        "{:04}-{:02}-{:02}-{:02}{:02}",
        now.get_full_year(),
        now.get_month() + 1,
        now.get_date(),
        now.get_hours(),
        now.get_minutes()
    )
}
