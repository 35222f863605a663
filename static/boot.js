// Loads the web app. A separate file, not an inline script, so the content security policy can
// forbid inline scripts. Absolute paths: deep links such as /room/team serve the same page.
// Until the app runs, this page speaks the language the app will choose (the remembered
// choice, else the first of the browser's languages treff speaks, else English).
import init from '/pkg/treff_client.js';

const TEXTS = {
  en: { loading: 'Loading treff…', failed: 'treff could not start in this browser: ' },
  de: { loading: 'treff wird geladen…', failed: 'treff konnte in diesem Browser nicht starten: ' },
};

function language() {
  const speaks = (tag) => {
    const primary = String(tag || '').split(/[-_]/)[0].toLowerCase();
    return primary in TEXTS ? primary : null;
  };
  let remembered = null;
  try {
    remembered = speaks(localStorage.getItem('treff.lang'));
  } catch {
    // Storage may be off; the browser's languages still count.
  }
  return remembered ?? (navigator.languages || [navigator.language]).map(speaks).find(Boolean) ?? 'en';
}

const lang = language();
const box = document.getElementById('boot');
document.documentElement.lang = lang;
box.textContent = TEXTS[lang].loading;

init({ module_or_path: new URL('/pkg/treff_client_bg.wasm', import.meta.url) }).catch((err) => {
  box.textContent = TEXTS[lang].failed + err;
  box.setAttribute('role', 'alert');
});
