import { parseSetCookie } from 'cookie';

// Values are kept exactly as the server sent them (no decoding), so a signed session cookie goes back byte for byte.
const raw = { decode: (value: string) => value };

/** What a browser keeps between requests to one site: name → value, updated from every Set-Cookie. */
export function createCookieJar(initial: Iterable<[string, string]> = []) {
  const cookies = new Map<string, string>(initial);
  return {
    /** Takes in every Set-Cookie of a response; a cookie set to expire in the past is dropped, as a browser does. */
    remember(setCookie: string | string[] | undefined) {
      for (const line of ([] as string[]).concat(setCookie ?? [])) {
        const { name, value, expires, maxAge } = parseSetCookie(line, raw);
        if ((expires && expires.getTime() <= Date.now()) || (maxAge !== undefined && maxAge <= 0)) cookies.delete(name);
        else cookies.set(name, value ?? '');
      }
    },
    get: (name: string) => cookies.get(name),
    has: (name: string) => cookies.has(name),
    /** Plants a cookie, as another site or a script could. */
    set: (name: string, value: string) => void cookies.set(name, value),
    /** The Cookie request header. */
    header: () => [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
    copy: () => createCookieJar(cookies),
  };
}

export type CookieJar = ReturnType<typeof createCookieJar>;
