import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { poll } from '../lib/poll.ts';
import { readProcStat } from '../lib/proc-stat.ts';

// Children run in their own process groups and get SIGTERM when the runner dies (setpriv --pdeathsig,
// see child.ts); as a second net, their pids are recorded and the next start stops any still running.
// A pid is only trusted together with its start time, so a reused pid is left alone.

type Entry = { name: string; pid: number; startTime: string };

const startTimeOf = (pid: number) => readProcStat(pid)?.startTime;

const isSameProcess = (entry: Entry) => startTimeOf(entry.pid) === entry.startTime;

export function createPidRegistry(file: string) {
  const entries = new Map<string, Entry>();
  const save = () => writeFileSync(file, JSON.stringify([...entries.values()], null, 2));
  return {
    add(name: string, pid: number | undefined) {
      const startTime = pid === undefined ? undefined : startTimeOf(pid);
      if (pid === undefined || startTime === undefined) return;
      entries.set(name, { name, pid, startTime });
      save();
    },
    remove(name: string) {
      entries.delete(name);
      save();
    },
    clear: () => rmSync(file, { force: true }),
  };
}

/** Stops processes a previous, killed stack runner left behind; returns what it did, for the log. */
export async function stopLeftovers(file: string): Promise<string[]> {
  let entries: Entry[];
  try {
    entries = JSON.parse(readFileSync(file, 'utf8')) as Entry[];
  } catch {
    return [];
  }
  const alive = entries.filter(isSameProcess);
  for (const entry of alive) {
    process.kill(entry.pid, 'SIGCONT'); // a paused Redis cannot act on SIGTERM
    process.kill(entry.pid, 'SIGTERM');
  }
  await poll(async () => !alive.some(isSameProcess), { timeoutMs: 5000, intervalMs: 100 });
  for (const entry of alive) if (isSameProcess(entry)) process.kill(entry.pid, 'SIGKILL');
  rmSync(file, { force: true });
  return alive.map((entry) => `stopped ${entry.name} (pid ${entry.pid}) left over from a previous run`);
}
