//! Small helpers around `JsValue` for the browser APIs that web-sys types only loosely: reading
//! fields with `Reflect`, calling methods web-sys has no binding for, and turning a thrown
//! exception into a sentence.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Reads `value[key]` as a string, if it is one.
pub fn get_string(value: &JsValue, key: &str) -> Option<String> {
    Reflect::get(value, &JsValue::from_str(key))
        .ok()
        .and_then(|v| v.as_string())
}

/// The `name` of a thrown `DOMException` or `Error` (`NotAllowedError`, `TypeError`, ...).
pub fn error_name(err: &JsValue) -> String {
    get_string(err, "name").unwrap_or_default()
}

/// A one-line description of a thrown value, for logs and notices.
pub fn describe(err: &JsValue) -> String {
    match (get_string(err, "name"), get_string(err, "message")) {
        (Some(name), Some(message)) if !message.is_empty() => format!("{name}: {message}"),
        (Some(name), _) => name,
        (None, Some(message)) => message,
        (None, None) => err.as_string().unwrap_or_else(|| format!("{err:?}")),
    }
}

/// Calls `target.method(...args)` and awaits the promise it returns (a non-promise result is
/// returned as is).
pub async fn call_async(
    target: &JsValue,
    method: &str,
    args: &[JsValue],
) -> Result<JsValue, JsValue> {
    let function: Function = Reflect::get(target, &JsValue::from_str(method))?.dyn_into()?;
    let array: js_sys::Array = args.iter().collect();
    let result = function.apply(target, &array)?;
    match result.dyn_into::<Promise>() {
        Ok(promise) => JsFuture::from(promise).await,
        Err(value) => Ok(value),
    }
}

/// Calls `target.method(...args)` synchronously.
pub fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let function: Function = Reflect::get(target, &JsValue::from_str(method))?.dyn_into()?;
    let array: js_sys::Array = args.iter().collect();
    function.apply(target, &array)
}

/// Milliseconds since the Unix epoch (wall clock).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Logs a warning to the browser console.
pub fn warn(message: &str) {
    web_sys_console_warn(message);
}

fn web_sys_console_warn(message: &str) {
    // The console is reached through `globalThis.console` so that web-sys needs no extra feature.
    let global = js_sys::global();
    if let Ok(console) = Reflect::get(&global, &JsValue::from_str("console")) {
        let _ = call(&console, "warn", &[JsValue::from_str(message)]);
    }
}

/// The hour and minute of a Unix-millisecond timestamp in the browser's time zone, written the
/// way `locale` (a well-formed BCP 47 tag) writes them: `14:05` in German, `02:05 PM` in US
/// English.
pub fn clock_time(ts_ms: u64, locale: &str) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(ts_ms as f64));
    let options = js_sys::Object::new();
    for key in ["hour", "minute"] {
        let _ = Reflect::set(
            &options,
            &JsValue::from_str(key),
            &JsValue::from_str("2-digit"),
        );
    }
    date.to_locale_time_string_with_options(locale, &options)
        .into()
}

/// A Unix-millisecond timestamp in ISO 8601 (UTC), for `<time datetime>`.
pub fn iso_time(ts_ms: u64) -> String {
    js_sys::Date::new(&JsValue::from_f64(ts_ms as f64))
        .to_iso_string()
        .into()
}
