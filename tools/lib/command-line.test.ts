import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { repoRoot } from './paths.ts';
import { spawnCaptured } from './spawn.ts';

// The commands as a user types them, through npm (so package.json's scripts are tested too).
const npm = (args: string[]) => {
  const run = process.env.npm_execpath
    ? spawnCaptured(process.execPath, [process.env.npm_execpath, ...args], { cwd: repoRoot, timeoutMs: 30_000 })
    : spawnCaptured('npm', args, { cwd: repoRoot, timeoutMs: 30_000 });
  return run.exited.then(({ code }) => ({ code, output: run.output() }));
};
const stackTrace = /^\s+at .+:\d+:\d+\)?$/m;

const commands = [
  { command: 'npm start', args: ['start', '--'] },
  { command: 'npm run bench', args: ['run', 'bench', '--'] },
  { command: 'npm run chaos', args: ['run', 'chaos', '--'] },
  { command: 'npm run backup', args: ['run', 'backup', '--'] },
  { command: 'npm run restore', args: ['run', 'restore', '--'] },
];

describe('every command the project ships', () => {
  it('npm run restore › without a snapshot: one line asking for it, the usage, exit 2', async () => {
    const { code, output } = await npm(['run', 'restore']);
    assert.equal(code, 2, output);
    assert.match(output, /^npm run restore: which snapshot\? name its directory$/m);
    assert.doesNotMatch(output, stackTrace);
  });

  it('npm run backup -- --run-dir <no stack> › one line naming the missing secrets, exit 1, no stack trace', async () => {
    const { code, output } = await npm(['run', 'backup', '--', '--run-dir', '/nonexistent-run-dir']);
    assert.equal(code, 1, output);
    assert.match(output, /^\[backup\] no stack's secrets in \/nonexistent-run-dir\/secrets: start it with npm start/m);
    assert.doesNotMatch(output, stackTrace);
  });

  for (const { command, args } of commands) {
    it(`${command} -- --help › prints its usage and exits 0`, async () => {
      const { code, output } = await npm([...args, '--help']);
      assert.equal(code, 0, output);
      assert.match(output, new RegExp(`^${command}: `, 'm'));
      assert.match(output, /Options: .*--help/s);
      assert.doesNotMatch(output, stackTrace);
    });

    it(`${command} -- --no-such-option › one line naming it, the usage, exit 2, no stack trace`, async () => {
      const { code, output } = await npm([...args, '--no-such-option']);
      assert.equal(code, 2, output);
      assert.match(output, new RegExp(`^${command}: unknown option --no-such-option$`, 'm'));
      assert.match(output, /Options: .*--help/s);
      assert.doesNotMatch(output, stackTrace);
    });
  }
});
