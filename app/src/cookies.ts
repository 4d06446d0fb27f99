import type { Request } from 'express';

/**
 * A cookie's name for this request: `__Host-<name>` whenever the request is secure (HTTPS, or X-Forwarded-Proto
 * from exactly TRUST_PROXY proxies), the plain name over plain HTTP, where browsers refuse the prefix.
 * A browser accepts a `__Host-` cookie only from this very host, over HTTPS, with `Path=/`, `Secure` and no
 * `Domain`: a sibling subdomain or a network attacker cannot plant one that shadows ours (cookie tossing), while a
 * plain name can be planted by either. https://developer.mozilla.org/docs/Web/HTTP/Cookies#cookie_prefixes
 */
export function cookieName(name: string, req: Pick<Request, 'secure'>): string {
  return req.secure ? `__Host-${name}` : name;
}

/** Every value sent under `name`, in header order (a browser may send several cookies of one name). */
export function cookieValues(req: Pick<Request, 'headers'>, name: string): string[] {
  const values: string[] = [];
  for (const pair of req.headers.cookie?.split(';') ?? []) {
    const separator = pair.indexOf('=');
    if (separator > 0 && pair.slice(0, separator).trim() === name) values.push(pair.slice(separator + 1).trim());
  }
  return values;
}

/** Removes from the request's Cookie header every cookie named `name` except one whose value is `keep`. */
export function keepOnlyCookie(req: Request, name: string, keep: string | undefined): void {
  if (!req.headers.cookie) return;
  let kept = false;
  req.headers.cookie = req.headers.cookie
    .split(';')
    .filter((pair) => {
      const separator = pair.indexOf('=');
      if (separator < 0 || pair.slice(0, separator).trim() !== name) return true;
      if (kept || pair.slice(separator + 1).trim() !== keep) return false;
      return (kept = true);
    })
    .join(';');
}
