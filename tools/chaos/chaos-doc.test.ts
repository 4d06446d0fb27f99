import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../lib/paths.ts';
import { chaosDocs } from './chaos-doc.ts';

const blocks = [
  {
    block: chaosDocs.chaos,
    command: 'npm run chaos -- --write-docs',
    scenarios: ['Baseline', 'Redis primary killed', 'Redis switchover', 'Redis frozen', 'PostgreSQL stopped'],
  },
  {
    block: chaosDocs.partitions,
    command: 'npm run chaos -- --partitions --write-docs',
    scenarios: ['Primary cut from both replicas', 'One replica isolated', 'Split brain', 'One Sentinel isolated'],
  },
];

describe('the chaos blocks of docs/operations.md', () => {
  for (const { block, command, scenarios } of blocks)
    it(`${command} › its block is there once, and holds the table of a whole run that met every bound`, () => {
      const text = readFileSync(join(repoRoot, 'docs/operations.md'), 'utf8');
      assert.equal(text.split(block.begin).length - 1, 1);
      assert.equal(text.split(block.end).length - 1, 1);
      const inside = block.read();
      const heading = new RegExp(
        `^\\n\\nFrom \`${command}\`, \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC \\(\\d+ cores, load [\\d.]+ at the end\\):\\n\\n\\| Scenario \\| Figure \\| Measured \\| Bound \\| \\|\\n`,
      );
      assert.match(inside, heading);
      const rows = inside.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| Scenario'));
      for (const scenario of scenarios)
        assert.ok(
          rows.some((row) => row.startsWith(`| ${scenario}`)),
          `a row of ${scenario}`,
        );
      assert.deepEqual(
        rows.filter((row) => row.endsWith('| ✗ |')),
        [],
        'no row over its bound',
      );
    });
});
