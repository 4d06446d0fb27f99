import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { it } from 'node:test';
import { CATALOG_VARIABLES } from '../../src/catalog/config.ts';
import { VARIABLES } from '../../src/config.ts';

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');
const defaults: Record<string, unknown> = { ...VARIABLES, ...CATALOG_VARIABLES };
const schema = new Set(Object.keys(defaults));

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

it("docs/configuration.md's default column states the default the schema applies, for every variable that has one", () => {
  // A row may name several variables (`A` / `B`) with their defaults in the same order (`1` / `2`); NODE_ENV's default
  // is the production column's ("`production` (the default)"), since it chooses the column.
  const stated = new Map<string, string>();
  for (const line of read('docs/configuration.md').split('\n')) {
    const [, names, defaultCell, productionCell] = /^\| (`[A-Z][^|]*) \|([^|]*)\|([^|]*)\|/.exec(line) ?? [];
    if (!names) continue;
    const cells = names.includes(' / ') ? defaultCell!.split('/') : [defaultCell!];
    names
      .trim()
      .split(' / ')
      .forEach((name, i) => stated.set(name.replaceAll('`', ''), `${cells[i]?.trim() ?? ''} ${productionCell}`));
  }
  const says = (name: string, value: string) =>
    stated.get(name)?.startsWith(`\`${value}\``) || stated.get(name)?.includes(`\`${value}\` (the default)`);
  const wrong = Object.entries(defaults)
    // A default computed where the app runs is described in words (INSTANCE_ID: "the host name").
    .filter(([, value]) => value !== undefined && value !== hostname())
    .filter(([name, value]) => !says(name, String(value)))
    .map(([name, value]) => `${name}: the schema's default is ${String(value)}, the doc says "${stated.get(name) ?? 'nothing'}"`);
  assert.deepEqual(wrong, []);
});
