import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';

const SECRET = 'a-production-secret-of-at-least-32-chars';
const production = {
  NODE_ENV: 'production',
  REDIS_URL: 'redis://app:pw@redis:6379',
  SESSION_SECRET: SECRET,
};

function problemsOf(env: Record<string, string>, readFile?: (path: string) => string): string[] {
  try {
    loadConfig(env, readFile);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('uses explicit development defaults, only when asked for, and names them', () => {
    const config = loadConfig({ NODE_ENV: 'development' });
    assert.equal(config.env, 'development');
    assert.equal(config.redis.url, 'redis://127.0.0.1:6379');
    assert.deepEqual(config.developmentDefaults, ['REDIS_URL', 'DEMO_USERS', 'SESSION_SECRET']);
    assert.deepEqual(
      config.demoUsers.map((user) => user.username),
      ['alice', 'bob'],
    );
  });

  it('applies the OWASP session timeouts by default', () => {
    const { session } = loadConfig({ NODE_ENV: 'development' });
    assert.equal(session.idleTimeoutS, 1800);
    assert.equal(session.absoluteTimeoutS, 8 * 3600);
  });

  it('an unset NODE_ENV is production: no public secret, no demo passwords', () => {
    const problems = problemsOf({});
    assert.ok(problems.some((problem) => problem.startsWith('SESSION_SECRET: required')));
    assert.ok(problems.some((problem) => problem.startsWith('REDIS_URL: required')));
    const config = loadConfig({ REDIS_URL: production.REDIS_URL, SESSION_SECRET: SECRET });
    assert.equal(config.env, 'production');
    assert.deepEqual(config.demoUsers, []);
    assert.deepEqual(config.developmentDefaults, []);
    assert.match(problemsOf({ REDIS_URL: production.REDIS_URL, SESSION_SECRET: 'short' })[0]!, /at least 32/);
  });

  it('an invalid NODE_ENV is reported and judged as production, so every problem shows at once', () => {
    const problems = problemsOf({ NODE_ENV: 'prod' });
    for (const name of ['NODE_ENV', 'REDIS_URL', 'SESSION_SECRET']) {
      assert.ok(
        problems.some((problem) => problem.startsWith(name)),
        `${name} missing in ${problems.join('; ')}`,
      );
    }
  });

  it('reports every production problem at once', () => {
    const problems = problemsOf({ NODE_ENV: 'production', DEMO_USERS: 'alice:long-enough', PORT: 'eighty' });
    assert.equal(problems.length, 4, problems.join('\n'));
    for (const name of ['PORT', 'REDIS_URL', 'SESSION_SECRET', 'DEMO_USERS']) {
      assert.ok(
        problems.some((problem) => problem.startsWith(name)),
        `${name} missing in ${problems.join('; ')}`,
      );
    }
  });

  it('has no production defaults: secrets are required and demo users are absent', () => {
    const config = loadConfig(production);
    assert.deepEqual(config.developmentDefaults, []);
    assert.deepEqual(config.demoUsers, []);
  });

  it('refuses short and development secrets in production', () => {
    assert.match(problemsOf({ ...production, SESSION_SECRET: 'short' })[0]!, /at least 32/);
    assert.match(
      problemsOf({ ...production, SESSION_SECRET: 'development-only-session-secret-not-for-production' })[0]!,
      /refused/,
    );
  });

  it('accepts demo users in production only when explicitly allowed', () => {
    assert.match(problemsOf({ ...production, DEMO_USERS: 'alice:password1' })[0]!, /ALLOW_DEMO_USERS/);
    const config = loadConfig({ ...production, DEMO_USERS: 'Alice:password1', ALLOW_DEMO_USERS: 'true' });
    assert.deepEqual(config.demoUsers, [{ username: 'alice', password: 'password1' }]);
  });

  it('splits SESSION_SECRET for rotation: the first signs, all verify', () => {
    const config = loadConfig({ ...production, SESSION_SECRET: `${SECRET}-new,${SECRET}-old` });
    assert.deepEqual(config.session.secrets, [`${SECRET}-new`, `${SECRET}-old`]);
  });

  it('reads *_FILE secrets and puts REDIS_PASSWORD into the URL', () => {
    const files: Record<string, string> = { '/run/secrets/session': `${SECRET}\n`, '/run/secrets/redis': 'p@ss word\n' };
    const config = loadConfig(
      {
        NODE_ENV: 'production',
        REDIS_URL: 'redis://app@redis:6379',
        SESSION_SECRET_FILE: '/run/secrets/session',
        REDIS_PASSWORD_FILE: '/run/secrets/redis',
      },
      (path) => files[path] ?? '',
    );
    assert.deepEqual(config.session.secrets, [SECRET]);
    assert.equal(new URL(config.redis.url).username, 'app');
    assert.equal(decodeURIComponent(new URL(config.redis.url).password), 'p@ss word');
  });

  it('reports an unreadable secret file', () => {
    const problems = problemsOf({ ...production, SESSION_SECRET: '', SESSION_SECRET_FILE: '/nope' }, () => {
      throw new Error('ENOENT');
    });
    assert.ok(problems.some((problem) => problem.includes('SESSION_SECRET_FILE: cannot read /nope')));
  });

  it('rejects malformed values with the variable name', () => {
    const development = { NODE_ENV: 'development' };
    assert.equal(
      problemsOf({ ...development, REDIS_URL: 'http://localhost' })[0],
      'REDIS_URL: expected a redis:// or rediss:// URL, not http://',
    );
    assert.equal(
      problemsOf({ ...development, REDIS_URL: 'https://user:hunter2@localhost' })[0],
      'REDIS_URL: expected a redis:// or rediss:// URL, not https://',
      'the scheme named, never the password',
    );
    assert.equal(
      problemsOf({ ...development, REDIS_URL: 'localhost:6379' })[0],
      'REDIS_URL: expected a redis:// or rediss:// URL',
    );
    assert.match(problemsOf({ ...development, DEMO_USERS: 'alice' })[0]!, /^DEMO_USERS/);
    assert.match(problemsOf({ ...development, SESSION_IDLE_TIMEOUT_S: '-1' })[0]!, /^SESSION_IDLE_TIMEOUT_S/);
    assert.match(problemsOf({ ...development, TRUST_PROXY: 'yes' })[0]!, /^TRUST_PROXY/);
    assert.match(problemsOf({ ...development, SESSION_SECRET: 'a-secret,' })[0]!, /^SESSION_SECRET: no empty secret/);
  });

  it('Sentinel: parses the Sentinels, reads their password and the CA from files, and waits for one replica', () => {
    const files: Record<string, string> = { '/s/sentinel': 'sentinel-pw\n', '/s/ca.crt': '-----BEGIN CERTIFICATE-----' };
    const config = loadConfig(
      {
        ...production,
        REDIS_URL: 'rediss://app:pw@sessions',
        REDIS_SENTINELS: 'sentinel-1:26379, sentinel-2:26379,sentinel-3:26379',
        REDIS_SENTINEL_PASSWORD_FILE: '/s/sentinel',
        REDIS_TLS_CA_FILE: '/s/ca.crt',
      },
      (path) => files[path] ?? '',
    );
    assert.deepEqual(config.redis.sentinel, {
      nodes: [1, 2, 3].map((n) => ({ host: `sentinel-${n}`, port: 26379 })),
      name: 'sessions',
      username: 'sentinel-app',
      password: 'sentinel-pw',
    });
    assert.equal(config.redis.tlsCa, '-----BEGIN CERTIFICATE-----');
    assert.deepEqual(config.redis.waitForReplicas, { replicas: 1, timeoutMs: 100 });
    assert.deepEqual(loadConfig(production).redis.waitForReplicas, { replicas: 0, timeoutMs: 100 });
  });

  it('Sentinel: a password is required in production, Sentinels must be host:port, and an unreadable CA is reported', () => {
    const problems = problemsOf(
      { ...production, REDIS_SENTINELS: 'sentinel-1:26379,sentinel-2', REDIS_TLS_CA_FILE: '/nope' },
      () => {
        throw new Error('ENOENT');
      },
    );
    assert.ok(
      problems.some((problem) => /^REDIS_SENTINEL_PASSWORD: required/.test(problem)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((problem) => /^REDIS_SENTINELS: expected host:port/.test(problem)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((problem) => problem === 'REDIS_TLS_CA_FILE: cannot read /nope'),
      problems.join('\n'),
    );
  });

  it('the catalogue is on only with DATABASE_URL, and then needs its cache Redis in production', () => {
    assert.equal(loadConfig(production).catalog, undefined);
    const problems = problemsOf({ ...production, DATABASE_URL: 'postgres://catalog_app@db:5432/catalog' });
    assert.ok(
      problems.some((problem) => /^CACHE_REDIS_URL: required/.test(problem)),
      problems.join('\n'),
    );
    const config = loadConfig({
      ...production,
      DATABASE_URL: 'postgres://catalog_app@db:5432/catalog',
      DATABASE_PASSWORD: 'db-pw',
      CACHE_REDIS_URL: 'rediss://cache@cache-redis:6379',
      CACHE_ENABLED: 'false',
    });
    assert.equal(decodeURIComponent(new URL(config.catalog!.db.url).password), 'db-pw');
    assert.equal(config.catalog!.cache.enabled, false);
  });

  it('Redis Cluster: seed nodes parsed, waits for one replica; not together with Sentinels', () => {
    const config = loadConfig({
      ...production,
      REDIS_URL: 'rediss://app:pw@cluster',
      REDIS_CLUSTER_NODES: 'redis-1:6379,redis-2:6379',
    });
    assert.deepEqual(config.redis.cluster, { nodes: [1, 2].map((n) => ({ host: `redis-${n}`, port: 6379 })) });
    // One replica per primary (the shipped cluster's shape): every end of a session waits for its shard's replica.
    assert.deepEqual(config.redis.waitForReplicas, { replicas: 1, timeoutMs: 100 });
    const problems = problemsOf({
      ...production,
      REDIS_CLUSTER_NODES: 'redis-1:6379',
      REDIS_SENTINELS: 'sentinel-1:26379',
      REDIS_SENTINEL_PASSWORD: 'pw',
    });
    assert.ok(
      problems.some((problem) => /^REDIS_CLUSTER_NODES: set either/.test(problem)),
      problems.join('\n'),
    );
  });
});
