import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { check, checkTable, failedChecks, informative } from './checks.ts';

describe('the chaos results table', () => {
  const passed = check('Scenario', 'held', '0', '0', true);
  const failed = check('Scenario', 'broken', '3', '0', false);
  const info = informative('Scenario', 'seen', '145 of 200');
  const rowOf = (table: string, figure: string) => table.split('\n').find((line) => line.includes(`| ${figure} |`)) ?? '';

  it('a row without a bound is not a pass: no ✓, no ✗, and it says it has no bound', () => {
    const row = rowOf(checkTable([info]), 'seen');
    assert.doesNotMatch(row, /✓|✗/);
    assert.match(row, /informative/);
  });

  it('a met bound shows ✓, a missed one ✗', () => {
    const table = checkTable([passed, failed]);
    assert.match(rowOf(table, 'held'), /\| ✓ \|$/);
    assert.match(rowOf(table, 'broken'), /\| ✗ \|$/);
  });

  it('only missed bounds fail the run; an informative row neither fails nor passes it', () => {
    assert.deepEqual(failedChecks([passed, failed, info]), [failed]);
  });
});
