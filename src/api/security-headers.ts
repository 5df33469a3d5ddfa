// helmet's headers for every response, with three of them only where the
// request came over TLS. `upgrade-insecure-requests` makes a browser fetch the
// page's own scripts and styles over https, and Strict-Transport-Security
// makes it refuse http for the host from then on: over plain http (a LAN
// name, no proxy in front) both leave the console and Bull Board blank.
// Cross-Origin-Opener-Policy is ignored on an http origin, with an error in
// the browser's console on every page.
// req.secure is TLS on this socket, or X-Forwarded-Proto: https from a proxy
// the app's 'trust proxy' (TRUST_PROXY) trusts.
import type { RequestHandler } from 'express';
import helmet from 'helmet';

// Nothing the API serves loads anything from another host: helmet's default
// `https:` for fonts and styles is dropped. Images also come from blob: (the
// console fetches them with the key) and data: URIs.
const DIRECTIVES = {
  'img-src': ["'self'", 'data:', 'blob:'],
  'font-src': ["'self'", 'data:'],
  'style-src': ["'self'", "'unsafe-inline'"],
};

/** The helmet middleware for a request: upgrade-insecure-requests, HSTS and COOP only when `req.secure`. */
export function securityHeaders(): RequestHandler {
  const overTls = helmet({ contentSecurityPolicy: { directives: { ...DIRECTIVES, 'upgrade-insecure-requests': [] } } });
  const plain = helmet({
    contentSecurityPolicy: { directives: { ...DIRECTIVES, 'upgrade-insecure-requests': null } },
    strictTransportSecurity: false,
    crossOriginOpenerPolicy: false,
  });
  return (req, res, next) => (req.secure ? overTls : plain)(req, res, next);
}
