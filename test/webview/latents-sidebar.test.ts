/**
 * The latents sidebar in Chromium with a fake host: a 73,728-latent table in the virtualised list; row
 * counts before/after filters against an independent count; sort orders against an independent sort;
 * clicks reach the host; a row's steer button and "Steer with highlighted" post steering requests that the
 * host's protocol validator accepts (and none for a strength that is not a number); no CSP violation.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { parseLatentsMessage } from '../../extension/protocol/validate';
import { launchBrowser, openWebview, type WebviewPage } from './harness';
import { PAPER_DICT_SIZE, makeTable, tableMessage } from './fixtures';

const table = makeTable(PAPER_DICT_SIZE, 11);
let browser: Browser;
let view: WebviewPage;

before(async () => {
  browser = await launchBrowser();
  view = await openWebview(browser, 'latents', { bodyClass: 'sidebar', width: 420, height: 900 });
  await view.post(tableMessage(table));
});

after(async () => {
  await view?.close();
  await browser?.close();
});

const countText = () => view.page.locator('.count').textContent();
/** Ids of the rows a user can see (rendered and displayed), top to bottom. */
const renderedIds = () => view.page.$$eval('.vlist .vrow', (rows) =>
  rows.filter((r) => getComputedStyle(r).display !== 'none')
    .map((r) => ({ pos: Number((r as HTMLElement).dataset.pos), id: Number((r as HTMLElement).dataset.id) }))
    .sort((a, b) => a.pos - b.pos).map((r) => r.id));

async function setControl(id: string, value: string | boolean): Promise<void> {
  await view.page.evaluate(([id, value]) => {
    const node = document.getElementById(id as string) as HTMLElement & { value?: string; checked?: boolean };
    if (typeof value === 'boolean') node.checked = value; else node.value = value as string;
    node.dispatchEvent(new Event(typeof value === 'boolean' || node.tagName === 'VSCODE-SINGLE-SELECT' ? 'change' : 'input', { bubbles: true }));
  }, [id, value] as const);
}

/** Ascending by value with NaN last and ties by id; `descending` reverses the finite part only. */
function referenceOrder(col: Float32Array, ids: number[], descending: boolean): number[] {
  const finite = ids.filter((j) => !Number.isNaN(col[j]));
  const nan = ids.filter((j) => Number.isNaN(col[j]));
  finite.sort((a, b) => col[a] - col[b] || a - b);
  if (descending) finite.reverse();
  return [...finite, ...nan];
}

const allIds = Array.from({ length: PAPER_DICT_SIZE }, (_, j) => j);

test('all 73,728 latents are listed while only a viewport of rows exists in the DOM', async () => {
  assert.equal(await countText(), '73,728 of 73,728 latents');
  const rows = await renderedIds();
  assert.ok(rows.length > 5 && rows.length < 120, `rendered rows: ${rows.length}`);
  const sent = await view.sent();
  const last = sent.filter((m) => m.type === 'rowCount').at(-1);
  assert.deepEqual(last, { type: 'rowCount', shown: PAPER_DICT_SIZE, total: PAPER_DICT_SIZE });
  assert.deepEqual(view.errors, []);
});

test('default sort is Delta-norm descending, and the first rows match an independent sort', async () => {
  const expected = referenceOrder(table.deltaNorm, allIds, true);
  const rows = await renderedIds();
  assert.ok(rows.length >= 8, `rendered rows: ${rows.length}`);
  assert.deepEqual(rows, expected.slice(0, rows.length));
});

test('tag filter chat-only shows exactly the latents with Delta-norm > 0.9', async () => {
  await setControl('filter-tag', 'chat-only');
  const expected = allIds.filter((j) => table.deltaNorm[j] > 0.9);
  assert.ok(expected.length > 1000 && expected.length < PAPER_DICT_SIZE);
  assert.equal(await countText(), `${expected.length.toLocaleString('en-US')} of 73,728 latents`);
  const sent = await view.sent();
  assert.equal(sent.filter((m) => m.type === 'rowCount').at(-1)?.shown, expected.length);
  for (const id of await renderedIds()) assert.ok(table.deltaNorm[id] > 0.9, `latent ${id} is not chat-only`);
});

test('robust chat-specific flag filter and nu_eps ascending sort agree with an independent computation', async () => {
  await setControl('filter-flag', 'robust');
  await setControl('sort-key', 'nuError');
  await setControl('sort-descending', false);
  const robust = allIds.filter((j) => table.deltaNorm[j] > 0.9 && table.nuError[j] < 0.2 && table.nuReconstruction[j] < 0.5);
  assert.equal(await countText(), `${robust.length.toLocaleString('en-US')} of 73,728 latents`);
  const expected = referenceOrder(table.nuError, robust, false);
  const rows = await renderedIds();
  assert.deepEqual(rows, expected.slice(0, rows.length));
});

test('scrolling to the end shows the last rows of the order', async () => {
  await setControl('filter-flag', 'any');
  await setControl('filter-tag', 'any');
  await setControl('sort-key', 'maxAct');
  await setControl('sort-descending', true);
  const expected = referenceOrder(table.maxAct, allIds, true);
  await view.page.evaluate(() => {
    const list = document.querySelector('.vlist')!;
    list.scrollTop = list.scrollHeight;
    list.dispatchEvent(new Event('scroll'));
  });
  const rows = await renderedIds();
  assert.deepEqual(rows.slice(-10), expected.slice(-10));
});

test('Delta-norm range and label text filters combine', async () => {
  await view.post({ type: 'labels', labels: [[5, 'Refusal detector'], [17, 'refusal (soft)'], [900, 'code keyword']] });
  await setControl('filter-text', 'refusal');
  assert.equal(await countText(), '2 of 73,728 latents');
  await setControl('filter-text', '');
  await setControl('filter-delta-min', '0.2');
  await setControl('filter-delta-max', '0.3');
  const expected = allIds.filter((j) => table.deltaNorm[j] >= 0.2 && table.deltaNorm[j] <= 0.3).length;
  assert.equal(await countText(), `${expected.toLocaleString('en-US')} of 73,728 latents`);
  await view.page.locator('#filter-reset').click();
  assert.equal(await countText(), '73,728 of 73,728 latents');
});

test('typing into the text field filters (real keyboard input through the vscode-textfield)', async () => {
  await view.post({ type: 'labels', labels: [[5, 'Refusal detector'], [17, 'refusal (soft)'], [900, 'code keyword']] });
  await view.page.locator('#filter-text input').fill('code');
  assert.equal(await countText(), '1 of 73,728 latents');
  assert.deepEqual(await renderedIds(), [900]);
  await view.page.locator('#filter-text input').fill('');
});

test('clicking a row asks the host to highlight that latent; shift-click for the second colour', async () => {
  const first = (await renderedIds())[0];
  await view.page.locator(`.vrow[data-id="${first}"]`).click();
  await view.page.locator(`.vrow[data-id="${first}"]`).click({ modifiers: ['Shift'] });
  const sent = await view.sent();
  const clicks = sent.filter((m) => m.type === 'highlightLatent').slice(-2);
  assert.deepEqual(clicks, [{ type: 'highlightLatent', latent: first, slot: 0 }, { type: 'highlightLatent', latent: first, slot: 1 }]);
});

test('a row\'s steer button asks the host to steer with that latent at the typed strength, without highlighting it', async () => {
  const first = (await renderedIds())[0];
  const before = (await view.sent()).length;
  await view.page.locator('#steer-strength input').fill('-2.5');
  await view.page.locator(`.vrow[data-id="${first}"] .row-steer`).click();
  const posted = (await view.sent()).slice(before);
  assert.deepEqual(posted.filter((m) => m.type !== 'rowCount'), [{ type: 'steerLatents', steer: [{ latent: first, strength: -2.5 }] }]);
  assert.deepEqual(parseLatentsMessage(posted.at(-1), { dictSize: PAPER_DICT_SIZE, tokens: 0, evidence: 0 }), posted.at(-1));
  assert.equal(await view.page.locator('#steer-problem').textContent(), '');
});

test('a strength that is not a number posts nothing and says why; an empty field steers at 1', async () => {
  const first = (await renderedIds())[0];
  await view.page.locator('#steer-strength input').fill('strong');
  const before = (await view.sent()).length;
  await view.page.locator(`.vrow[data-id="${first}"] .row-steer`).click();
  assert.deepEqual((await view.sent()).slice(before).filter((m) => m.type === 'steerLatents'), []);
  assert.match((await view.page.locator('#steer-problem').textContent()) ?? '', /finite number, got "strong"/);
  await view.page.locator('#steer-strength input').fill('');
  await view.page.locator(`.vrow[data-id="${first}"] .row-steer`).click();
  assert.deepEqual((await view.sent()).at(-1), { type: 'steerLatents', steer: [{ latent: first, strength: 1 }] });
});

test('"Steer with highlighted" steers with the highlighted latents (the multi-selection)', async () => {
  await view.post({ type: 'highlighted', latents: [] });
  const before = (await view.sent()).length;
  await view.page.locator('#steer-highlighted').click();
  assert.deepEqual((await view.sent()).slice(before).filter((m) => m.type === 'steerLatents'), []);
  assert.match((await view.page.locator('#steer-problem').textContent()) ?? '', /Highlight a latent first/);
  await view.post({ type: 'highlighted', latents: [12, 40] });
  await view.page.locator('#steer-strength input').fill('0.5');
  await view.page.locator('#steer-highlighted').click();
  const last = (await view.sent()).at(-1);
  assert.deepEqual(last, { type: 'steerLatents', steer: [{ latent: 12, strength: 0.5 }, { latent: 40, strength: 0.5 }] });
  assert.deepEqual(parseLatentsMessage(last, { dictSize: PAPER_DICT_SIZE, tokens: 0, evidence: 0 }), last);
});

test('the ν scatter draws when opened, and clicking a point opens that latent', async () => {
  const box = view.page.locator('.charts details', { hasText: 'ν^ε vs ν^r' });
  const finite = allIds.filter((j) => Number.isFinite(table.nuError[j]) && Number.isFinite(table.nuReconstruction[j]));
  assert.equal(await box.locator('summary').textContent(), `ν^ε vs ν^r (${finite.length.toLocaleString('en-US')} latents with Latent Scaling results)`);
  await box.locator('summary').click();
  const painted = await view.page.locator('canvas.scatter-points').evaluate((c) => {
    const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
  assert.ok(painted > 1000, `painted pixels: ${painted}`);
  // Click where latent j is drawn (the chart maps [-0.1, 2] onto its 300 x 220 viewBox, margins 38/8/30/8).
  const j = finite[0];
  const bounds = (await box.locator('.scatter').boundingBox())!;
  const vx = 38 + ((table.nuError[j] + 0.1) / 2.1) * (300 - 38 - 8);
  const vy = 220 - 30 - ((table.nuReconstruction[j] + 0.1) / 2.1) * (220 - 30 - 8);
  await view.page.mouse.click(bounds.x + (vx / 300) * bounds.width, bounds.y + (vy / 220) * bounds.height);
  const opened = (await view.sent()).filter((m) => m.type === 'openLatent').at(-1) as { latent: number } | undefined;
  assert.ok(opened, 'a click on a point opens a latent');
  const dist = (k: number) => Math.hypot(table.nuError[k] - table.nuError[j], table.nuReconstruction[k] - table.nuReconstruction[j]);
  assert.ok(dist(opened.latent) < 0.05, `opened latent ${opened.latent} is not at the clicked point`);
});

test('the strict CSP allowed everything the sidebar needed (no violation, no page error)', async () => {
  assert.deepEqual(await view.cspViolations(), []);
  assert.deepEqual(view.errors, []);
});
