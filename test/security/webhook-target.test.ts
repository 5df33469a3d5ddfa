// Which webhook targets are refused: every address but global unicast, an
// IPv6 address that embeds an IPv4 one judged by that IPv4 address, in every
// spelling a URL allows. Public IPv4 targets are accepted (a Node BlockList
// rule for ::ffff:0:0/96 once refused all of IPv4). Nothing is delivered:
// the address check is called directly, and the API test runs no worker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkWebhookTarget, isBlockedAddress, WebhookTargetError } from '../../src/security/webhook-target.js';
import type { Services } from '../../src/runtime/services.js';
import { readPhoto } from '../helpers/photos.js';
import { createTestEnv, submit, type TestEnv } from '../helpers/test-env.js';

// [URL as a client might spell it, the address it means]
const PUBLIC: Array<[string, string]> = [
  ['https://8.8.8.8/hook', '8.8.8.8'],
  ['https://134744072/hook', '8.8.8.8'], // decimal
  ['https://0x08080808/hook', '8.8.8.8'], // hex
  ['https://8.8.2056/hook', '8.8.8.8'], // short dotted
  ['https://[::ffff:8.8.8.8]/hook', 'mapped'],
  ['https://[64:ff9b::808:808]/hook', 'NAT64'],
  ['https://[2002:808:808::1]/hook', '6to4'],
  ['https://[2606:4700:4700::1111]/hook', 'IPv6'],
  ['https://1.1.1.1:8443/hook', 'port'],
];
const PRIVATE: Array<[string, string]> = [
  ['http://127.0.0.1/', 'loopback'],
  ['http://2130706433/', 'loopback, decimal'],
  ['http://0x7f000001/', 'loopback, hex'],
  ['http://127.1/', 'loopback, short dotted'],
  ['http://10.1.2.3/', 'private'],
  ['http://172.16.5.4/', 'private'],
  ['http://192.168.1.1/', 'private'],
  ['http://169.254.169.254/latest/meta-data', 'link-local (cloud metadata)'],
  ['http://100.64.0.1/', 'CGNAT'],
  ['http://0.0.0.0/', 'unspecified'],
  ['http://224.0.0.1/', 'multicast'],
  ['http://[::1]/', 'IPv6 loopback'],
  ['http://[::]/', 'IPv6 unspecified'],
  ['http://[fd00::1]/', 'unique local'],
  ['http://[fe80::1]/', 'IPv6 link-local'],
  ['http://[ff02::1]/', 'IPv6 multicast'],
  ['http://[::ffff:127.0.0.1]/', 'mapped loopback'],
  ['http://[::ffff:a9fe:a9fe]/', 'mapped link-local, hex'],
  ['http://[::ffff:0:10.0.0.1]/', 'RFC 6145 private'],
  ['http://[64:ff9b::7f00:1]/', 'NAT64 loopback'],
  ['http://[64:ff9b::10.0.0.1]/', 'NAT64 private'],
  ['http://[64:ff9b:1::a00:1]/', 'local-use NAT64'],
  ['http://[2002:7f00:1::]/', '6to4 loopback'],
  ['http://[2002:c0a8:101::1]/', '6to4 private'],
  ['http://[::127.0.0.1]/', 'IPv4-compatible loopback'],
  ['http://[::a00:1]/', 'IPv4-compatible private'],
  ['http://[2001::1]/', 'Teredo'],
];

describe('checkWebhookTarget', () => {
  it.each(PUBLIC)('accepts %s (%s)', async (url) => {
    await expect(checkWebhookTarget(url, [])).resolves.toBeInstanceOf(URL);
  });

  it.each(PRIVATE)('refuses %s (%s)', async (url) => {
    await expect(checkWebhookTarget(url, [])).rejects.toThrow(WebhookTargetError);
  });

  it('accepts a refused address when its host is in WEBHOOK_ALLOWED_HOSTS', async () => {
    await expect(checkWebhookTarget('http://127.0.0.1:9999/x', ['127.0.0.1:9999'])).resolves.toBeInstanceOf(URL);
  });
});

describe('isBlockedAddress', () => {
  it.each([
    ['8.8.8.8', false],
    ['::ffff:8.8.8.8', false],
    ['64:ff9b::8.8.8.8', false],
    ['2002:0808:0808::1', false],
    ['::8.8.8.8', false],
    ['127.0.0.1', true],
    ['::ffff:10.0.0.1', true],
    ['64:ff9b::192.168.0.1', true],
    ['2002:0a00:0001::1', true],
    ['::192.168.0.1', true],
    ['192.0.2.1', true], // documentation
    ['2001:db8::1', true], // documentation
    ['not an address', true],
  ] as const)('%s → %s', (address, blocked) => {
    expect(isBlockedAddress(address)).toBe(blocked);
  });
});

describe('POST /v1/batches with a webhookUrl', () => {
  let env: TestEnv;
  let services: Services;
  let url: string;
  let key: string;
  beforeAll(async () => {
    env = await createTestEnv('webhook_targets');
    services = await env.open();
    url = (await env.api(services)).url;
    key = await env.key(services, 'submitter');
  });
  afterAll(() => env.cleanup());

  it('accepts a public IPv4 receiver and refuses a private one spelt as NAT64 (no worker runs: nothing is delivered)', async () => {
    const photo = [{ name: 'a.png', bytes: await readPhoto('astronaut.png') }];
    const accepted = await submit(url, key, photo, { webhookUrl: 'https://8.8.8.8/hook' });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const refused = await submit(url, key, photo, { webhookUrl: 'http://[64:ff9b::a9fe:a9fe]/latest/meta-data' });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('webhook_target_refused');
  });
});
