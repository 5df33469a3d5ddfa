// The web console in a real browser: Debian's Chromium driven by
// playwright-core against the real API, worker, model and photos. Signs in,
// uploads the six photos through the file input, watches the batch complete,
// opens astronaut.png and finds exactly one box drawn by the browser. Also:
// each role sees only what it may use, /docs renders, Bull Board renders, and
// no page logs an error (a Content-Security-Policy refusal would).
// Browser-side code is passed as strings: the test's types are Node's, not the DOM's.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, launchChromium } from '../helpers/browser.js';
import type { Services } from '../../src/runtime/services.js';
import { ALL_PHOTOS, EXPECTED_FACES, photoPath, readPhoto } from '../helpers/photos.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let browser: Browser;
const pageErrors: string[] = [];

async function newPage(options: { httpCredentials?: { username: string; password: string } } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
  page.on('requestfailed', (req) => pageErrors.push(`requestfailed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(`console: ${msg.text()}`);
  });
  return page;
}

/**
 * Waits until `count` images match and all have decoded and are shown (the
 * console hides an original until it knows the original is in the boxes'
 * frame). A function, not a string: Playwright polls strings with eval,
 * which the page's CSP forbids.
 */
async function imagesLoaded(page: Page, selector: string, count: number): Promise<void> {
  await page.waitForFunction(
    ([sel, n]) => {
      const imgs = [...(globalThis as any).document.querySelectorAll(sel)] as Array<{
        complete: boolean;
        naturalWidth: number;
        dataset: Record<string, string>;
      }>;
      return imgs.length === n && imgs.every((i) => i.complete && i.naturalWidth > 0 && i.dataset.shown !== 'false');
    },
    [selector, count] as const,
  );
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.fill('#api-key', key);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
}

beforeAll(async () => {
  env = await createTestEnv('console');
  services = await env.open();
  url = (await env.api(services)).url;
  await env.worker(services);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await env?.cleanup();
});

describe('the web console', () => {
  it('signs in, uploads the six photos by the file input, watches the batch complete and draws one box on astronaut.png', async () => {
    const page = await newPage();
    const key = await env.key(services, 'submitter');

    // A wrong key is refused on the sign-in form.
    await page.goto(`${url}/`);
    await page.fill('#api-key', 'lk_00000000_' + 'x'.repeat(43));
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('[role=alert]')).toMatch(/invalid, revoked or expired/);

    await signIn(page, key);
    expect(await page.textContent('[data-testid=who]')).toContain('submitter');
    expect(await page.evaluate("sessionStorage.getItem('lookout.apiKey')")).toBe(key);
    expect(await page.evaluate('localStorage.length')).toBe(0);

    await page.click('nav >> text=Upload');
    // The six photos and a text file: the page keeps the photos and says why it skips the text.
    const notes = path.join(ARTIFACTS, 'notes.txt');
    await writeFile(notes, 'not an image\n');
    await page.setInputFiles('[data-testid=file-input]', [...ALL_PHOTOS.map(photoPath), notes]);
    await page.waitForSelector('text=6 files');
    expect(await page.textContent('[data-testid=not-images]')).toMatch(/not images .*: notes\.txt$/);
    await page.click('[data-testid=upload]');

    // The upload lands on the batch page, which follows the batch to the end.
    await page.waitForURL(/#\/batches\/[0-9a-f-]{36}$/, { timeout: 30_000 });
    const batchId = page.url().split('/').pop()!;
    await page.waitForSelector('.page-header [data-testid=status]:text-is("completed")', { timeout: 120_000 });
    expect(await page.$('[data-testid=batch-schedule]')).toBeNull(); // lane and position only while it waits

    const cards = await page.$$eval('[data-testid=image-grid] li', (lis) =>
      lis.map((li) => ({
        file: li.getAttribute('data-filename'),
        status: li.getAttribute('data-status'),
        boxes: li.querySelectorAll('[data-testid=box]').length,
      })),
    );
    expect(cards).toHaveLength(6);
    expect(Object.fromEntries(cards.map((c) => [c.file, c.boxes]))).toEqual(EXPECTED_FACES);
    expect(cards.every((c) => c.status === 'done')).toBe(true);
    expect(await page.textContent('[data-filename="astronaut.png"] [data-testid=count]')).toBe('face ×1');
    // Thumbnails really loaded (blob: URLs under the CSP).
    await imagesLoaded(page, '[data-testid=image-grid] img', 6);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-batch.png'), fullPage: true });

    // The batch is in the list, completed.
    await page.click('text=All batches');
    await page.waitForSelector(`[data-batch-id="${batchId}"] [data-testid=status]:text-is("completed")`);

    // astronaut.png large: exactly one box, drawn over the loaded image, with its label and score.
    await page.goto(`${url}/#/batches/${batchId}`);
    await page.click('[data-filename="astronaut.png"] a');
    await page.waitForSelector('[data-testid=image-view] img');
    await imagesLoaded(page, '[data-testid=image-view] img', 1);
    const boxes = page.locator('[data-testid=image-view] [data-testid=box]');
    expect(await boxes.count()).toBe(1);
    expect(await boxes.first().getAttribute('data-label')).toBe('face');
    expect(await page.textContent('[data-testid=image-view] svg text')).toMatch(/^face \d+%$/);
    const imgBox = (await page.locator('[data-testid=image-view] img').boundingBox())!;
    const faceBox = (await page.locator('[data-testid=image-view] [data-testid=box] rect').first().boundingBox())!;
    // The astronaut's face: inside the picture, in its upper half, a sensible size.
    expect(faceBox.x).toBeGreaterThan(imgBox.x);
    expect(faceBox.x + faceBox.width).toBeLessThan(imgBox.x + imgBox.width);
    expect(faceBox.y + faceBox.height / 2).toBeLessThan(imgBox.y + imgBox.height / 2);
    expect(faceBox.width / imgBox.width).toBeGreaterThan(0.1);
    expect(faceBox.width / imgBox.width).toBeLessThan(0.5);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-astronaut.png') });
    expect(await page.title()).toBe('Batches · Lookout');
    // → steps to the next image of the batch (camera.png), Escape back to the batch.
    await page.keyboard.press('ArrowRight');
    await page.waitForSelector('h1:text-is("camera.png")');
    await page.keyboard.press('Escape');
    await page.waitForSelector('[data-testid=image-grid]');
    expect(existsSync(path.join(ARTIFACTS, 'console-astronaut.png'))).toBe(true);
    await page.context().close();
  }, 240_000);

  it('uploads by drag and drop, with a progress bar', async () => {
    const page = await newPage();
    await signIn(page, await env.key(services, 'submitter'));
    await page.goto(`${url}/#/upload`);
    await page.waitForSelector('[data-testid=dropzone]');
    const camera = (await readPhoto('camera.png')).toString('base64');
    const dataTransfer = await page.evaluateHandle(
      `(() => { const dt = new DataTransfer(); const bytes = Uint8Array.from(atob('${camera}'), (c) => c.charCodeAt(0)); dt.items.add(new File([bytes], 'dropped-camera.png', { type: 'image/png' })); return dt; })()`,
    );
    await page.dispatchEvent('[data-testid=dropzone]', 'drop', { dataTransfer });
    await page.waitForSelector('text=1 file');
    // The bar is up only while bytes go out: record that it appeared.
    await page.evaluate(
      `window.sawProgress = false; new MutationObserver(() => { if (document.querySelector('[data-testid=upload-progress]')) window.sawProgress = true; }).observe(document.body, { subtree: true, childList: true });`,
    );
    await page.click('[data-testid=upload]');
    await page.waitForURL(/#\/batches\/[0-9a-f-]{36}$/, { timeout: 30_000 });
    expect(await page.evaluate('window.sawProgress')).toBe(true);
    await page.waitForSelector('.page-header [data-testid=status]:text-is("completed")', { timeout: 60_000 });
    expect(await page.textContent('[data-filename="dropped-camera.png"] [data-testid=count]')).toBe('face ×1');
    await page.context().close();
  }, 120_000);

  it('draws over the original in its EXIF orientation, and over a preview where the browser cannot show the format', async () => {
    const key = await env.key(services, 'submitter');
    // The top of astronaut.png (512 x 384), stored sideways with EXIF orientation 6; and camera.png as TIFF.
    const upright = await sharp(await readPhoto('astronaut.png'))
      .extract({ left: 0, top: 0, width: 512, height: 384 })
      .toBuffer();
    const sideways = await sharp(upright).rotate(270).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    expect(await sharp(sideways).metadata()).toMatchObject({ width: 384, height: 512, orientation: 6 });
    const tiff = await sharp(await readPhoto('camera.png'))
      .tiff()
      .toBuffer();
    const { body } = await submit(url, key, [
      { name: 'sideways.jpg', bytes: sideways },
      { name: 'camera.tiff', bytes: tiff },
    ]);
    await waitForBatch(url, key, body.id);
    const results = (await (await fetch(`${url}/v1/batches/${body.id}/results`, authed(key))).json()) as any;
    const [rotated, camera] = results.images;
    expect([rotated.width, rotated.height, rotated.detections.length]).toEqual([512, 384, 1]);
    expect(camera.detections).toHaveLength(1);

    const page = await newPage();
    await signIn(page, key);
    await page.goto(`${url}/#/batches/${body.id}/images/${rotated.id}`);
    const loaded = (source: string) => imagesLoaded(page, `[data-testid=image-view] img[data-source=${source}]`, 1);
    await loaded('original');
    // The browser turned the sideways bytes upright, as the worker did.
    expect(
      await page.evaluate(`(() => { const img = document.querySelector('[data-testid=image-view] img'); return [img.naturalWidth, img.naturalHeight]; })()`),
    ).toEqual([512, 384]);
    const img = (await page.locator('[data-testid=image-view] img').boundingBox())!;
    const drawn = (await page.locator('[data-testid=image-view] [data-testid=box] rect').first().boundingBox())!;
    const { x1, y1, x2, y2 } = rotated.detections[0].box;
    expect((drawn.x - img.x) / img.width).toBeCloseTo(x1 / 512, 2);
    expect((drawn.y - img.y) / img.height).toBeCloseTo(y1 / 384, 2);
    expect(drawn.width / img.width).toBeCloseTo((x2 - x1) / 512, 2);
    expect(drawn.height / img.height).toBeCloseTo((y2 - y1) / 384, 2);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-exif-rotated.png') });

    // Chromium does not decode TIFF: the page falls back to the preview, boxes and all.
    await page.goto(`${url}/#/batches/${body.id}/images/${camera.id}`);
    await loaded('preview');
    expect(await page.locator('[data-testid=image-view] [data-testid=box]').count()).toBe(1);
    await page.context().close();
  }, 120_000);

  it('shows each role only what it may use', async () => {
    const navFor = async (role: 'viewer' | 'submitter' | 'operator' | 'admin') => {
      const page = await newPage();
      await signIn(page, await env.key(services, role));
      const nav = await page.$$eval('nav a', (as) => as.map((a) => a.textContent?.trim()));
      await page.goto(`${url}/#/queues`);
      await page.waitForSelector('[data-testid=queues]');
      const queueButtons = await page.locator('[data-testid=queues] button').count();
      await page.goto(`${url}/#/backups`);
      const backupsPage = await page.waitForSelector('[data-testid=backups], .empty, .error').then((e) => e.textContent());
      await page.context().close();
      return { nav, queueButtons, backupsPage };
    };
    const viewer = await navFor('viewer');
    expect(viewer.nav).not.toContain('Upload');
    expect(viewer.nav).not.toContain('Backups');
    expect(viewer.nav).not.toContain('Keys');
    expect(viewer.queueButtons).toBe(0);
    expect(viewer.backupsPage).toMatch(/Nothing here for your role \(viewer\)/);

    const submitter = await navFor('submitter');
    expect(submitter.nav).toContain('Upload');
    expect(submitter.nav).not.toContain('Backups');

    const operator = await navFor('operator');
    expect(operator.nav).toEqual(expect.arrayContaining(['Upload', 'Backups', 'Workers', 'Queues', 'Health', 'Alerts']));
    expect(operator.nav).not.toContain('Keys');
    expect(operator.queueButtons).toBeGreaterThan(0);
    expect(operator.backupsPage).not.toMatch(/Nothing here/);

    const admin = await navFor('admin');
    expect(admin.nav).toContain('Keys');
  });

  it('lets an operator pause and resume a queue, and an admin create a key, from the pages', async () => {
    const page = await newPage();
    await signIn(page, await env.key(services, 'operator'));
    await page.goto(`${url}/#/queues`);
    const notify = page.locator('[data-testid=queues] tr', { hasText: 'notify' });
    await notify.locator('button', { hasText: 'Pause' }).click();
    await notify.locator('.badge', { hasText: 'paused' }).waitFor();
    expect(await services.queues.get('notify')!.isPaused()).toBe(true);
    await notify.locator('button', { hasText: 'Resume' }).click();
    await notify.locator('.badge', { hasText: 'running' }).waitFor();
    expect(await services.queues.get('notify')!.isPaused()).toBe(false);
    // Global concurrency: set, then removed with an empty field.
    await notify.locator('input[aria-label="global concurrency"]').fill('2');
    await notify.locator('button', { hasText: 'Set' }).click();
    await notify.locator('[data-testid=global-concurrency-value]', { hasText: '2' }).waitFor();
    expect(await services.queues.get('notify')!.getGlobalConcurrency()).toBe(2);
    await notify.locator('input[aria-label="global concurrency"]').fill('');
    await notify.locator('button', { hasText: 'Set' }).click();
    await notify.locator('[data-testid=global-concurrency-value]', { hasText: '—' }).waitFor();
    expect(await services.queues.get('notify')!.getGlobalConcurrency()).toBeNull();
    await page.context().close();

    const admin = await newPage();
    await signIn(admin, await env.key(services, 'admin'));
    await admin.goto(`${url}/#/keys`);
    await admin.fill('input[placeholder^=name]', 'made-in-the-console');
    await admin.selectOption('[data-testid=keys] >> xpath=preceding::select[1]', 'viewer');
    await admin.click('button:text-is("Create key")');
    const shown = await admin.textContent('.notice code');
    expect(shown).toMatch(/^lk_[0-9a-f]{8}_/);
    await admin.waitForSelector('[data-testid=keys] td:text-is("made-in-the-console")');
    // The new key works, with the role chosen.
    const me = await fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${shown}` } });
    expect(((await me.json()) as { role: string }).role).toBe('viewer');
    await admin.context().close();
  });

  it('sends a user whose key is revoked mid-session back to sign in, saying why', async () => {
    const key = await env.key(services, 'viewer');
    const page = await newPage();
    await signIn(page, key);
    await services.pool.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [key.split('_')[1]]);
    await page.waitForSelector('[data-testid=notice]', { timeout: 15_000 }); // the dashboard polls /v1/health every 5 s
    expect(await page.textContent('[data-testid=notice]')).toMatch(/no longer accepts this key/);
    expect(await page.evaluate("sessionStorage.getItem('lookout.apiKey')")).toBeNull();
    await page.context().close();
  });

  it('applies a filter at once, not at the next poll', async () => {
    const page = await newPage();
    await signIn(page, await env.key(services, 'viewer'));
    await page.goto(`${url}/#/batches`);
    await page.waitForSelector('[data-testid=batches]'); // other keys' batches
    await page.check('text=only mine');
    await page.waitForSelector('text=No batches yet.', { timeout: 1000 }); // the list polls every 2 s
    await page.context().close();
  });

  it('shows workers and health', async () => {
    const page = await newPage();
    await signIn(page, await env.key(services, 'viewer'));
    await page.goto(`${url}/#/workers`);
    await page.waitForSelector('[data-testid=workers] td >> text=live');
    await page.goto(`${url}/#/health`);
    await page.waitForSelector('[data-testid=health] td >> text=redis');
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-health.png'), fullPage: true });
    await page.context().close();
  });

  it('renders the API docs at /docs from /openapi.json', async () => {
    const page = await newPage();
    await page.goto(`${url}/docs`);
    await page.waitForSelector('.swagger-ui .info .title >> text=Lookout API', { timeout: 30_000 });
    await page.waitForSelector('.opblock-summary-path[data-path="/v1/batches/{id}/results"]');
    await page.context().close();
  });

  it('renders Bull Board for an operator (the key as the Basic password)', async () => {
    const page = await newPage({ httpCredentials: { username: 'operator', password: await env.key(services, 'operator') } });
    await page.goto(`${url}/admin/queues`);
    await page.waitForSelector('text=detect', { timeout: 30_000 });
    await page.context().close();
  });

  it('logged no page error on any page', () => {
    // Expected: the wrong-key sign-in's own 401. (Bull Board's page no longer
    // links Google Fonts: nothing is fetched from another host.)
    const unexpected = pageErrors.filter((e) => !/status of 401/.test(e));
    expect(unexpected).toEqual([]);
  });
});
