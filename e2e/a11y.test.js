// The accessibility audit: axe-core (WCAG 2.1 A and AA rules) run in real headless Chromium and
// Firefox against the real server, on every screen and panel a person meets: the join page (also
// with an error), the call, the connection details, the chat and participant panels, the reaction
// picker, a raised hand, the recording indicator, the confirmation dialog, the waiting page and a
// moderator's waiting list, and the call on a phone-sized screen; in English and in German. A
// serious or critical violation fails the test with the rule, the elements and axe's explanation.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROOT, browserName, eachBrowser, peerId, setUp, waitFor, waitForPresented,
} from './helpers.js';

const AXE = readFileSync(join(ROOT, 'e2e/node_modules/axe-core/axe.min.js'), 'utf8');
const RULES = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/**
 * What the test clicks and reads, per language. The audit itself is language-blind; the names
 * are only how the test finds its way.
 */
const NAMES = {
  en: {
    room: 'Room', name: 'Your name', join: 'Join', chat: 'Chat', message: 'Message', send: 'Send',
    people: /^People/, participants: 'Participants', raise: 'Raise hand', reactions: 'Reactions',
    record: 'Record', remove: (n) => `Remove ${n}`, cancel: 'Cancel', waitingRoom: 'Waiting room',
    lobby: 'Waiting to join', admit: (n) => `Admit ${n}`, video: (n) => `Video of ${n}`,
    quality: /^Connection to Bob: /,
  },
  de: {
    room: 'Raum', name: 'Dein Name', join: 'Beitreten', chat: 'Chat', message: 'Nachricht',
    send: 'Senden', people: /^Personen/, participants: 'Teilnehmende', raise: 'Hand heben',
    reactions: 'Reaktionen', record: 'Aufnehmen', remove: (n) => `${n} entfernen`,
    cancel: 'Abbrechen', waitingRoom: 'Warteraum', lobby: 'Warten auf Einlass',
    admit: (n) => `${n} einlassen`, video: (n) => `Video von ${n}`,
    quality: /^Verbindung zu Bob: /,
  },
};

/** A page in its own context with the browser's language set to `locale`. */
async function localePage(browser, label, locale, viewport = { width: 1280, height: 720 }) {
  const context = await browser.newContext({ viewport, locale });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[${label}] page error: ${err.message}`));
  return page;
}

/**
 * Runs axe on the page as it is and fails on serious or critical violations. Every audited view is
 * named in `audited` so the test can show that it looked where it says.
 */
async function audit(page, view, audited) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const result = await page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`),
    }));
  }, RULES);
  audited.push(view);
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of result.filter((x) => !bad.includes(x))) console.log(`a11y ${view}: ${v.impact} ${v.id}: ${v.help}`);
  for (const v of bad) console.error(`a11y ${view}: ${v.impact} ${v.id}: ${v.help}\n    ${v.nodes.join('\n    ')}`);
  assert.deepEqual(bad, [], `${view}: ${bad.length} serious or critical WCAG violation(s):\n${
    bad.map((v) => `- ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n')}`);
}

for (const lang of ['en', 'de']) {
  const n = NAMES[lang];
  const locale = lang === 'de' ? 'de-DE' : 'en-US';
  const button = (page, name) => page.getByRole('button', { name, exact: true });

  async function join(page, server, room, name) {
    await page.goto(`${server.url}/room/${room}`);
    await page.getByLabel(n.name).fill(name);
    await button(page, n.join).click();
  }

  eachBrowser(`the ${lang === 'de' ? 'German' : 'English'} UI passes an automated WCAG 2.1 AA audit on every screen, panel and dialog`, async (t, kind) => {
    const { server, browser } = await setUp(t, { name: `a11y-${lang}-${kind}`, args: ['--sfu', 'off'], browsers: [kind] });
    const audited = [];
    const room = `a11y-${lang}`;

    const ada = await localePage(browser, 'ada', locale);
    await ada.goto(`${server.url}/room/${room}`);
    await ada.getByLabel(n.room, { exact: true }).waitFor();
    assert.equal(await ada.evaluate(() => document.documentElement.lang), lang, 'the page is in the browser\'s language');
    await audit(ada, 'join page', audited);
    // A refused join: the form with its error.
    await ada.getByLabel(n.name).fill('   ');
    await button(ada, n.join).click();
    await ada.getByRole('alert').waitFor();
    await audit(ada, 'join page with an error', audited);

    await join(ada, server, room, 'Ada');
    await waitFor('Ada to be welcomed', () => peerId(ada));
    const bob = await localePage(browser, 'bob', locale);
    await join(bob, server, room, 'Bob');
    await waitFor('Bob to be welcomed', () => peerId(bob));
    await waitForPresented(ada, n.video('Bob'), { timeoutMs: 20000 });
    await audit(ada, 'call page', audited);

    // The connection details of Bob's tile, open.
    const quality = ada.locator('figure.tile').getByRole('button', { name: n.quality });
    await quality.waitFor({ timeout: 15000 });
    await quality.click();
    await ada.locator('.quality-details').waitFor();
    await audit(ada, 'connection details', audited);
    await quality.click();

    // Chat with a message in it.
    const field = ada.getByLabel(n.message);
    if (!(await field.isVisible())) await button(ada, n.chat).click();
    await field.fill('Hallo, can you hear me?');
    await button(ada, n.send).click();
    await ada.locator('.messages .message').first().waitFor();
    await audit(ada, 'chat panel', audited);

    // Bob raises his hand; Ada sees it in the participant list, with her moderator buttons.
    await button(bob, n.raise).click();
    await ada.getByRole('img', { name: /Bob,/ }).first().waitFor();
    await ada.getByRole('button', { name: n.people }).click();
    await ada.getByRole('region', { name: n.participants, exact: true }).waitFor();
    await audit(ada, 'participants panel with a raised hand', audited);
    await audit(bob, 'call page of a participant with a raised hand', audited);

    // The reaction picker, open.
    await button(ada, n.reactions).click();
    await ada.locator('#reaction-picker button').first().waitFor();
    await audit(ada, 'reaction picker', audited);
    await button(ada, n.reactions).click();

    // Recording: the indicator for everyone.
    await button(ada, n.record).click();
    await bob.locator('.recording-indicator').waitFor();
    await audit(bob, 'call page with the recording indicator', audited);
    await button(ada, n.record).click();
    await waitFor('the recording to stop', async () => (await bob.locator('.recording-indicator').count()) === 0, 20000);

    // The confirmation before removing someone.
    await button(ada, n.remove('Bob')).click();
    await ada.locator('dialog[open]').waitFor();
    await audit(ada, 'confirmation dialog', audited);
    await button(ada, n.cancel).click();

    // The waiting room: the waiting page, and the moderator's list.
    await button(ada, n.waitingRoom).click();
    await waitFor('the waiting room to be on', async () => (await button(ada, n.waitingRoom).getAttribute('aria-pressed')) === 'true');
    const cem = await localePage(browser, 'cem', locale);
    await join(cem, server, room, 'Cem');
    await cem.getByRole('status').first().waitFor();
    await ada.getByRole('region', { name: n.lobby }).getByRole('button', { name: n.admit('Cem') }).waitFor();
    await audit(cem, 'waiting page', audited);
    await audit(ada, 'waiting list of a moderator', audited);

    // The call on a phone.
    const dai = await localePage(browser, 'dai', locale, { width: 390, height: 844 });
    await button(ada, n.waitingRoom).click();
    await join(dai, server, room, 'Dai');
    await waitFor('Dai to be welcomed', () => peerId(dai));
    await waitForPresented(dai, n.video('Ada'), { timeoutMs: 20000 });
    await audit(dai, 'call page on a phone', audited);

    console.log(`a11y [${lang}, ${browserName(browser)}]: no serious or critical violation in ${audited.length} views: ${audited.join('; ')}`);
  });
}
