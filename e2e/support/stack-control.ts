import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

// A client for the local stack's control API (tools/stack/control-server.ts), for stories that break things.

type InstanceStatus = { n: number; id: string; port: number; pid?: number; state: string };
type RedisNodeStatus = { name: string; port: number; pid?: number; state: string; role?: string };
type RedisStatus = { mode: 'sentinel' | 'single'; nodes: RedisNodeStatus[]; sentinels: RedisNodeStatus[] };
export type StackStatus = {
  nginx: { url: string; state: string };
  redis: RedisStatus;
  instances: InstanceStatus[];
  demoUsers: string[];
};

export const defaultControlUrl = 'http://127.0.0.1:8099';
/** The token `npm start -- --control` writes for its run (the default run dir, .run/). */
export const defaultControlTokenFile = resolve(import.meta.dirname, '../../.run/secrets/control_token');

/** Read on each call: a stack restarted under the suite writes a new token. */
function readToken(file: string) {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(
      `No control token at ${file} (${(err as Error).message}): the stack's control API needs the token its runner ` +
        'wrote; set E2E_CONTROL_TOKEN_FILE for a stack with another run dir.',
    );
  }
}

export function createStackControl(controlUrl: string, tokenFile = defaultControlTokenFile) {
  async function call<T>(method: 'GET' | 'POST', path: string): Promise<T> {
    let res: Response;
    const token = readToken(tokenFile);
    try {
      res = await fetch(new URL(path, controlUrl), {
        method,
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(45_000),
      });
    } catch (err) {
      throw new Error(
        `The stack's control API does not answer at ${controlUrl} (${(err as Error).message}). ` +
          'Start the stack with `npm start -- --control` (or STACK_CONTROL=1), or stop yours and let Playwright start one.',
      );
    }
    const body = (await res.json()) as T & { error?: string };
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${body.error ?? ''}`);
    return body;
  }

  const status = () => call<StackStatus>('GET', '/status');
  const isUp = (state: { pid?: number; state: string }) => state.pid !== undefined && state.state === 'ready';

  return {
    status,
    killInstance: (n: number) => call<InstanceStatus>('POST', `/instances/${n}/kill`),
    stopInstance: (n: number) => call<InstanceStatus>('POST', `/instances/${n}/stop`),
    startInstance: (n: number) => call<InstanceStatus>('POST', `/instances/${n}/start`),
    restartInstance: (n: number) => call<InstanceStatus>('POST', `/instances/${n}/restart`),
    killRedis: () => call<RedisStatus>('POST', '/redis/kill'),
    startRedis: () => call<RedisStatus>('POST', '/redis/start'),
    pauseRedis: () => call<RedisStatus>('POST', '/redis/pause'),
    resumeRedis: () => call<RedisStatus>('POST', '/redis/resume'),
    /** SIGKILL whichever node is primary now (the reply names it); the Sentinels promote a replica. */
    killRedisPrimary: () => call<RedisNodeStatus>('POST', '/redis/primary/kill'),

    /** Ids of the instances that are running and ready, e.g. ['app-1', 'app-3']. */
    async runningInstances(): Promise<string[]> {
      return (await status()).instances.filter(isUp).map((instance) => instance.id);
    },

    /** Brings back whatever a story broke: a paused or dead Redis, dead or stopped instances. Returns what it did. */
    async heal(): Promise<string[]> {
      const { redis, instances } = await status();
      const repaired: string[] = [];
      if (redis.nodes.some((node) => node.state === 'paused')) {
        await call('POST', '/redis/primary/resume');
        repaired.push('resumed redis');
      }
      if (redis.nodes.some((node) => node.pid === undefined)) {
        await call('POST', '/redis/start');
        repaired.push('started redis');
      }
      for (const instance of instances.filter((candidate) => candidate.pid === undefined)) {
        await call('POST', `/instances/${instance.n}/start`);
        repaired.push(`started ${instance.id}`);
      }
      return repaired;
    },
  };
}

export type StackControl = ReturnType<typeof createStackControl>;
