import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild } from '../lib/child.ts';
import { waitFor } from '../lib/poll.ts';
import { freePort } from '../lib/ports.ts';
import { redisAnswersPing, redisUrl, withRedis } from '../lib/redis.ts';
import { redisArgs, renderAcl } from '../lib/redis-server.ts';
import { ensureSecrets } from '../lib/secrets.ts';
import { resultOf, type CheckResult } from './result.ts';

const errorOf = async (promise: Promise<unknown>) =>
  promise.then(
    () => 'no error',
    (err: Error) => err.message,
  );

/** Runs redis-server with the shipped redis.conf and a freshly rendered ACL, and checks what each user may do. */
export async function checkRedis(redisServer: string): Promise<Record<string, CheckResult>> {
  const dir = mkdtempSync(join(tmpdir(), 'check-redis-'));
  const output: string[] = [];
  let child: ReturnType<typeof startChild> | undefined;
  try {
    const secrets = ensureSecrets(join(dir, 'secrets'));
    const aclfile = join(dir, 'users.acl');
    renderAcl(secrets.dir, aclfile, redisServer);
    const port = await freePort();
    child = startChild({
      name: 'redis',
      command: redisServer,
      args: redisArgs({ port, dir, aclfile }),
      cwd: dir,
      print: (line) => output.push(line),
      onUnexpectedExit: () => undefined,
    });
    const started = child;
    const app = redisUrl('app', secrets.redisAppPassword, port);
    const admin = redisUrl('admin', secrets.redisAdminPassword, port);
    try {
      await waitFor('redis-server with infra/redis/redis.conf', () => redisAnswersPing(app), {
        timeoutMs: 10_000,
        failIf: () => (started.isRunning() ? undefined : 'exited'),
      });
    } catch (err) {
      return {
        'redis: starts with redis.conf and the rendered ACL': {
          ok: false,
          problems: [(err as Error).message, ...output.slice(-10)],
        },
      };
    }

    const appProblems = await withRedis(
      app,
      async (client) => {
        const problems: string[] = [];
        // Everything the app does, with node-redis's own handshake (HELLO/AUTH/CLIENT SETNAME) already passed.
        await client.set('sess:check', '1', { expiration: { type: 'EX', value: 10 } });
        // The session store's read (app/src/session-store.ts), made to slide: GET, PTTL and EXPIRE in a script.
        const read =
          "local v = redis.call('GET', KEYS[1]); redis.call('PTTL', KEYS[1]); redis.call('EXPIRE', KEYS[1], 10); return v";
        if ((await client.eval(read, { keys: ['sess:check'] })) !== '1')
          problems.push('the read script did not return the value');
        // The throttle's commands, pipelined without MULTI as app/src/throttle.ts sends them.
        await Promise.all([
          client.incr('login-fail:check'),
          client.expire('login-fail:check', 10, 'NX'),
          client.ttl('login-fail:check'),
        ]);
        await Promise.all([client.del('login-fail:other'), client.decr('login-fail:check')]);
        await client.del(['sess:check', 'login-fail:check']);
        // "Your sessions": its scripts on the user's index (app/src/session-index.ts).
        await client.eval(
          "redis.call('HSET', KEYS[1], 'f', '1'); redis.call('HDEL', KEYS[1], 'f'); return redis.call('PTTL', KEYS[1])",
          {
            keys: ['sess-idx:{check}'],
          },
        );
        await client.eval("return redis.call('HGETALL', KEYS[1])", { keys: ['sess-idx:{check}'] });
        // ...and nothing else: the dangerous ones named in infra/redis/render-acl.sh's contract, for real.
        const forbidden: string[][] = [
          ['FLUSHALL'],
          ['KEYS', '*'],
          ['CONFIG', 'GET', 'maxmemory'],
          ['SET', 'other:key', '1'],
          ['HSET', 'other:key', 'field', '1'],
          // A script runs with its caller's ACL, key by key: EVAL is no way around the key patterns.
          ['EVAL', "return redis.call('SET', 'other:key', '1')", '0'],
          ['EXISTS', 'sess:check'],
          ['UNLINK', 'sess:check'],
          // Granted once, no longer sent (app/src/throttle.ts, infra/redis/render-acl.sh).
          ['GETEX', 'sess:check'],
          ['MULTI'],
          ['SELECT', '1'],
        ];
        for (const command of forbidden) {
          const message = await errorOf(client.sendCommand(command));
          // Refused inside a script, the reply says so in its own words.
          if (!message.startsWith('NOPERM') && !/user executing the script can't access/.test(message))
            problems.push(`app user: ${command.join(' ')} answered "${message}", expected NOPERM`);
        }
        return problems;
      },
      5000,
    );

    const adminProblems = await withRedis(
      admin,
      async (client) => {
        const problems: string[] = [];
        // What the benchmark and operators use.
        await client.info('memory');
        await client.dbSize();
        await client.sendCommand(['MEMORY', 'USAGE', 'sess:none']);
        await client.sendCommand(['CONFIG', 'RESETSTAT']);
        await client.scan('0', { MATCH: 'sess:*', COUNT: 10 });
        // The rest, without running them (ACL DRYRUN, Redis >= 7.0); DEBUG is refused before the ACL check otherwise.
        const dryRun: string[][] = [
          ['DEBUG', 'SLEEP', '0'],
          ['SHUTDOWN'],
          ['FLUSHDB'],
          ['SCAN', '0'],
          ['INFO'],
          ['MONITOR'],
          ['ACL', 'LIST'],
          ['CLIENT', 'LIST'],
          ['CLIENT', 'KILL', 'ID', '1'],
          ['EVALSHA', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '0'],
          ['FUNCTION', 'LIST'],
          ['SCRIPT', 'FLUSH'],
          ['SUBSCRIBE', 'x'],
          ['BGREWRITEAOF'],
          ['REPLICAOF', 'NO', 'ONE'],
        ];
        for (const command of dryRun) {
          const answer = await client.sendCommand(['ACL', 'DRYRUN', 'app', ...command]).then(String, (err: Error) => err.message);
          if (answer === 'OK') problems.push(`app user may run ${command.join(' ')}`);
        }
        const expected: Record<string, string> = {
          appendonly: 'yes',
          appendfsync: 'everysec',
          'maxmemory-policy': 'noeviction',
          'protected-mode': 'yes',
        };
        for (const [name, value] of Object.entries(expected)) {
          const actual = (await client.configGet(name))[name];
          if (actual !== value) problems.push(`${name} is "${actual}", expected "${value}"`);
        }
        return problems;
      },
      5000,
    );

    const anonymous = await errorOf(withRedis(`redis://127.0.0.1:${port}`, (client) => client.ping(), 2000));
    const defaultProblems = anonymous.includes('NOAUTH') ? [] : [`unauthenticated PING answered "${anonymous}", expected NOAUTH`];

    return {
      'redis: starts with redis.conf and the rendered ACL': { ok: true },
      'redis: app user may run exactly the app commands on sess:*, sess-idx:* and login-fail:*': resultOf(appProblems),
      'redis: admin has INFO, DBSIZE, MEMORY USAGE, CONFIG RESETSTAT, SCAN; app denied the rest (ACL DRYRUN); AOF and eviction settings':
        resultOf(adminProblems),
      'redis: default user is off': resultOf(defaultProblems),
    };
  } catch (err) {
    return { 'redis: config and ACL': { ok: false, problems: [(err as Error).message, ...output.slice(-10)] } };
  } finally {
    await child?.stop('SIGTERM', 5000);
    rmSync(dir, { recursive: true, force: true });
  }
}
