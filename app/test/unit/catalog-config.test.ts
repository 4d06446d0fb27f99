import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCatalogConfig } from '../../src/catalog/config.ts';

const files: Record<string, string> = { '/run/secrets/db': 'db-secret\n', '/run/secrets/cache': ' cache-secret ' };
const readFile = (path: string) => {
  if (!(path in files)) throw new Error('ENOENT');
  return files[path]!;
};

test('catalogue config › production requires both addresses, and names every problem at once', () => {
  assert.throws(
    () => loadCatalogConfig({ NODE_ENV: 'production' }, readFile),
    (err: Error) => /DATABASE_URL: required/.test(err.message) && /CACHE_REDIS_URL: required/.test(err.message),
  );
  assert.throws(() => loadCatalogConfig({}, readFile), /DATABASE_URL: required/, 'an unset NODE_ENV is production');
  assert.throws(
    () => loadCatalogConfig({ NODE_ENV: 'prod' }, readFile),
    (err: Error) => /NODE_ENV/.test(err.message) && /DATABASE_URL: required/.test(err.message),
    'an invalid NODE_ENV is reported and judged as production, as the app judges it (env.ts isProduction)',
  );
});

test('catalogue config › passwords come from *_FILE into the URLs, never both ways', () => {
  const config = loadCatalogConfig(
    {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://catalog_app@db:5432/catalog',
      DATABASE_PASSWORD_FILE: '/run/secrets/db',
      CACHE_REDIS_URL: 'redis://cache@cache:6379',
      CACHE_REDIS_PASSWORD_FILE: '/run/secrets/cache',
    },
    readFile,
  );
  assert.equal(config.db.url, 'postgres://catalog_app:db-secret@db:5432/catalog');
  assert.equal(config.cache.url, 'redis://cache:cache-secret@cache:6379');
  assert.equal(config.cache.prefix, 'cache:');
  assert.throws(
    () => loadCatalogConfig({ NODE_ENV: 'test', DATABASE_PASSWORD: 'x', DATABASE_PASSWORD_FILE: '/run/secrets/db' }, readFile),
    /set either DATABASE_PASSWORD or DATABASE_PASSWORD_FILE/,
  );
  assert.throws(
    () => loadCatalogConfig({ NODE_ENV: 'test', CACHE_REDIS_PASSWORD_FILE: '/nope' }, readFile),
    /cannot read \/nope/,
  );
});

test('catalogue config › bad numbers and URLs are refused; development has explicit defaults', () => {
  assert.throws(
    () =>
      loadCatalogConfig({ NODE_ENV: 'test', CACHE_TIMEOUT_MS: '0', DATABASE_URL: 'mysql://x/y', CACHE_TTL_S: 'soon' }, readFile),
    (err: Error) =>
      ['CACHE_TIMEOUT_MS', 'DATABASE_URL: expected a postgres:// or postgresql:// URL', 'CACHE_TTL_S'].every((name) =>
        err.message.includes(name),
      ),
  );
  const config = loadCatalogConfig({ NODE_ENV: 'development' }, readFile);
  assert.deepEqual(
    {
      timeoutMs: config.cache.timeoutMs,
      ttlS: config.cache.ttlS,
      notFoundTtlS: config.cache.notFoundTtlS,
      graceS: config.cache.graceS,
    },
    { timeoutMs: 100, ttlS: 300, notFoundTtlS: 10, graceS: 3600 },
  );
});
