import { send, sessionOf } from '../lib/http.ts';
import type { LoggedInUser } from '../lib/session-client.ts';

export type LoadRecord = {
  phase: string;
  kind: 'user' | 'anonymous';
  path: string;
  username?: string;
  /** ms since the loop started */
  at: number;
  ms: number;
  status: number;
  error?: string;
  instance?: string;
  /** For logged-in GET /api/session: whether the session was recognised. */
  authenticated?: boolean;
  retryAfter?: string;
};

const TICK_MS = 10;
/** Beyond this many unanswered requests the loop stops sending (and counts it), so a hang cannot exhaust memory. */
const MAX_IN_FLIGHT = 2_000;

/**
 * Open-loop load: requests are sent at a fixed rate whatever the answers, as real clients do, so a slow
 * dependency shows up as requests piling up (in flight) instead of as a slower load generator.
 * Three in four are logged-in `GET /api/session` (round robin over the users), one in four anonymous pages.
 * Stops by itself after `maxDurationMs` if `stop()` is never called.
 */
export function startLoadLoop({
  baseUrl,
  users,
  ratePerS,
  maxDurationMs,
}: {
  baseUrl: string;
  users: LoggedInUser[];
  ratePerS: number;
  maxDurationMs: number;
}) {
  const started = performance.now();
  const records: LoadRecord[] = [];
  const maxInFlight = new Map<string, number>();
  const inFlightByPhase = new Map<string, number>();
  let phase = 'warm-up';
  let inFlight = 0;
  let skipped = 0;
  let sent = 0;
  let owed = 0;
  const pending = new Set<Promise<void>>();

  function fire() {
    const n = sent++;
    const user = n % 4 === 3 ? undefined : users[Math.floor(n / 4) % users.length];
    const path = user || n % 8 === 3 ? '/api/session' : '/login';
    const tag = phase;
    inFlight++;
    inFlightByPhase.set(tag, (inFlightByPhase.get(tag) ?? 0) + 1);
    maxInFlight.set(tag, Math.max(maxInFlight.get(tag) ?? 0, inFlight));
    const at = performance.now() - started;
    const work = send(`${baseUrl}${path}`, user ? { cookie: user.cookie } : {}).then((reply) => {
      inFlight--;
      inFlightByPhase.set(tag, (inFlightByPhase.get(tag) ?? 1) - 1);
      const instance = reply.headers['x-instance-id'];
      const retryAfter = reply.headers['retry-after'];
      records.push({
        phase: tag,
        kind: user ? 'user' : 'anonymous',
        path,
        at,
        ms: reply.ms,
        status: reply.status,
        ...(user ? { username: user.username, authenticated: sessionOf(reply)?.authenticated } : {}),
        ...(reply.error ? { error: reply.error } : {}),
        ...(typeof instance === 'string' ? { instance } : {}),
        ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
      });
    });
    pending.add(work);
    void work.finally(() => pending.delete(work));
  }

  const timer = setInterval(() => {
    owed += (ratePerS * TICK_MS) / 1000;
    for (; owed >= 1; owed--) {
      if (inFlight >= MAX_IN_FLIGHT) skipped++;
      else fire();
    }
  }, TICK_MS);
  const failsafe = setTimeout(() => clearInterval(timer), maxDurationMs);

  return {
    records,
    /** Tags the requests sent from now on. */
    mark(name: string) {
      phase = name;
    },
    inFlight: () => inFlight,
    inFlightOf: (name: string) => inFlightByPhase.get(name) ?? 0,
    maxInFlight: (name: string) => maxInFlight.get(name) ?? 0,
    skipped: () => skipped,
    /** Records of one phase (requests sent while it was marked). */
    phase: (name: string) => records.filter((record) => record.phase === name),
    /** Stops sending and waits for the requests in flight (each is bounded by its own timeout). */
    async stop() {
      clearInterval(timer);
      clearTimeout(failsafe);
      await Promise.all(pending);
    },
  };
}

export type LoadLoop = ReturnType<typeof startLoadLoop>;

/** Failed = no HTTP answer, or an answer other than 2xx/3xx. */
export const isFailure = (record: LoadRecord) => record.status < 200 || record.status >= 400;
