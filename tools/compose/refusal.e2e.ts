import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../lib/spawn.ts';
import { engineAnswers } from './engine.ts';
import { PROJECT } from './compose-stack.ts';

// Run by tools/compose/test.ts before the stack is up: bad configuration fails early and loudly, and starts nothing.

test('compose:up with 127.0.0.1:8080 taken: refused, naming the port and the fix, with nothing left started', async (t) => {
  const engineBefore = await engineAnswers();
  const squatter = createServer().listen(8080, '127.0.0.1');
  await once(squatter, 'listening');
  t.after(() => squatter.close());

  const up = await run(process.execPath, [join(import.meta.dirname, 'cli.ts'), 'up'], { stdout: true, timeoutMs: 300_000 });
  assert.equal(up.code, 1, up.output);
  assert.match(up.output, /nothing was started/);
  assert.match(up.output, /127\.0\.0\.1:8080 \(for nginx\) is already in use: stop what listens there/);
  assert.doesNotMatch(up.output, /\n\s+at /, 'no stack trace');
  assert.equal(await engineAnswers(), engineBefore, 'the engine left as it was');
  if (engineBefore) {
    const ours = await run('docker', ['ps', '--all', '--quiet', '--filter', `label=com.docker.compose.project=${PROJECT}`], {
      stdout: true,
    });
    assert.equal(ours.output, '', 'no container of the stack');
  }
});
