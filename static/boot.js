// Loads the web app. A separate file, not an inline script, so the content security policy can
// forbid inline scripts. Absolute paths: deep links such as /room/team serve the same page.
import init from '/pkg/treff_client.js';

init({ module_or_path: new URL('/pkg/treff_client_bg.wasm', import.meta.url) }).catch((err) => {
  const box = document.getElementById('boot');
  box.textContent = 'treff could not start in this browser: ' + err;
  box.setAttribute('role', 'alert');
});
