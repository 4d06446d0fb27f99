import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSupervisor, type Supervisor } from '../../../tools/stack/supervisor.ts';

// One supervisor for every process a test file starts (Redis, PostgreSQL, memcached), as the local stack has one for
// its own: it records their pids, and kills whatever is left if the file's process dies.
let supervisor: Supervisor | undefined;

export function testSupervisor(): Supervisor {
  if (!supervisor) {
    const dir = mkdtempSync(join(tmpdir(), 'test-processes-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    supervisor = createSupervisor({ pidsFile: join(dir, 'pids'), print: () => {} });
  }
  return supervisor;
}
