// The console's issue-19 pages in a real browser (Debian's Chromium,
// playwright-core) against the real API, worker, model and photos: sign-in
// lands on #/dashboard, which says what to do while the fleet has done
// nothing and draws its charts (canvas pixels in the lines' colours, not just
// elements) once a batch has run; the failures page finds a cut-off JPEG by
// its filters, hides it with one that does not match, and retries it, and
// pages 51 more with "Load more" and retries them all at once; the
// batch page downloads the CSV the API serves, re-runs the batch with another
// model into a new batch that finishes, and deletes it. Screenshots go to
// test/artifacts. Browser-side code is passed as functions over `any`: the
// test's types are Node's, not the DOM's, and strings would need eval, which
// the page's CSP forbids.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { ARTIFACTS, launchChromium } from '../helpers/browser.js';
import { ALL_PHOTOS, EXPECTED_FACES, readPhoto } from '../helpers/photos.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let browser: Browser;
let operator: string;
let keyName: string;
const pageErrors: string[] = [];

/** The batch every test after the first looks at: the six photos and a cut-off JPEG. */
let batchId: string;
let cutOff: { id: string; code: string };
const CUT_OFF = 'cut-off-scan.jpg';
const FACES = Object.values(EXPECTED_FACES).reduce((a, b) => a + b, 0);
const IMAGES_WITH_FACES = Object.values(EXPECTED_FACES).filter((n) => n > 0).length;

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(`console: ${msg.text()}`);
  });
  return page;
}

async function signIn(page: Page): Promise<void> {
  await page.goto(`${url}/`);
  await page.fill('#api-key', operator);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
}

const get = async (path: string): Promise<any> => {
  const res = await fetch(`${url}${path}`, authed(operator));
  expect(res.status, path).toBe(200);
  return res.json();
};

/** Per chart: the points above zero it was given, how often uPlot drew it, and how many canvas pixels are exactly each line's colour. */
async function chartsDrawn(page: Page): Promise<Record<string, { points: number; drawn: number; pixels: number[] }>> {
  return page.evaluate(() => {
    const doc = (globalThis as any).document;
    const out: Record<string, { points: number; drawn: number; pixels: number[] }> = {};
    for (const figure of doc.querySelectorAll('[data-testid=chart]')) {
      const canvas = figure.querySelector('canvas');
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      const colours = [...figure.querySelectorAll('.u-legend .u-series .u-marker')].slice(1).map((m: any) => m.style.borderColor as string);
      const rgb = colours.map((c) => c.match(/\d+/g)!.map(Number));
      const pixels = rgb.map(([r, g, b]) => {
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] === r && data[i + 1] === g && data[i + 2] === b && data[i + 3] === 255) n++;
        return n;
      });
      out[figure.dataset.chart] = { points: Number(figure.dataset.points), drawn: Number(figure.dataset.drawn ?? 0), pixels };
    }
    return out;
  });
}

beforeAll(async () => {
  env = await createTestEnv('console_dashboard');
  services = await env.open();
  url = (await env.api(services)).url;
  await env.worker(services);
  operator = await env.key(services, 'operator');
  keyName = ((await get('/v1/me')) as { name: string }).name;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await env?.cleanup();
});

describe('the console over time and across batches', () => {
  it('lands on #/dashboard after sign-in; with nothing done yet it says what to do instead of drawing empty charts', async () => {
    const page = await newPage();
    await signIn(page);
    expect(await page.textContent('nav a.active')).toBe('Dashboard');
    expect(new URL(page.url()).hash).toBe('#/dashboard');
    const empty = await page.waitForSelector('[data-testid=dashboard-empty]');
    expect(await empty.textContent()).toMatch(/Nothing to chart for the last hour.*lookout submit/s);
    expect(await page.locator('[data-testid=chart]').count()).toBe(0);
    // Health comes first, above the numbers and the charts.
    const order = await page.$$eval('main [data-testid]', (els) => els.map((e) => e.getAttribute('data-testid')));
    expect(order.indexOf('problems')).toBeLessThan(order.indexOf('tiles'));
    expect(order.indexOf('tiles')).toBeLessThan(order.indexOf('dashboard-empty'));
    expect(await page.title()).toBe('Dashboard · Lookout');
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-dashboard-empty.png'), fullPage: true });
    await page.context().close();
  });

  it('draws at least three charts with data after a batch, and counts it', async () => {
    const photos = await Promise.all(ALL_PHOTOS.map(async (name) => ({ name, bytes: await readPhoto(name) })));
    const jpeg = await sharp(await readPhoto('astronaut.png'))
      .jpeg()
      .toBuffer();
    const { status, body } = await submit(url, operator, [...photos, { name: CUT_OFF, bytes: jpeg.subarray(0, Math.floor(jpeg.length / 2)) }]);
    expect(status).toBe(202);
    batchId = body.id;
    expect((await waitForBatch(url, operator, batchId, 120_000)).status).toBe('completed_with_errors');
    const results = await get(`/v1/batches/${batchId}/results`);
    const failed = results.images.find((i: any) => i.filename === CUT_OFF);
    expect(failed).toMatchObject({ status: 'failed', error: { code: expect.any(String) } });
    cutOff = { id: failed.id, code: failed.error.code };

    const page = await newPage();
    await signIn(page);
    await page.waitForFunction(() => {
      const figures = [...(globalThis as any).document.querySelectorAll('[data-testid=chart]')] as any[];
      return figures.filter((f) => Number(f.dataset.points) > 0 && Number(f.dataset.drawn) > 0).length >= 3;
    });
    const charts = await chartsDrawn(page);
    const withData = Object.entries(charts).filter(([, c]) => c.points > 0);
    expect(withData.map(([id]) => id)).toEqual(expect.arrayContaining(['throughput', 'latency', 'stages']));
    // Drawn: each such chart's lines (or dots, for a lone value) show on its canvas in their own colours.
    for (const [id, c] of withData) {
      expect(c.drawn, id).toBeGreaterThan(0);
      expect(
        c.pixels.reduce((a, b) => a + b, 0),
        `${id}: pixels of its lines' colours (${c.pixels.join(', ')})`,
      ).toBeGreaterThan(20);
    }
    // Images per minute: the done line itself.
    expect(charts.throughput!.pixels[0]).toBeGreaterThan(20);
    // The tiles count the batch: 6 done, the cut-off one failed.
    const tile = (label: string) => page.textContent(`[data-tile="${label}"] .tile-value`);
    expect(Number(await tile('images done in the last hour'))).toBe(ALL_PHOTOS.length);
    expect(Number(await tile('images failed in the last hour'))).toBe(1);
    // Every chart has a title with its unit, and a time axis.
    for (const figure of await page.$$('[data-testid=chart]')) expect(await figure.$eval('h2', (h) => h.textContent)).toMatch(/\(.+\)$/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-dashboard.png'), fullPage: true });

    // Another window: the same batch, in 5-minute buckets.
    await page.click('button:text-is("24 h")');
    await page.waitForSelector('[data-tile="images done in the last 24 hours"]');
    await page.waitForFunction(() => Number((globalThis as any).document.querySelector('[data-chart=throughput]')?.dataset.points) > 0);
    // The charts follow the page's width: as wide as their box at 1280 px (two columns), and again at 1800 px and 700 px (one column).
    const fits = () =>
      page.waitForFunction(() =>
        [...(globalThis as any).document.querySelectorAll('[data-testid=chart]')].every((figure: any) => {
          const canvas = figure.querySelector('canvas').getBoundingClientRect().width;
          return Math.abs(canvas - figure.querySelector('.chart-plot').clientWidth) <= 2;
        }),
      );
    const width = () => page.$eval('[data-chart=throughput] canvas', (c: any) => Math.round(c.getBoundingClientRect().width as number));
    await fits();
    const widths = [await width()];
    for (const viewport of [1800, 700]) {
      await page.setViewportSize({ width: viewport, height: 900 });
      await page.waitForFunction(
        (w) => Math.round((globalThis as any).document.querySelector('[data-chart=throughput] canvas').getBoundingClientRect().width) !== w,
        widths.at(-1)!,
      );
      await fits();
      widths.push(await width());
    }
    expect(new Set(widths).size).toBe(3);
    await page.context().close();
  }, 180_000);

  it('the failures page lists the cut-off JPEG with its reason, filters it in and out, and retries it', async () => {
    const page = await newPage();
    await signIn(page);
    await page.click('nav >> text=Failures');
    const row = page.locator(`[data-testid=failures] tr[data-image-id="${cutOff.id}"]`);
    await row.waitFor();
    expect(await row.locator('[data-testid=error-code]').textContent()).toBe(cutOff.code);
    expect(await row.locator(`a[href="#/batches/${batchId}/images/${cutOff.id}"]`).textContent()).toBe(CUT_OFF);
    expect(await row.locator(`a[href="#/batches/${batchId}"]`).count()).toBe(1);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-failures.png'), fullPage: true });

    const shown = () => page.$$eval('[data-testid=failures] tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-filename')));
    const noneShown = () => page.waitForSelector('[data-testid=no-failures]');
    // Part of the file name: found.
    await page.fill('input[name=q]', 'off-sc');
    await expect.poll(shown, { timeout: 10_000 }).toEqual([CUT_OFF]);
    // A name that matches nothing: hidden.
    await page.fill('input[name=q]', 'no-such-file');
    await noneShown();
    await page.fill('input[name=q]', '');
    await row.waitFor();
    // Its error code: found; another code: hidden.
    await page.fill('input[name=error]', cutOff.code);
    await expect.poll(shown, { timeout: 10_000 }).toEqual([CUT_OFF]);
    await page.fill('input[name=error]', cutOff.code === 'unsupported_format' ? 'too_large' : 'unsupported_format');
    await noneShown();
    await page.fill('input[name=error]', '');
    // Another model: hidden; its own: found.
    await page.selectOption('select[name=model]', 'blazeface-front');
    await noneShown();
    await page.selectOption('select[name=model]', 'blazeface-back');
    await row.waitFor();
    // Failed in the last hour: found.
    await page.selectOption('select[name=since]', '1h');
    await row.waitFor();

    // Retry it: the page says what happened, and the image runs again (and fails again: its bytes are cut off).
    await row.locator('input[type=checkbox]').check();
    await page.click('[data-testid=retry]');
    expect(await page.textContent('[data-testid=retry-result]')).toMatch(/^1 image queued again/);
    await expect
      .poll(async () => (await get(`/v1/batches/${batchId}/results`)).images.find((i: any) => i.id === cutOff.id).status, { timeout: 60_000 })
      .toBe('failed');
    await page.context().close();
  }, 120_000);

  it('the batch page says what was found, downloads the CSV with the key, re-runs with another model and deletes the re-run', async () => {
    const page = await newPage();
    await signIn(page);
    await page.goto(`${url}/#/batches/${batchId}`);
    await page.waitForSelector('.page-header [data-testid=status]:text-is("completed with errors")');
    expect(await page.textContent('[data-testid=found]')).toBe(
      `${ALL_PHOTOS.length + 1} images · ${IMAGES_WITH_FACES} images with faces · ${FACES} ${FACES === 1 ? 'face' : 'faces'}`,
    );
    // The file name under a thumbnail opens the image too; one with nothing found says so.
    await page.click('[data-filename="coffee.png"] .card-text a');
    await page.waitForSelector('[data-testid=no-detections]');
    expect(await page.locator('[data-testid=detections]').count()).toBe(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-image-nothing-found.png') });
    await page.goBack();

    // CSV: what the API serves to the key, byte for byte, under its file name.
    await page.waitForSelector('[data-testid=rerun] select option[value=blazeface-front]', { state: 'attached' });
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-batch-actions.png'), fullPage: true });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=download-csv]')]);
    const csv = await readFile(await download.path(), 'utf8');
    const served = await (await fetch(`${url}/v1/batches/${batchId}/results?format=csv`, authed(operator))).text();
    expect(csv).toBe(served);
    expect(download.suggestedFilename()).toMatch(/\.csv$/);
    expect(csv).toContain(CUT_OFF);
    expect(csv.split(/\r?\n/)[0]).toMatch(/filename/);

    // Re-run with blazeface-front: a new batch over the same images, which finishes with that model.
    await page.selectOption('[data-testid=rerun] select[name=model]', 'blazeface-front');
    await page.click('[data-testid=rerun] button[type=submit]');
    await page.waitForURL((u) => /#\/batches\/[0-9a-f-]{36}$/.test(u.hash) && !u.hash.endsWith(batchId), { timeout: 30_000 });
    const rerunId = page.url().split('/').pop()!;
    await page.waitForSelector('.page-header [data-testid=status]:text-matches("^completed")', { timeout: 120_000 });
    const rerun = await get(`/v1/batches/${rerunId}/results`);
    expect(rerun.images).toHaveLength(ALL_PHOTOS.length + 1);
    for (const image of rerun.images.filter((i: any) => i.status === 'done')) expect(image.model.name).toBe('blazeface-front');

    // The batches list: images, detections and the key's name.
    await page.goto(`${url}/#/batches`);
    const listed = page.locator(`[data-batch-id="${batchId}"]`);
    await listed.waitFor();
    expect(await listed.locator('[data-testid=images]').textContent()).toBe(String(ALL_PHOTOS.length + 1));
    expect(await listed.locator('[data-testid=detections]').textContent()).toBe(String(FACES));
    expect(await listed.locator('td', { hasText: keyName }).count()).toBe(1);

    // Delete the re-run, after saying yes.
    await page.goto(`${url}/#/batches/${rerunId}`);
    await page.click('[data-testid=delete] button:text-is("Delete batch…")');
    await page.click('[data-testid=confirm-delete]');
    expect(await page.textContent('[data-testid=deleted]')).toMatch(new RegExp(`^Deleted ${ALL_PHOTOS.length + 1} images and \\d+ detections?; `));
    expect((await fetch(`${url}/v1/batches/${rerunId}`, authed(operator))).status).toBe(404);
    await page.context().close();
  }, 240_000);

  it('the failures page pages: 50 rows, then "Load more" brings the rest', async () => {
    // 51 more failures: a PNG signature and then nothing decodable, under names of their own.
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 9, g: 99, b: 199 } } })
      .png()
      .toBuffer();
    const broken = Array.from({ length: 51 }, (_, i) => ({ name: `broken-${String(i).padStart(2, '0')}.png`, bytes: png.subarray(0, 40) }));
    const { body } = await submit(url, operator, broken);
    expect((await waitForBatch(url, operator, body.id, 120_000)).status).toBe('failed');

    const page = await newPage();
    await signIn(page);
    await page.goto(`${url}/#/failures`);
    await page.fill('input[name=q]', 'broken-');
    const rows = page.locator('[data-testid=failures] tbody tr');
    const names = () => page.$$eval('[data-testid=failures] tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-filename')!));
    // 50 broken ones shown (the unfiltered list's first page is them too: Load more stays disabled until the filtered list has come).
    await expect.poll(async () => (await names()).filter((n) => n.startsWith('broken-')).length, { timeout: 10_000 }).toBe(50);
    expect(await rows.count()).toBe(50);
    await page.click('[data-testid=load-more]');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(51);
    expect(await page.locator('[data-testid=load-more]').count()).toBe(0);
    // Each once.
    expect(new Set(await names()).size).toBe(51);
    // Select every row shown and retry: all 51 go back on the queue, in one batch.
    await page.check('input[aria-label="select every row shown"]');
    await page.click('[data-testid=retry]');
    expect(await page.textContent('[data-testid=retry-result]')).toMatch(/^51 images queued again, in 1 batch;/);
    await page.context().close();
  }, 180_000);

  it('logged no page error on any page', () => {
    expect(pageErrors).toEqual([]);
  });
});
