// Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", sent as
// X-Lookout-Signature: sha256=<hex> with X-Lookout-Timestamp, so receivers
// can check both the sender and the freshness.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-lookout-signature';
export const TIMESTAMP_HEADER = 'x-lookout-timestamp';

export function signBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function verifySignature(secret: string, timestamp: string, body: string, signature: string): boolean {
  const expected = Buffer.from(signBody(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
