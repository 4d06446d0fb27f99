import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findExecutable } from '../lib/prereqs.ts';
import { poll, waitFor } from '../lib/poll.ts';
import { run } from '../lib/spawn.ts';

/**
 * The container engine compose talks to. One that already runs is used as it is and never stopped; where none runs,
 * `startEngine` starts Debian's `dockerd` (root only) and records it in the state dir, so that `stopEngine` stops that
 * daemon and only that one, and puts back what it changed on the host: the forwarding switch, the iptables rules
 * and chains it added (DOCKER*, its bridges' rules, the FORWARD policy it set to DROP) and its docker0 bridge.
 */

type StartedEngine = {
  pid: number;
  /** /proc/sys/net/ipv4/ip_forward before dockerd set it to 1. */
  ipForward: string;
  /** The FORWARD chain's policy per iptables family before dockerd set it to DROP. */
  forwardPolicy: Partial<Record<'iptables' | 'ip6tables', string>>;
  log: string;
};

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
// What dockerd adds to iptables: its chains, and the rules that name its bridges.
const DOCKER_RULE = /DOCKER|\bdocker0\b|\bbr-[0-9a-f]{12}\b/;

const stateFile = (stateDir: string) => join(stateDir, 'engine.json');

export const engineAnswers = async () =>
  (await run('docker', ['info', '--format', '{{.ServerVersion}}'], { stdout: true, timeoutMs: 10_000 })).code === 0;

/** Makes sure an engine answers; returns whether this call started it. */
export async function startEngine(stateDir: string): Promise<boolean> {
  if (!findExecutable('docker'))
    throw new Error('no docker command: install Docker (on Debian: bash tools/setup.sh --test installs docker.io)');
  if (await engineAnswers()) return false;
  const dockerd = findExecutable('dockerd');
  if (!dockerd)
    throw new Error('no Docker engine answers and there is no dockerd to start: start your engine, or install docker.io');
  if (process.getuid?.() !== 0)
    throw new Error(
      'no Docker engine answers: start it (sudo systemctl start docker), or run as root so compose:up can start dockerd',
    );

  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const log = join(stateDir, 'dockerd.log');
  const saved: Omit<StartedEngine, 'pid'> = { ipForward: readFileSync(IP_FORWARD, 'utf8').trim(), forwardPolicy: {}, log };
  for (const family of ['iptables', 'ip6tables'] as const) {
    const policy = /^:FORWARD (\w+)/m.exec(iptablesSave(family) ?? '')?.[1];
    if (policy) saved.forwardPolicy[family] = policy;
  }
  const fd = openSync(log, 'a', 0o600);
  const child = spawn(dockerd, [], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  writeFileSync(stateFile(stateDir), JSON.stringify({ ...saved, pid: child.pid }), { mode: 0o600 });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  await waitFor('dockerd', engineAnswers, {
    timeoutMs: 30_000,
    intervalMs: 200,
    failIf: () => (gone ? `exited at start; see ${log}` : undefined),
  });
  return true;
}

/** Stops the daemon `startEngine` started (if any) and restores the host; an engine we did not start is left alone. */
export async function stopEngine(stateDir: string): Promise<boolean> {
  const file = stateFile(stateDir);
  if (!existsSync(file)) return false;
  const started = JSON.parse(readFileSync(file, 'utf8')) as StartedEngine;
  const alive = () => {
    try {
      process.kill(started.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (alive()) {
    process.kill(started.pid, 'SIGTERM');
    if (!(await poll(async () => !alive(), { timeoutMs: 30_000, intervalMs: 100 }))) {
      process.kill(started.pid, 'SIGKILL');
      await poll(async () => !alive(), { timeoutMs: 5_000, intervalMs: 100 });
    }
  }
  restoreHostNetwork(started);
  rmSync(file, { force: true });
  return true;
}

function iptablesSave(family: 'iptables' | 'ip6tables'): string | undefined {
  try {
    return execFileSync(`${family}-save`, [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

function restoreHostNetwork({ ipForward, forwardPolicy }: StartedEngine) {
  for (const family of ['iptables', 'ip6tables'] as const) {
    const rules = iptablesSave(family);
    if (!rules || !DOCKER_RULE.test(rules)) continue;
    const kept = rules
      .split('\n')
      .filter((line) => !DOCKER_RULE.test(line))
      .map((line) => (line.startsWith(':FORWARD ') && forwardPolicy[family] ? `:FORWARD ${forwardPolicy[family]} [0:0]` : line));
    execFileSync(`${family}-restore`, [], { input: kept.join('\n') });
  }
  try {
    execFileSync('ip', ['link', 'delete', 'docker0'], { stdio: 'ignore' });
  } catch {
    // dockerd removed it, or never made one
  }
  writeFileSync(IP_FORWARD, `${ipForward}\n`);
}
