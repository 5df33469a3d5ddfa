// The console's health and backups pages in a real browser (Debian's
// Chromium, playwright-core), against two API processes on one install: one
// without BACKUP_ENCRYPTION_KEY, one with it. The health page puts problems
// first and shows values for people; the backups page hides "Back up now",
// saying why and how to fix it, while backups are off.
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, launchChromium } from '../helpers/browser.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let browser: Browser;
let urlOff: string;
let urlOn: string;
let operator: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  env = await createTestEnv('console_health', { BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
  const on = await env.open();
  const off = await env.open((c) => ({ ...c, backup: { ...c.backup, key: undefined } }));
  urlOn = (await env.api(on)).url;
  urlOff = (await env.api(off)).url;
  operator = await env.key(on, 'operator');
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await env?.cleanup();
});

async function signedIn(url: string, hash: string): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${url}/`);
  await page.fill('#api-key', operator);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
  await page.goto(`${url}/#/${hash}`);
  return page;
}

describe('the console', () => {
  it('health: problems first, values in their units', async () => {
    const page = await signedIn(urlOff, 'health');
    await page.waitForSelector('[data-testid=health] tr[data-component="postgres.size"]');
    const rows = await page.$$eval('[data-testid=health] tbody tr', (trs) =>
      trs.map((tr) => ({
        name: tr.getAttribute('data-component'),
        status: tr.getAttribute('data-status'),
        value: tr.querySelector('[data-testid=value]')?.textContent,
      })),
    );
    // "Backups are off" is a warning, so it comes before every ok row.
    expect(rows[0]).toMatchObject({ name: 'backup.enabled', status: 'warn', value: 'off' });
    const rank = { critical: 0, warn: 1, ok: 2 } as Record<string, number>;
    const ranks = rows.map((r) => rank[r.status!]);
    expect(ranks).toEqual([...ranks].sort());
    expect(rows.find((r) => r.name === 'postgres.size')?.value).toMatch(/^\d+\.\d (KiB|MiB|GiB)$/);
    expect(rows.find((r) => r.name === 'queue.detect.workers')?.value).toBe('0 workers');
    expect(rows.find((r) => r.name === 'queue.detect.failure_rate')?.value).toBe('0 %');
    expect(rows.every((r) => !/bytes|workers? workers/.test(r.value ?? ''))).toBe(true);
    expect(await page.textContent('[data-component="backup.enabled"]')).toContain('openssl rand -base64 32');
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-health-problems-first.png'), fullPage: true });
    await page.context().close();
  });

  it('backups: no "Back up now" and no "Verify" while backups are off, with the reason; both are back with a key', async () => {
    // A finished backup in the catalogue, which a key could verify.
    const id = randomUUID();
    await env.sql(
      `INSERT INTO backups (id, status, trigger, actor, file, sha256, finished_at, verified_at) VALUES ($1, 'verified', 'manual', 'test', '/nowhere/x.lkb', 'ab', now(), now())`,
      [id],
    );
    const off = await signedIn(urlOff, 'backups');
    const note = await off.waitForSelector('[data-testid=backups-off]');
    expect(await note.textContent()).toMatch(
      /^Back up now and Verify are hidden because backups are off: BACKUP_ENCRYPTION_KEY is not set; to turn them on, set it to a new key \(openssl rand -base64 32\)/,
    );
    // The file by its name in BACKUP_DIR: the server's path is never shown.
    await off.locator('[data-testid=backups] tr', { hasText: 'x.lkb' }).waitFor();
    expect(await off.locator('[data-testid=backups]').textContent()).not.toContain('/nowhere');
    expect(await off.locator('button', { hasText: 'Back up now' }).count()).toBe(0);
    expect(await off.locator('button', { hasText: 'Verify' }).count()).toBe(0);
    await off.screenshot({ path: path.join(ARTIFACTS, 'console-backups-off.png') });
    await off.context().close();

    const on = await signedIn(urlOn, 'backups');
    await on.locator('button', { hasText: 'Back up now' }).waitFor();
    await on.locator('button', { hasText: 'Verify' }).waitFor();
    expect(await on.locator('[data-testid=backups-off]').count()).toBe(0);
    await on.context().close();
    expect(pageErrors).toEqual([]);
  });
});
