import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import supertest from 'supertest';
import { createApp } from '../../app/src/app.ts';
import { loadConfig } from '../../app/src/config.ts';
import { createLogger } from '../../app/src/log.ts';
import { createRedisClient } from '../../app/src/redis.ts';
import { createUserDirectory } from '../../app/src/users.ts';
import { startChild } from '../lib/child.ts';
import { freePort } from '../lib/ports.ts';
import { waitFor } from '../lib/poll.ts';
import { connectAdmin, redisAnswersPing, redisUrl } from '../lib/redis.ts';
import { redisArgs, renderAcl } from '../lib/redis-server.ts';
import { createRespRecorder } from '../lib/resp-recorder.ts';
import { ensureSecrets } from '../lib/secrets.ts';
import { resultOf, type CheckResult } from './result.ts';

/** Sent by node-redis, needing no grant: HELLO and AUTH are exempt from command rules (Redis acl.c, CMD_NO_AUTH). */
const EXEMPT = new Set(['hello', 'auth']);

/**
 * The ACL grants the app exactly what it sends. A real app (createApp, node-redis) talks to Redis as the `app` user
 * through a recording proxy while it goes through everything that touches Redis (login, a session write, logout,
 * failed logins up to 429, a success that resets them, readiness); then: the commands recorded, less those Redis does
 * not know (node-redis's CLIENT MAINT_NOTIFICATIONS on open-source Redis) and the exempt ones, must equal the
 * `+commands` of `ACL GETUSER app`, and the ACL log must be empty (nothing the app sent was refused).
 */
export async function checkAclMatchesApp(redisServer: string): Promise<CheckResult> {
  const dir = mkdtempSync(join(tmpdir(), 'check-acl-'));
  const secrets = ensureSecrets(join(dir, 'secrets'));
  const aclfile = join(dir, 'users.acl');
  renderAcl(secrets.dir, aclfile, redisServer);
  const port = await freePort();
  const child = startChild({
    name: 'redis',
    command: redisServer,
    args: redisArgs({ port, dir, aclfile }),
    cwd: dir,
    print: () => undefined,
    onUnexpectedExit: () => undefined,
  });
  const recorder = await createRespRecorder({ host: '127.0.0.1', port });
  try {
    await waitFor('redis-server', () => redisAnswersPing(redisUrl('admin', secrets.redisAdminPassword, port)), {
      timeoutMs: 10_000,
    });
    const config = loadConfig({
      NODE_ENV: 'test',
      REDIS_URL: redisUrl('app', secrets.redisAppPassword, recorder.port),
      SESSION_SECRET: 'check-acl-secret-that-is-at-least-32-characters',
      DEMO_USERS: 'alice:alice-password-1',
      LOGIN_MAX_FAILURES_PER_ACCOUNT: '2',
      LOG_LEVEL: 'silent',
    });
    const log = createLogger(config);
    const redis = createRedisClient(config, log);
    await redis.connect();
    try {
      const app = createApp({ config, redis, users: await createUserDirectory(config.demoUsers), log });
      await driveEverythingThatTouchesRedis(app);
    } finally {
      redis.destroy();
    }

    const admin = await connectAdmin(redisUrl('admin', secrets.redisAdminPassword, port));
    try {
      const rules = (await admin.aclGetUser('app'))?.commands ?? '';
      const granted = new Set([...rules.matchAll(/\+([\w|]+)/g)].map((match) => match[1]!.toLowerCase()));
      // COMMAND INFO takes full names (client|setinfo) and answers null for what this Redis does not know.
      const known = async (command: string) =>
        ((await admin.sendCommand(['COMMAND', 'INFO', command])) as unknown[]).some(Boolean);
      const sent = new Set<string>();
      for (const command of recorder.commands) if (!EXEMPT.has(command) && (await known(command))) sent.add(command);
      const problems: string[] = [];
      for (const command of sent) if (!granted.has(command)) problems.push(`the app sends ${command}, not granted`);
      for (const command of granted) {
        if (EXEMPT.has(command)) problems.push(`${command} is granted, and needs no grant`);
        else if (!sent.has(command)) problems.push(`${command} is granted, the app never sends it`);
      }
      const denied = (await admin.sendCommand(['ACL', 'LOG'])) as unknown[];
      if (denied.length > 0) problems.push(`ACL LOG: ${JSON.stringify(denied).slice(0, 400)}`);
      return resultOf(problems);
    } finally {
      admin.destroy();
    }
  } finally {
    await recorder.close();
    await child.stop('SIGTERM', 5000);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function driveEverythingThatTouchesRedis(app: ReturnType<typeof createApp>) {
  const jar = new Map<string, string>();
  const cookie = () => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  const keep = (res: supertest.Response) => {
    for (const line of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
      const [name = '', value = ''] = (line.split(';')[0] ?? '').split('=');
      jar.set(name, value);
    }
    return res;
  };
  const post = async (path: string, form: Record<string, string>) => {
    const page = keep(
      await supertest(app)
        .get(jar.has('sid') ? '/' : '/login')
        .set('Cookie', cookie()),
    );
    const _csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    return keep(
      await supertest(app)
        .post(path)
        .type('form')
        .set('Cookie', cookie())
        .send({ _csrf, ...form }),
    );
  };
  const expect = (what: string, actual: number, expected: number) => {
    if (actual !== expected) throw new Error(`${what}: ${actual}, expected ${expected}`);
  };
  expect('GET /readyz', (await supertest(app).get('/readyz')).status, 200);
  expect('a failed login', (await post('/login', { username: 'alice', password: 'wrong-password' })).status, 401);
  expect('login (resets the counter)', (await post('/login', { username: 'alice', password: 'alice-password-1' })).status, 303);
  expect('a session write', (await post('/preferences', { theme: 'dark' })).status, 303);
  expect('a session read', (await supertest(app).get('/api/session').set('Cookie', cookie())).status, 200);
  expect('logout', (await post('/logout', {})).status, 303);
  jar.clear();
  for (const status of [401, 401, 429]) {
    expect('failed logins up to the limit', (await post('/login', { username: 'alice', password: 'wrong' })).status, status);
  }
}
