// The web app in German and English, in real headless Chromium and Firefox against the real
// server: a German browser gets the German UI (the join form, the call's controls and accessible
// names, the form's own checks, the server's errors worded by their code, the page's title and
// language, chat times as German writes them), the language switch changes the page at once and
// is remembered across a reload, and an English browser, or one in a language treff does not
// speak, gets English.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  RESULTS, SCREENSHOTS, eachBrowser, peerId, setUp, tileOf, waitFor,
} from './helpers.js';

const button = (page, name) => page.getByRole('button', { name, exact: true });
const alert = (page, text) => page.getByRole('alert').filter({ hasText: text });
const htmlLang = (page) => page.evaluate(() => document.documentElement.lang);

/** A page in its own context (own localStorage) whose browser says its language is `locale`. */
async function localePage(browser, label, locale) {
  const context = await browser.newContext({ locale, viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[${label}] page error: ${err.message}`));
  return page;
}

/** Fills the German join form and presses "Beitreten". */
async function beitreten(page, { room, name, password }) {
  if (room !== undefined) await page.getByLabel('Raum', { exact: true }).fill(room);
  await page.getByLabel('Dein Name', { exact: true }).fill(name);
  if (password !== undefined) await page.getByLabel('Raumpasswort', { exact: true }).fill(password);
  await button(page, 'Beitreten').click();
}

/**
 * The newest chat message's time as the page shows it, and the same moment written by the
 * browser itself for `locale` (hour and minute), from the `<time datetime>` the page gives it.
 */
async function chatTime(page, locale) {
  const time = page.locator('.messages .message time').last();
  await time.waitFor();
  const [shown, datetime] = [await time.textContent(), await time.getAttribute('datetime')];
  const expected = await page.evaluate(([iso, tag]) => new Date(iso)
    .toLocaleTimeString(tag, { hour: '2-digit', minute: '2-digit' }), [datetime, locale]);
  return { shown, expected };
}

eachBrowser('a German browser gets the German UI: join form, call, the server\'s errors by code and chat times', async (t, kind) => {
  // A server stricter about names than the web app (40): its refusal is worded by its code.
  const { server, browser } = await setUp(t, { name: `i18n-de-${kind}`, args: ['--max-name-chars', '10'], browsers: [kind] });
  const ada = await localePage(browser, 'ada', 'de-DE');

  await ada.goto(server.url);
  await ada.getByLabel('Raum', { exact: true }).waitFor();
  await ada.getByLabel('Dein Name', { exact: true }).waitFor();
  await button(ada, 'Beitreten').waitFor();
  assert.equal(await htmlLang(ada), 'de');
  assert.equal(await ada.title(), 'treff – Videoanrufe');
  assert.equal(await ada.getByLabel('Sprache').inputValue(), 'de');
  for (const english of ['Your name', 'Room password']) {
    assert.equal(await ada.getByLabel(english).count(), 0, `no "${english}" on the German page`);
  }
  assert.equal(await button(ada, 'Join').count(), 0);
  // The README's picture of the German join page is Chromium's.
  const shots = kind === 'chromium' ? SCREENSHOTS : join(RESULTS, 'screenshots');
  mkdirSync(shots, { recursive: true });
  await ada.getByLabel('Raum', { exact: true }).fill('elternabend');
  await ada.getByLabel('Dein Name', { exact: true }).fill('Ada');
  await ada.screenshot({ path: join(shots, kind === 'chromium' ? 'join-de.png' : `join-de-${kind}.png`) });
  await ada.getByLabel('Raum', { exact: true }).fill('');
  await ada.getByLabel('Dein Name', { exact: true }).fill('');

  // The form's own check, in German.
  await beitreten(ada, { room: 'mein raum', name: 'Ada' });
  await alert(ada, 'Ein Raumname hat 1 bis 64 Buchstaben').waitFor();

  // The server's refusal, by its code: not the server's English sentence.
  await beitreten(ada, { room: 'kueche', name: 'Adalbert Humboldt' });
  await alert(ada, 'Dieser Name ist auf diesem Server nicht erlaubt').waitFor();
  assert.equal(await ada.getByText('at most 10 characters').count(), 0);

  // In the call: German controls, names and title.
  await beitreten(ada, { name: 'Ada', password: 'nordstern' });
  await waitFor('Ada to be welcomed', () => peerId(ada));
  await waitFor('the room\'s title', async () => (await ada.title()) === 'Raum kueche – treff');
  assert.equal(await htmlLang(ada), 'de');
  for (const name of ['Mikrofon', 'Kamera', 'Bildschirm teilen', 'Hand heben', 'Reaktionen', 'Aufnehmen', 'Chat', 'Verlassen', 'Für alle beenden', 'Warteraum', 'Link kopieren']) {
    await button(ada, name).waitFor();
  }
  await ada.getByRole('button', { name: /^Personen/ }).waitFor();
  await ada.getByRole('navigation', { name: 'Anrufsteuerung' }).waitFor();
  await tileOf(ada, 'Ada (du)').waitFor();
  assert.equal(await button(ada, 'Raise hand').count(), 0);

  // The room's password, refused in German.
  const bob = await localePage(browser, 'bob', 'de-DE');
  await bob.goto(`${server.url}/room/kueche`);
  await beitreten(bob, { name: 'Bob' });
  await alert(bob, 'Dieser Raum hat ein Passwort; gib es ein, um beizutreten.').waitFor();
  await beitreten(bob, { name: 'Bob', password: 'suedstern' });
  await alert(bob, 'Das Passwort stimmt nicht.').waitFor();
  assert.equal(await peerId(bob), null);
  await beitreten(bob, { name: 'Bob', password: 'nordstern' });
  await waitFor('Bob to be welcomed', () => peerId(bob));
  await ada.locator('video[aria-label="Video von Bob"]').waitFor({ state: 'attached' });

  // A raised hand: its mark and the screen reader's sentence.
  await button(bob, 'Hand heben').click();
  await tileOf(ada, 'Bob').getByRole('img', { name: 'Bob, Hand gehoben (1)', exact: true }).waitFor();
  await waitFor('the raised hand to be announced in German', async () => (
    await ada.getByTestId('announcements').textContent()) === 'Bob hat die Hand gehoben.');
  await ada.getByRole('button', { name: /^Personen/ }).click();
  await ada.getByRole('region', { name: 'Teilnehmende', exact: true }).waitFor();
  await ada.getByRole('list', { name: 'Gehobene Hände' }).waitFor();
  await button(ada, 'Bob entfernen').waitFor();

  // Chat times as German writes them (24 hours, no AM/PM).
  const field = bob.getByLabel('Nachricht', { exact: true });
  if (!(await field.isVisible())) await button(bob, 'Chat').click();
  await field.fill('Hallo zusammen');
  await button(bob, 'Senden').click();
  // Ada has the participant list open, so her chat button also says how many are unread.
  await waitFor('Ada\'s chat button to count the message', async () => (
    await ada.locator('#chat-unread').textContent()) === '1 ungelesene Nachricht');
  await ada.getByRole('button', { name: /^Chat/ }).click();
  await ada.locator('.messages .message').filter({ hasText: 'Hallo zusammen' }).waitFor();
  const { shown, expected } = await chatTime(ada, 'de-DE');
  assert.match(shown, /^\d\d:\d\d$/, `a German time, not "${shown}"`);
  assert.equal(shown, expected);
});

eachBrowser('the language switch changes the page at once and is remembered across a reload', async (t, kind) => {
  const { server, browser } = await setUp(t, { name: `i18n-switch-${kind}`, browsers: [kind] });
  const page = await localePage(browser, 'ada', 'de-DE');
  await page.goto(`${server.url}/room/tafel`);
  const switcher = page.getByLabel('Sprache');
  await switcher.waitFor();
  // Each language is named in itself.
  assert.deepEqual(await switcher.locator('option').allTextContents(), ['English', 'Deutsch']);

  await switcher.selectOption('en');
  await page.getByLabel('Room', { exact: true }).waitFor();
  await page.getByLabel('Your name', { exact: true }).waitFor();
  await button(page, 'Join').waitFor();
  assert.equal(await htmlLang(page), 'en');
  assert.equal(await page.title(), 'treff – video calls');
  assert.equal(await page.getByLabel('Language').inputValue(), 'en');

  // Remembered, although the browser still says German.
  await page.reload();
  await page.getByLabel('Your name', { exact: true }).waitFor();
  assert.equal(await htmlLang(page), 'en');
  assert.equal(await page.getByLabel('Dein Name').count(), 0);

  // In the call, from the header: the controls change at once.
  await page.getByLabel('Your name', { exact: true }).fill('Ada');
  await button(page, 'Join').click();
  await waitFor('Ada to be welcomed', () => peerId(page));
  await button(page, 'Raise hand').waitFor();
  await page.getByLabel('Language').selectOption('de');
  await button(page, 'Hand heben').waitFor();
  await tileOf(page, 'Ada (du)').waitFor();
  assert.equal(await button(page, 'Raise hand').count(), 0);
  assert.equal(await htmlLang(page), 'de');
  assert.equal(await page.title(), 'Raum tafel – treff');

  await page.reload();
  await page.getByLabel('Dein Name', { exact: true }).waitFor();
  assert.equal(await htmlLang(page), 'de');
});

eachBrowser('an English browser gets the English UI, and so does one in a language treff does not speak', async (t, kind) => {
  const { server, browser } = await setUp(t, { name: `i18n-en-${kind}`, browsers: [kind] });
  const ada = await localePage(browser, 'ada', 'en-US');
  await ada.goto(`${server.url}/room/standup`);
  await ada.getByLabel('Room', { exact: true }).waitFor();
  await ada.getByLabel('Your name', { exact: true }).waitFor();
  assert.equal(await htmlLang(ada), 'en');
  assert.equal(await ada.getByLabel('Language').inputValue(), 'en');
  await ada.getByLabel('Your name', { exact: true }).fill('Ada');
  await button(ada, 'Join').click();
  await waitFor('Ada to be welcomed', () => peerId(ada));
  await button(ada, 'Raise hand').waitFor();
  assert.equal(await ada.title(), 'Room standup – treff');

  // US English writes the time with AM or PM.
  const field = ada.getByLabel('Message', { exact: true });
  if (!(await field.isVisible())) await button(ada, 'Chat').click();
  await field.fill('hello');
  await button(ada, 'Send').click();
  const { shown, expected } = await chatTime(ada, 'en-US');
  assert.match(shown, /^\d\d:\d\d\s[AP]M$/u, `a US time, not "${shown}"`);
  assert.equal(shown, expected);

  // French is not one of treff's languages: English. Austrian German is German.
  const cem = await localePage(browser, 'cem', 'fr-FR');
  await cem.goto(server.url);
  await cem.getByLabel('Your name', { exact: true }).waitFor();
  assert.equal(await htmlLang(cem), 'en');
  const dai = await localePage(browser, 'dai', 'de-AT');
  await dai.goto(server.url);
  await dai.getByLabel('Dein Name', { exact: true }).waitFor();
  assert.equal(await htmlLang(dai), 'de');
});

eachBrowser('before the app runs, the page speaks the browser\'s language too, also when the app cannot start', async (t, kind) => {
  const { server, browser } = await setUp(t, { name: `i18n-boot-${kind}`, browsers: [kind] });
  for (const [locale, lang, failed] of [
    ['de-DE', 'de', 'treff konnte in diesem Browser nicht starten: '],
    ['en-US', 'en', 'treff could not start in this browser: '],
  ]) {
    const page = await localePage(browser, lang, locale);
    // The web app's WebAssembly never arrives: the boot page's own words are all there is.
    await page.route('**/pkg/treff_client_bg.wasm', (route) => route.abort());
    await page.goto(server.url);
    const notice = page.getByRole('alert');
    await notice.waitFor();
    assert.ok((await notice.textContent()).startsWith(failed), await notice.textContent());
    assert.equal(await htmlLang(page), lang);
    await page.context().close();
  }
});
