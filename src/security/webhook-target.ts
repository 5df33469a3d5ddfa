// Where Lookout may send webhooks: http(s) only, and only to global unicast
// addresses (a webhook URL is an SSRF door into the fleet's network) unless
// the host is listed in WEBHOOK_ALLOWED_HOSTS. Address classes come from
// ipaddr.js; IPv6 forms that embed an IPv4 address are judged by it. Checked
// on submit, and at each delivery on the very address connected to
// (guarded-post.ts), since DNS can change in between.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

/** IPv6 ranges that carry an IPv4 address in their last 32 bits (RFC 4291 mapped and compatible, RFC 6145, RFC 6052 NAT64). */
const LAST_32_BITS_ARE_IPV4: ReadonlySet<string> = new Set(['ipv4Mapped', 'rfc6145']);

/**
 * The IPv4 address an IPv6 address stands for, where it embeds one: mapped
 * (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), RFC 6145 (::ffff:0:a.b.c.d),
 * NAT64 well-known prefix (64:ff9b::a.b.c.d, RFC 6052) and 6to4
 * (2002:AABB:CCDD::, RFC 3056). Undefined when it embeds none.
 */
function embeddedIPv4(v6: IPv6): IPv4 | undefined {
  const bytes = v6.toByteArray();
  const last32 = () => new ipaddr.IPv4(bytes.slice(12, 16));
  const range = v6.range();
  if (LAST_32_BITS_ARE_IPV4.has(range)) return last32();
  if (v6.match(ipaddr.IPv6.parse('64:ff9b::'), 96)) return last32();
  if (range === '6to4') return new ipaddr.IPv4(bytes.slice(2, 6));
  // IPv4-compatible ::a.b.c.d (deprecated, RFC 4291 2.5.5.1): the first 96 bits zero, not :: or ::1.
  if (bytes.slice(0, 12).every((b) => b === 0) && range !== 'unspecified' && range !== 'loopback') return last32();
  return undefined;
}

/**
 * True when a webhook may not go to `address`: anything but global unicast,
 * as ipaddr.js classifies it (loopback, private, link-local, CGNAT,
 * multicast, reserved and documentation ranges, unspecified; for IPv6 also
 * unique-local, Teredo and the local-use NAT64 prefix). An IPv6 address that
 * embeds an IPv4 one is judged by that IPv4 address. Not an IP: blocked.
 */
export function isBlockedAddress(address: string): boolean {
  if (isIP(address) === 0) return true;
  let parsed: IPv4 | IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return true;
  }
  if (parsed.kind() === 'ipv6') {
    const v4 = embeddedIPv4(parsed as IPv6);
    if (v4) return v4.range() !== 'unicast';
  }
  return parsed.range() !== 'unicast';
}

/** A webhook target Lookout refuses: not http(s), credentials in the URL, or an address that is not global unicast. */
export class WebhookTargetError extends Error {
  override name = 'WebhookTargetError';
}

/**
 * Parses a webhook URL and refuses what no address check can save: not a
 * URL, a scheme other than http(s), credentials in the URL.
 * @throws WebhookTargetError saying which
 */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookTargetError('webhookUrl is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new WebhookTargetError('webhookUrl must be http or https');
  if (url.username || url.password) throw new WebhookTargetError('webhookUrl must not carry credentials');
  return url;
}

/** The URL's host without IPv6 brackets, lower-cased: what DNS is asked and what addresses are compared with. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

/** Whether WEBHOOK_ALLOWED_HOSTS lets `url` through whatever it resolves to: its host, or host:port, is listed. */
export function isAllowedHost(url: URL, allowedHosts: readonly string[]): boolean {
  return allowedHosts.includes(hostOf(url)) || allowedHosts.includes(url.host.toLowerCase());
}

/** The refusal of `host` because it is, or resolves to, `address`. */
export function blockedTargetError(host: string, address: string): WebhookTargetError {
  const what = host === address ? `webhook host ${host} is` : `webhook host ${host} resolves to ${address},`;
  return new WebhookTargetError(`${what} a private, loopback or link-local address; allow it with WEBHOOK_ALLOWED_HOSTS`);
}

/**
 * The submit-time check of a webhook URL: parsed as parseWebhookUrl does,
 * then, unless its host is allowed, every address it resolves to must be
 * global unicast. Deliveries are checked again at connect time, on the
 * address actually connected to (src/security/guarded-post.ts).
 * @throws WebhookTargetError naming the host and the refused address
 */
export async function checkWebhookTarget(raw: string, allowedHosts: readonly string[]): Promise<URL> {
  const url = parseWebhookUrl(raw);
  if (isAllowedHost(url, allowedHosts)) return url;
  const host = hostOf(url);
  const addresses = isIP(host)
    ? [{ address: host }]
    : await lookup(host, { all: true }).catch(() => {
        throw new WebhookTargetError(`webhookUrl host ${host} does not resolve`);
      });
  const bad = addresses.find((a) => isBlockedAddress(a.address));
  if (bad) {
    throw new WebhookTargetError(`webhookUrl resolves to ${bad.address}, a private, loopback or link-local address; allow it with WEBHOOK_ALLOWED_HOSTS`);
  }
  return url;
}
