import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { repoRoot } from '../lib/paths.ts';
import { freePort } from '../lib/ports.ts';
import { checkFiles, portProblems, publishedAddresses } from './preflight.ts';

/** A folder with the shipped docker-compose.yml and .env.example, as a fresh clone has them. */
function cloneLike(t: TestContext) {
  const root = mkdtempSync(join(tmpdir(), 'compose-preflight-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const file of ['docker-compose.yml', '.env.example']) copyFileSync(join(repoRoot, file), join(root, file));
  return root;
}

test('compose:up preflight › a first run gets its secrets and the demo .env made', async (t) => {
  const root = cloneLike(t);
  const said: string[] = [];
  assert.deepEqual(await checkFiles((line) => said.push(line), root), []);
  assert.ok(existsSync(join(root, 'secrets/session_secret')));
  assert.ok(existsSync(join(root, '.env')));
  assert.equal(said.length, 2, said.join('\n'));
});

test('compose:up preflight › a missing secret file is named, with the command that makes it', async (t) => {
  const root = cloneLike(t);
  await checkFiles(() => {}, root);
  rmSync(join(root, 'secrets/postgres_password'));
  const problems = await checkFiles(() => {}, root);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0]!, /secrets\/postgres_password is missing\. Run infra\/docker\/make-secrets\.sh/);
});

test('compose:up preflight › an unreadable .env is named', async (t) => {
  const root = cloneLike(t);
  await checkFiles(() => {}, root);
  rmSync(join(root, '.env'));
  // A folder where the file should be: unreadable for root too (a mode would not stop root).
  mkdirSync(join(root, '.env'));
  assert.deepEqual(await checkFiles(() => {}, root), [
    '.env cannot be read. It holds optional settings for the app: fix its mode, or remove it',
  ]);
});

test('compose:up preflight › a published port already taken is named; one the stack itself holds is not', async (t) => {
  const port = await freePort();
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
  t.after(() => squatter.close());
  const address = { host: '127.0.0.1', port, service: 'nginx' };
  const [problem] = await portProblems([address]);
  assert.match(problem ?? '', new RegExp(`127\\.0\\.0\\.1:${port} \\(for nginx\\) is already in use`));
  assert.deepEqual(await portProblems([address], `127.0.0.1:${port}->8080/tcp`), []);
});

test('compose:up preflight › the published addresses are the loopback ports of the file, per profile', () => {
  const shown = (profiles: string[]) =>
    publishedAddresses(profiles).map(({ host, port, service }) => `${service} ${host}:${port}`);
  assert.deepEqual(shown([]), ['nginx 127.0.0.1:8080', 'prometheus 127.0.0.1:9090']);
  assert.deepEqual(shown(['cluster']), ['nginx 127.0.0.1:8080', 'nginx-cluster 127.0.0.1:8081', 'prometheus 127.0.0.1:9090']);
});
