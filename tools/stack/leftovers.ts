import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

// Children run in their own process groups and get SIGTERM when the runner dies (setpriv --pdeathsig,
// see child.ts); as a second net, their pids are recorded and the next start stops any still running.
// A pid is only trusted together with its start time, so a reused pid is left alone.

type Entry = { name: string; pid: number; startTime: string };

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined if the pid is gone. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; count fields after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

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
  for (let waited = 0; waited < 5000 && alive.some(isSameProcess); waited += 100) await sleep(100);
  for (const entry of alive) if (isSameProcess(entry)) process.kill(entry.pid, 'SIGKILL');
  rmSync(file, { force: true });
  return alive.map((entry) => `stopped ${entry.name} (pid ${entry.pid}) left over from a previous run`);
}
