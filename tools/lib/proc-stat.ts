import { readFileSync } from 'node:fs';

/**
 * The fields of /proc/<pid>/stat this toolbox uses, or undefined when the pid is gone (or off Linux).
 * The command name (field 2) is in parentheses and may itself contain spaces and ")", so fields are counted
 * after its last ")": field N of proc(5) is index N - 3 there.
 */
export function readProcStat(pid: number) {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const field = (n: number) => fields[n - 3] ?? '';
  return {
    /** Field 4: the parent's pid. */
    parentPid: Number(field(4)),
    /** Field 6: the session id; a process started with `detached` leads its own, and its children inherit it. */
    session: Number(field(6)),
    /** utime + stime (fields 14, 15) in clock ticks. */
    cpuTicks: Number(field(14)) + Number(field(15)),
    /** Field 22, in clock ticks since boot: with the pid, it identifies one process (pids are reused). */
    startTime: field(22),
  };
}

/** USER_HZ: 100 on every Linux architecture Node supports. */
export const CLOCK_TICKS_PER_S = 100;
