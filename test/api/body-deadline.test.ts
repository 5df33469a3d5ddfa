// REQUEST_BODY_TIMEOUT_MS: a body other than an upload must arrive whole in
// time, however steadily it drips (Node's requestTimeout is off for uploads,
// and the socket's idle timeout never fires while bytes keep coming).
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let port: number;
let admin: string;

beforeAll(async () => {
  env = await createTestEnv('body_deadline', { REQUEST_BODY_TIMEOUT_MS: '1000' });
  services = await env.open();
  port = Number(new URL((await env.api(services)).url).port);
  admin = await env.key(services, 'admin');
});
afterAll(() => env.cleanup());

interface Exchange {
  /** Everything the server sent before it closed the socket. */
  answer: string;
  /** ms from the first byte sent to the socket's close. */
  closedAfterMs: number;
}

/** Sends `head` then drips `drip` one byte every `everyMs` until the server closes the socket (or `giveUpMs`). */
function dripping(head: string, drip: string, everyMs: number, giveUpMs = 8000): Promise<Exchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    let answer = '';
    let i = 0;
    const timer = setInterval(() => {
      if (i < drip.length && !socket.destroyed) socket.write(drip[i++]!);
    }, everyMs);
    const stop = setTimeout(() => socket.destroy(), giveUpMs);
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(stop);
      resolve({ answer, closedAfterMs: Date.now() - started });
    });
  });
}

const json = '{"name":"drip","role":"viewer"}'.padEnd(400, ' ');

describe('a request body that is not an upload', () => {
  it.each([
    [
      'with a Content-Length',
      `POST /v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n`,
    ],
    ['chunked', 'POST /v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n'],
    [
      'to Bull Board',
      `PUT /admin/queues/api/queues/detect/pause HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n`,
    ],
  ])('dripping %s is answered 408 body_timeout at the deadline and the connection closed', async (_what, head) => {
    // One byte every 100 ms: never idle, and 400 bytes would take 40 s.
    const { answer, closedAfterMs } = await dripping(head.replace('KEY', admin), head.includes('chunked') ? '1\r\n ' : json, 100);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toMatch(/connection: close/i);
    expect(answer).toContain('"code":"body_timeout"');
    expect(closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(closedAfterMs).toBeLessThan(4000);
    expect(await env.sql(`SELECT 1 FROM api_keys WHERE name = 'drip'`)).toEqual([]);
  });

  it('sent in time is served as usual', async () => {
    const body = JSON.stringify({ name: 'on-time', role: 'viewer' });
    const head = `POST /v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const { answer } = await dripping(head, body, 10); // 30 bytes over ~300 ms
    expect(answer).toMatch(/^HTTP\/1\.1 201 /);
  });
});

describe('an upload', () => {
  it('is not held to that deadline (its own idle timeout applies)', async () => {
    const boundary = 'b0undary';
    const part = `--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nyolov8n\r\n`.padEnd(400, 'x');
    const head = `POST /v1/batches HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000\r\n\r\n`;
    // Dripping for 2.5 s, past the 1 s deadline: still open, no answer yet.
    const { answer, closedAfterMs } = await dripping(head, part.slice(0, 25), 100, 2500);
    expect(answer).toBe('');
    expect(closedAfterMs).toBeGreaterThanOrEqual(2400);
  });
});
