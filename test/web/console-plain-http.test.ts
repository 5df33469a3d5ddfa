// Every page the API serves, in Chromium, the way a user on the LAN reaches
// it: plain HTTP through a host name that is not loopback (lookout.test,
// mapped to 127.0.0.1 by Chromium's own resolver, so nothing leaves this
// machine). Chromium treats 127.0.0.1 and localhost as secure origins; a LAN
// name it does not, so upgrade-insecure-requests or HSTS there would send the
// page's own scripts over https to a plain-HTTP server.
// - The headers: no upgrade-insecure-requests and no HSTS over plain HTTP,
//   both over TLS (X-Forwarded-Proto from a proxy TRUST_PROXY trusts), and a
//   CSP that allows no other host.
// - The console, /docs and Bull Board load their scripts and styles, render,
//   and request nothing from any host but the server (Bull Board's Google
//   Fonts included).
// - The console draws boxes over a picture in the detections' frame: EXIF-
//   oriented photos stored as WebP (Chromium does not orient WebP), PNG
//   (it does), a half turn and a mirror (same size either way), and an
//   original that cannot be fetched.
// Browser-side code is passed as strings or functions: the test's types are Node's, not the DOM's.
import path from 'node:path';
import { type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, launchChromium } from '../helpers/browser.js';
import type { Services } from '../../src/runtime/services.js';
import { iou } from '../helpers/boxes.js';
import { storedWithOrientation } from '../helpers/crafted-images.js';
import { readPhoto } from '../helpers/photos.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

const HOST_NAME = 'lookout.test';

let env: TestEnv;
let services: Services;
/** http://127.0.0.1:PORT, for Node's fetch. */
let direct: string;
/** http://lookout.test:PORT, for the browser. */
let lan: string;
let lanHost: string;
let browser: Browser;

/** The host a request went to; blob: URLs belong to the page's origin. */
function hostOf(raw: string): string {
  const url = new URL(raw.startsWith('blob:') ? raw.slice('blob:'.length) : raw);
  return url.protocol === 'data:' ? 'data:' : url.host;
}

interface Watched {
  page: Page;
  /** Every host the page's requests went to. */
  hosts: Set<string>;
  /** Page errors, failed requests and console errors (a CSP refusal is one). */
  problems: string[];
}

async function watchedPage(options: BrowserContextOptions = {}): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  const hosts = new Set<string>();
  const problems: string[] = [];
  context.on('request', (req) => hosts.add(hostOf(req.url())));
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('requestfailed', (req) => problems.push(`requestfailed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  return { page, hosts, problems };
}

/** Only the server was asked for anything, and nothing went wrong on the page. */
function expectOnlyTheServer({ hosts, problems }: Watched): void {
  expect(problems).toEqual([]);
  expect([...hosts].filter((h) => h !== 'data:')).toEqual([lanHost]);
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(`${lan}/`);
  await page.fill('#api-key', key, { timeout: 15_000 });
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
}

/** The Content-Security-Policy as directive -> sources. */
function cspOf(res: Response): Map<string, string[]> {
  const header = res.headers.get('content-security-policy') ?? '';
  return new Map(
    header
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

beforeAll(async () => {
  env = await createTestEnv('console_lan');
  services = await env.open();
  const api = await env.api(services);
  direct = api.url;
  lanHost = `${HOST_NAME}:${api.port}`;
  lan = `http://${lanHost}`;
  await env.worker(services);
  // The LAN name resolves here, and nothing else resolves at all.
  browser = await launchChromium([`--host-resolver-rules=MAP ${HOST_NAME} 127.0.0.1, MAP * ~NOTFOUND`]);
});

afterAll(async () => {
  await browser?.close();
  await env?.cleanup();
});

describe('security headers', () => {
  const EXTERNAL_FREE = new Set(["'self'", "'none'", "'unsafe-inline'", 'data:', 'blob:']);

  it('sends no upgrade-insecure-requests and no HSTS over plain HTTP, and a CSP that allows no other host, on every kind of page', async () => {
    const operator = await env.key(services, 'operator');
    const index = await (await fetch(`${direct}/`)).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(index)?.[1];
    expect(script).toBeDefined();
    const basic = { authorization: `Basic ${Buffer.from(`operator:${operator}`).toString('base64')}` };
    const pages: Array<[string, Record<string, string>, number]> = [
      ['/', {}, 200],
      [script!, {}, 200],
      ['/docs', {}, 200],
      ['/docs/swagger-ui.css', {}, 200],
      ['/openapi.json', {}, 200],
      ['/admin/queues', basic, 200],
      ['/admin/queues', {}, 401],
      ['/v1/me', authed(operator).headers, 200],
      ['/healthz', {}, 200],
      ['/no/such/page', {}, 404],
    ];
    for (const [route, headers, status] of pages) {
      const res = await fetch(`${direct}${route}`, { headers });
      expect([route, res.status]).toEqual([route, status]);
      const csp = cspOf(res);
      expect([route, csp.get('default-src')]).toEqual([route, ["'self'"]]);
      expect([route, csp.has('upgrade-insecure-requests')]).toEqual([route, false]);
      expect([route, res.headers.get('strict-transport-security')]).toEqual([route, null]);
      // Ignored by browsers on an http origin, with an error in the console.
      expect([route, res.headers.get('cross-origin-opener-policy')]).toEqual([route, null]);
      // Nothing says what the server runs on, Bull Board's own sub-app included.
      expect([route, res.headers.get('x-powered-by')]).toEqual([route, null]);
      const external = [...csp.values()].flat().filter((source) => !EXTERNAL_FREE.has(source));
      expect([route, external]).toEqual([route, []]);
    }
  });

  it('sends them when the request came over TLS, told by a proxy the default TRUST_PROXY (loopback) trusts', async () => {
    for (const route of ['/', '/docs', '/healthz']) {
      const res = await fetch(`${direct}${route}`, { headers: { 'x-forwarded-proto': 'https' } });
      expect(cspOf(res).has('upgrade-insecure-requests')).toBe(true);
      expect(res.headers.get('strict-transport-security')).toMatch(/^max-age=\d{7,}/);
      expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      const plain = await fetch(`${direct}${route}`, { headers: { 'x-forwarded-proto': 'http' } });
      expect(cspOf(plain).has('upgrade-insecure-requests')).toBe(false);
      expect(plain.headers.get('strict-transport-security')).toBeNull();
    }
  });

  it('ignores X-Forwarded-Proto from a peer TRUST_PROXY does not trust', async () => {
    for (const trustProxy of [[], ['10.0.0.0/8', 'uniquelocal']]) {
      const url = (await env.api(await env.open((c) => ({ ...c, http: { ...c.http, trustProxy } })))).url;
      const res = await fetch(`${url}/healthz`, { headers: { 'x-forwarded-proto': 'https' } });
      expect(cspOf(res).has('upgrade-insecure-requests')).toBe(false);
      expect(res.headers.get('strict-transport-security')).toBeNull();
    }
  });
});

describe('every page over plain HTTP through a LAN name', () => {
  it('the console loads its script and styles, signs in and shows its pages, asking only the server', async () => {
    const watched = await watchedPage();
    const { page } = watched;
    await signIn(page, await env.key(services, 'operator'));
    // The stylesheet applied: the nav is laid out by styles.css, not the browser's defaults.
    expect(await page.evaluate(`getComputedStyle(document.body).margin`)).toBe('0px');
    for (const [hash, selector] of [
      ['#/workers', '[data-testid=workers]'],
      ['#/queues', '[data-testid=queues]'],
      ['#/health', '[data-testid=health]'],
      ['#/backups', '[data-testid=backups], .empty'],
    ] as const) {
      await page.goto(`${lan}/${hash}`);
      await page.waitForSelector(selector, { timeout: 15_000 });
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-lan.png'), fullPage: true });
    expectOnlyTheServer(watched);
    await page.context().close();
  });

  it('/docs renders Swagger UI, asking only the server', async () => {
    const watched = await watchedPage();
    const { page } = watched;
    await page.goto(`${lan}/docs`);
    await page.waitForSelector('.swagger-ui .info .title >> text=Lookout API', { timeout: 30_000 });
    await page.waitForSelector('.opblock-summary-path[data-path="/v1/batches/{id}/results"]');
    expectOnlyTheServer(watched);
    await page.context().close();
  });

  it('Bull Board renders for an operator, asking only the server (no Google Fonts: system fonts)', async () => {
    const operator = await env.key(services, 'operator');
    const html = await (
      await fetch(`${direct}/admin/queues`, { headers: { authorization: `Basic ${Buffer.from(`operator:${operator}`).toString('base64')}` } })
    ).text();
    expect(html).toMatch(/static\/css\/main\.[0-9a-f]+\.css/); // the board's own stylesheet is still linked
    expect(html).not.toMatch(/fonts\.(googleapis|gstatic)\.com/);
    expect(html).not.toMatch(/<(link|script)\b[^>]*\b(href|src)=["']?(https?:)?\/\//i);

    const watched = await watchedPage({ httpCredentials: { username: 'operator', password: operator } });
    const { page } = watched;
    await page.goto(`${lan}/admin/queues`);
    await page.waitForSelector('text=detect', { timeout: 30_000 });
    // Its stylesheet applied (the body is the board's dark theme, not the browser's white).
    expect(await page.evaluate(`getComputedStyle(document.body).backgroundColor`)).not.toBe('rgba(0, 0, 0, 0)');
    await page.screenshot({ path: path.join(ARTIFACTS, 'bull-board-lan.png') });
    expectOnlyTheServer(watched);
    await page.context().close();
  });
});

/** Grey pixels of a picture squeezed to 40 x 30, for comparing what is shown with what should be. */
async function thumbnail(image: Buffer): Promise<Buffer> {
  return sharp(image).resize(40, 30, { fit: 'fill' }).greyscale().raw().toBuffer();
}

async function meanDifference(a: Buffer, b: Buffer): Promise<number> {
  const [x, y] = await Promise.all([thumbnail(a), thumbnail(b)]);
  return x.reduce((sum, v, i) => sum + Math.abs(v - y[i]!), 0) / x.length;
}

/**
 * Waits for the large view's picture to be loaded and shown (the console
 * hides an original until it knows its frame), then says where it came from,
 * measures it and its first box, and screenshots the picture alone.
 */
async function largeView(page: Page) {
  const selector = '[data-testid=image-view] img:not([data-shown=false])';
  await page.waitForFunction(
    (sel) => {
      const img = (globalThis as any).document.querySelector(sel) as { complete: boolean; naturalWidth: number } | null;
      return img !== null && img.complete && img.naturalWidth > 0;
    },
    selector,
    { timeout: 20_000 },
  );
  const img = page.locator(selector);
  const source = await img.getAttribute('data-source');
  const natural = (await img.evaluate((i: any) => [i.naturalWidth, i.naturalHeight])) as [number, number];
  const picture = (await img.boundingBox())!;
  const drawn = (await page.locator('[data-testid=image-view] [data-testid=box] rect').first().boundingBox())!;
  const shot = await img.screenshot({ style: '[data-testid=boxes] { visibility: hidden !important; }' });
  return { source, natural, picture, drawn, shot };
}

describe('boxes over pictures in the frame of the detections', () => {
  // The top of astronaut.png, upright, 400 x 300: one face.
  let upright: Buffer;
  let key: string;
  let batchId: string;
  let results: Record<string, any>;
  const stored = new Map<string, Buffer>();
  /** Each picture as it should be seen (the frame of its boxes). */
  const uprightOf = new Map<string, Buffer>();

  beforeAll(async () => {
    upright = await sharp(await readPhoto('astronaut.png'))
      .extract({ left: 0, top: 0, width: 512, height: 384 })
      .resize(400, 300)
      .png()
      .toBuffer();
    key = await env.key(services, 'submitter');
    // A small photo on a large flat background: turned or not, it looks much
    // the same at a glance, so no look at the pixels can tell whether the
    // browser applied the orientation.
    // The astronaut's face (178,78 to 272,180 in astronaut.png), cropped square.
    const face = await sharp(await readPhoto('astronaut.png'))
      .extract({ left: 115, top: 19, width: 220, height: 220 })
      .png()
      .toBuffer();
    const onFlat = async (width: number, height: number, at: { left: number; top: number }, side: number) =>
      sharp({ create: { width, height, channels: 3, background: { r: 157, g: 141, b: 126 } } })
        .composite([{ input: await sharp(face).resize(side, side).png().toBuffer(), ...at }])
        .png()
        .toBuffer();
    const files: Array<[string, number, 'png' | 'webp', Buffer]> = [
      ['upright.webp', 1, 'webp', upright],
      ['sideways.webp', 6, 'webp', upright], // stored 300 x 400, orientation 6
      ['upside-down.webp', 3, 'webp', upright], // stored 400 x 300: the same size either way
      ['mirrored.webp', 2, 'webp', upright],
      ['left.webp', 8, 'webp', await sharp(upright).resize(480, 360).png().toBuffer()], // stored 360 x 480
      ['sideways.png', 6, 'png', upright], // Chromium orients PNG (and JPEG); the preview is right either way
      ['flat-upside-down.webp', 3, 'webp', await onFlat(1200, 900, { left: 100, top: 90 }, 220)],
      ['flat-mirrored.webp', 2, 'webp', await onFlat(1200, 900, { left: 100, top: 90 }, 220)],
      ['square-sideways.webp', 6, 'webp', await onFlat(1000, 1000, { left: 60, top: 700 }, 200)],
    ];
    const uploads = [];
    for (const [name, orientation, format, picture] of files) {
      const { bytes, asStored } = await storedWithOrientation(picture, orientation, format);
      stored.set(name, asStored);
      uprightOf.set(name, picture);
      uploads.push({ name, bytes });
    }
    const meta = await sharp(uploads[1]!.bytes).metadata();
    expect([meta.format, meta.width, meta.height, meta.orientation]).toEqual(['webp', 300, 400, 6]);
    const { status, body } = await submit(direct, key, uploads);
    expect(status).toBe(202);
    batchId = body.id;
    await waitForBatch(direct, key, batchId, 120_000);
    const res = await fetch(`${direct}/v1/batches/${batchId}/results`, authed(key));
    results = Object.fromEntries(((await res.json()) as any).images.map((i: any) => [i.filename, i]));
    // The API's boxes are right: every stored form gives the upright picture's face.
    const reference = results['upright.webp'];
    expect([reference.width, reference.height, reference.detections.length]).toEqual([400, 300, 1]);
    for (const name of ['sideways.webp', 'upside-down.webp', 'mirrored.webp', 'sideways.png']) {
      expect([name, results[name].width, results[name].height, results[name].detections.length]).toEqual([name, 400, 300, 1]);
      expect(iou(results[name].detections[0].box, reference.detections[0].box)).toBeGreaterThan(0.8);
    }
    expect([results['left.webp'].width, results['left.webp'].height, results['left.webp'].detections.length]).toEqual([480, 360, 1]);
    for (const [name, size] of [
      ['flat-upside-down.webp', [1200, 900]],
      ['flat-mirrored.webp', [1200, 900]],
      ['square-sideways.webp', [1000, 1000]],
    ] as const) {
      expect([name, results[name].width, results[name].height, results[name].detections.length]).toEqual([name, ...size, 1]);
    }
  }, 180_000);

  /** Opens `name`'s large view and checks the picture is upright and its box where the API put it. */
  async function expectBoxOnUprightPicture(page: Page, name: string, source: 'original' | 'preview'): Promise<void> {
    const image = results[name];
    const { width, height } = image as { width: number; height: number };
    const shown = await largeView(page);
    const { natural, picture, drawn, shot } = shown;
    // The picture is in the detections' frame: its shape, and its content.
    expect(natural[0] / natural[1], `${name}: the shape of the picture shown`).toBeCloseTo(width / height, 2);
    const reference = uprightOf.get(name)!;
    const right = await meanDifference(shot, reference);
    const wrong = await meanDifference(await sharp(stored.get(name)).resize(width, height, { fit: 'fill' }).png().toBuffer(), reference);
    expect(right, `${name}: the picture shown differs from the upright one`).toBeLessThan(12);
    if (name !== 'upright.webp') expect(right, `${name}: shown closer to upright than as stored`).toBeLessThan(wrong / 2);
    // The box where the API put it, relative to the picture shown (its
    // centre, and its size give or take the stroke around it).
    const { x1, y1, x2, y2 } = image.detections[0].box as { x1: number; y1: number; x2: number; y2: number };
    expect((drawn.x + drawn.width / 2 - picture.x) / picture.width).toBeCloseTo((x1 + x2) / 2 / width, 2);
    expect((drawn.y + drawn.height / 2 - picture.y) / picture.height).toBeCloseTo((y1 + y2) / 2 / height, 2);
    expect(Math.abs(drawn.width / picture.width - (x2 - x1) / width)).toBeLessThan(0.012);
    expect(Math.abs(drawn.height / picture.height - (y2 - y1) / height)).toBeLessThan(0.012);
    expect(shown.source, `${name}: drawn over`).toBe(source);
  }

  it('draws over preview.jpg for a 300x400 WebP with EXIF orientation 6, which Chromium shows as stored', async () => {
    const watched = await watchedPage();
    const { page } = watched;
    await signIn(page, key);
    await page.goto(`${lan}/#/batches/${batchId}/images/${results['sideways.webp'].id}`);
    await expectBoxOnUprightPicture(page, 'sideways.webp', 'preview');
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-webp-orientation-6.png') });
    expectOnlyTheServer(watched);
    await page.context().close();
  });

  /** Signs in, opens each image's large view and checks it; only the server was asked. */
  async function expectEach(cases: ReadonlyArray<readonly [string, 'original' | 'preview']>): Promise<void> {
    const watched = await watchedPage();
    const { page } = watched;
    await signIn(page, key);
    for (const [name, source] of cases) {
      await page.goto(`${lan}/#/batches/${batchId}/images/${results[name].id}`);
      await expectBoxOnUprightPicture(page, name, source);
    }
    expectOnlyTheServer(watched);
    await page.context().close();
  }

  it('does the same for a 360x480 WebP turned the other way (orientation 8)', async () => {
    await expectEach([['left.webp', 'preview']]);
  });

  it('does the same for a WebP with a half turn (3) or a mirror (2), the same size either way', async () => {
    await expectEach([
      ['upside-down.webp', 'preview'],
      ['mirrored.webp', 'preview'],
    ]);
  });

  it('draws over preview.jpg for pictures that look alike turned or not (a small photo on a flat background), square ones too', async () => {
    await expectEach([
      ['flat-upside-down.webp', 'preview'],
      ['flat-mirrored.webp', 'preview'],
      ['square-sideways.webp', 'preview'],
    ]);
  });

  it('keeps the original where the browser is seen to orient it (PNG, a quarter turn: the size proves it) or there is nothing to orient', async () => {
    await expectEach([
      ['sideways.png', 'original'],
      ['upright.webp', 'original'],
    ]);
  });

  it('checks each picture anew when stepping through the batch with the arrow keys', async () => {
    const { page } = await watchedPage();
    await signIn(page, key);
    // upright.webp is first in the batch, sideways.webp next.
    await page.goto(`${lan}/#/batches/${batchId}/images/${results['upright.webp'].id}`);
    expect((await largeView(page)).source).toBe('original');
    await page.keyboard.press('ArrowRight');
    await page.waitForSelector('h1:text-is("sideways.webp")');
    await expectBoxOnUprightPicture(page, 'sideways.webp', 'preview');
    await page.context().close();
  });

  it('draws the batch grid over previews in the frame of the boxes', async () => {
    const { page } = await watchedPage();
    await signIn(page, key);
    await page.goto(`${lan}/#/batches/${batchId}`);
    await page.waitForFunction(
      () => {
        const imgs = [...(globalThis as any).document.querySelectorAll('[data-testid=image-grid] img')] as Array<{ complete: boolean; naturalWidth: number }>;
        return imgs.length === 9 && imgs.every((i) => i.complete && i.naturalWidth > 0);
      },
      undefined,
      { timeout: 20_000 },
    );
    const cards = await page.$$eval('[data-testid=image-grid] li', (lis) =>
      lis.map((li) => {
        const img = li.querySelector('img')!;
        return { name: li.getAttribute('data-filename')!, source: img.getAttribute('data-source'), natural: [img.naturalWidth, img.naturalHeight] };
      }),
    );
    for (const { name, source, natural } of cards) {
      expect([name, source]).toEqual([name, 'preview']);
      expect(natural[0]! / natural[1]!).toBeCloseTo(results[name].width / results[name].height, 2);
    }
    await page.context().close();
  });

  it('falls back to preview.jpg when the original cannot be fetched at all', async () => {
    const { page } = await watchedPage();
    await signIn(page, key);
    // The server answers 500 for the original (a blob store gone missing, say).
    await page.route('**/v1/images/*/original', (route) =>
      route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: { code: 'internal', message: 'blob unavailable' } }) }),
    );
    await page.goto(`${lan}/#/batches/${batchId}/images/${results['upright.webp'].id}`);
    await expectBoxOnUprightPicture(page, 'upright.webp', 'preview');
    await page.context().close();
  });
});
