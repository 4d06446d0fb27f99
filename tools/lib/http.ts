import { Agent, request } from 'node:http';

export type Reply = {
  status: number;
  ms: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Set when no HTTP answer came: refused, reset, timed out. */
  error?: string;
};

/** Keep-alive, like a browser or an API client: load and probes reuse connections to nginx. */
export const keepAliveAgent = new Agent({ keepAlive: true, maxSockets: 512 });

/** One HTTP request, timed from send to the end of the body; never rejects (errors are part of the Reply). */
export function send(
  url: string,
  {
    method = 'GET',
    cookie,
    form,
    body: rawBody,
    headers: extraHeaders = {},
    timeoutMs = 5_000,
    agent = keepAliveAgent,
    localAddress,
  }: {
    method?: string;
    cookie?: string;
    form?: Record<string, string>;
    /** A body as is (its Content-Type, if any, in `headers`); `form` wins. */
    body?: string;
    headers?: Record<string, string>;
    timeoutMs?: number;
    /** `false`: a fresh connection (no keep-alive pool), as a readiness probe wants. */
    agent?: Agent | false;
    /** The source address (e.g. 127.0.0.3: another client on loopback, as nginx sees it); a fresh connection. */
    localAddress?: string;
  } = {},
): Promise<Reply> {
  const started = performance.now();
  const body = form ? new URLSearchParams(form).toString() : rawBody;
  const headers: Record<string, string> = { ...extraHeaders };
  if (cookie) headers.cookie = cookie;
  if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
  return new Promise((resolve) => {
    const done = (reply: Omit<Reply, 'ms'>) => resolve({ ...reply, ms: performance.now() - started });
    const options = localAddress ? { localAddress, agent: false as const } : { agent };
    const attempt = (first: boolean) => {
      // The second attempt on a connection of its own: the pool's other idle ones may have been closed at once too.
      const req = request(url, { method, headers, timeout: timeoutMs, ...options, ...(first ? {} : { agent: false }) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', (err) => done({ status: 0, headers: {}, body: '', error: err.message }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive connection the server closed as the request went out (nginx closes its idle ones when it
        // reloads): nothing was read of it, so it is sent once more on a new connection, as browsers do and as
        // Node's documentation of `request.reusedSocket` shows. Any other failure is the answer.
        if (first && req.reusedSocket && err.code === 'ECONNRESET') return attempt(false);
        done({ status: 0, headers: {}, body: '', error: err.message });
      });
      req.end(body);
    };
    attempt(true);
  });
}

/** The status code of a GET on a fresh connection, or 0 when nothing answers within `timeoutMs`. */
export const httpStatus = async (url: string, timeoutMs = 1000) => (await send(url, { agent: false, timeoutMs })).status;

export const isHttpOk = async (url: string) => (await httpStatus(url)) === 200;

/** `GET /api/session`'s answer, or undefined when the body is not that JSON (an error page). */
export function sessionOf(
  reply: Reply,
): { authenticated: boolean; user: { username: string } | null; instance: string } | undefined {
  if (reply.status !== 200) return undefined;
  try {
    return JSON.parse(reply.body);
  } catch {
    return undefined;
  }
}
