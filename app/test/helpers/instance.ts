import { loadConfig } from '../../src/config.ts';
import { createApp } from '../../src/app.ts';
import { createLogger } from '../../src/log.ts';
import { createRedisClient } from '../../src/redis.ts';
import { createUserDirectory } from '../../src/users.ts';
import supertest from 'supertest';

export const ALICE = { username: 'alice', password: 'alice-password-1' };
export const BOB = { username: 'bob', password: 'bob-password-2' };

export type Instance = Awaited<ReturnType<typeof createInstance>>;

/** One app object, as one of several instances would run it, connected to the given Redis. */
export async function createInstance(redisUrl: string, env: Record<string, string> = {}) {
  const config = loadConfig({
    NODE_ENV: 'test',
    INSTANCE_ID: 'app-test',
    REDIS_URL: redisUrl,
    SESSION_SECRET: 'test-secret-that-is-at-least-32-characters',
    DEMO_USERS: `${ALICE.username}:${ALICE.password},${BOB.username}:${BOB.password}`,
    LOG_LEVEL: 'silent',
    REDIS_COMMAND_TIMEOUT_MS: '300',
    ...env,
  });
  const log = createLogger(config);
  const redis = createRedisClient(config, log);
  await redis.connect();
  const users = await createUserDirectory(config.demoUsers);
  const app = createApp({ config, redis, users, log });
  return { app, config, redis, close: () => redis.close() };
}

export type Browser = ReturnType<typeof createBrowser>;

/**
 * A cookie jar over supertest that can be pointed at any instance: what a browser does behind a load balancer.
 */
export function createBrowser() {
  const jar = new Map<string, string>();
  const cookieHeader = () => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  const remember = (res: supertest.Response) => {
    for (const line of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
      const [pair] = line.split(';');
      const [name, value] = pair!.split('=') as [string, string];
      if (/Expires=Thu, 01 Jan 1970/.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  };
  const on = (instance: Instance) => ({
    get: async (path: string, headers: Record<string, string> = {}) =>
      remember(await supertest(instance.app).get(path).set('Cookie', cookieHeader()).set(headers)),
    post: async (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
      remember(await supertest(instance.app).post(path).type('form').set('Cookie', cookieHeader()).set(headers).send(form)),
  });

  return {
    jar,
    on,
    /** The token from the dashboard's logout form, or else from the login form. */
    async csrfToken(instance: Instance): Promise<string> {
      for (const path of ['/', '/login']) {
        const page = await on(instance).get(path);
        const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
        if (token) return token;
      }
      throw new Error('no CSRF token on / or /login');
    },
    async login(instance: Instance, user = ALICE) {
      const _csrf = await this.csrfToken(instance);
      return on(instance).post('/login', { _csrf, ...user });
    },
    async logout(instance: Instance) {
      const _csrf = await this.csrfToken(instance);
      return on(instance).post('/logout', { _csrf });
    },
    sessionId(): string | undefined {
      const signed = decodeURIComponent(jar.get('sid') ?? '');
      return /^s:([^.]+)\./.exec(signed)?.[1];
    },
  };
}
