import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { CATALOG_VARIABLES } from '../../src/catalog/config.ts';
import { VARIABLES } from '../../src/config.ts';

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');
const schema = new Set([...VARIABLES, ...CATALOG_VARIABLES]);

/** The variables named in the first column of docs/configuration.md's tables (`A` / `B` / `_FILE` shorthand aside). */
function documented(): Set<string> {
  const names = new Set<string>();
  for (const line of read('docs/configuration.md').split('\n')) {
    const first = /^\| ([^|]+) \|/.exec(line)?.[1] ?? '';
    for (const [, name] of first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(name!);
  }
  return names;
}

it('docs/configuration.md has a row for every variable the app reads, and none it does not read', () => {
  const rows = documented();
  assert.deepEqual(
    [...schema].filter((name) => !rows.has(name)),
    [],
    'read but not documented',
  );
  const known = (name: string) => schema.has(name) || schema.has(name.replace(/_FILE$/, ''));
  assert.deepEqual(
    [...rows].filter((name) => !known(name)),
    [],
    'documented but not read',
  );
});

it('.env.example names every variable the app reads (set or commented out; a secret by its _FILE)', () => {
  const example = read('.env.example');
  const missing = [...schema].filter((name) => !new RegExp(`^#? ?${name}(_FILE)?=`, 'm').test(example));
  assert.deepEqual(missing, []);
});
