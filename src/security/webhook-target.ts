// Where Lookout may send webhooks: http(s) only, and never to loopback,
// private, link-local, CGNAT, multicast or unspecified addresses (a webhook
// URL is an SSRF door into the fleet's network) unless the host is listed in
// WEBHOOK_ALLOWED_HOSTS. Checked on submit and again before each delivery,
// since DNS can change in between.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['::ffff:0:0', 96]] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

export class WebhookTargetError extends Error {}

export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export async function checkWebhookTarget(raw: string, allowedHosts: readonly string[]): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookTargetError('webhookUrl is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new WebhookTargetError('webhookUrl must be http or https');
  if (url.username || url.password) throw new WebhookTargetError('webhookUrl must not carry credentials');
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (allowedHosts.includes(host) || allowedHosts.includes(url.host.toLowerCase())) return url;
  const addresses = isIP(host) ? [{ address: host }] : await lookup(host, { all: true }).catch(() => {
    throw new WebhookTargetError(`webhookUrl host ${host} does not resolve`);
  });
  const bad = addresses.find((a) => isBlockedAddress(a.address));
  if (bad) {
    throw new WebhookTargetError(`webhookUrl resolves to ${bad.address}, a private, loopback or link-local address; allow it with WEBHOOK_ALLOWED_HOSTS`);
  }
  return url;
}
