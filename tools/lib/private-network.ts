import { spawn } from 'node:child_process';
import { run } from './spawn.ts';

// Real partitions without touching the host's network: the tool runs itself again inside a network namespace of its
// own (unshare --net), where it starts the whole stack on that namespace's loopback. Links are cut there by iptables
// rules that drop packets silently, as a partition does (no reset, no refusal). The kernel frees the namespace, its
// rules and its addresses with its last process: whatever happens to the run (a failure, Ctrl-C, a SIGKILL), nothing
// is left on the host. Root or an unprivileged user namespace (--map-root-user) is needed; without either it fails.

const MARKER = 'CHAOS_PRIVATE_NETWORK';
const CHAIN = 'PARTITIONS';

/** Whether this process runs in the private namespace runInPrivateNetwork made for it. */
export const inPrivateNetwork = () => process.env[MARKER] === '1';

/**
 * Runs `node <script> <args>` in a new network namespace, output inherited; resolves with its exit code. A SIGTERM is
 * passed on to the child (which stops what it started); a Ctrl-C reaches it by itself, as the terminal signals the
 * whole process group (passed on as well, it would be a second SIGINT, which ends a Node process without cleanup).
 */
export function runInPrivateNetwork(script: string, args: string[]): Promise<number> {
  const user = process.getuid?.() === 0 ? [] : ['--map-root-user'];
  const child = spawn('unshare', [...user, '--net', '--', process.execPath, script, ...args], {
    stdio: 'inherit',
    env: { ...process.env, [MARKER]: '1' },
  });
  const onTerm = () => void child.kill('SIGTERM');
  process.on('SIGTERM', onTerm);
  return new Promise((resolve) => {
    child.once('error', (err) => {
      console.error(`[partitions] unshare: ${err.message}`);
      resolve(1);
    });
    child.once('close', (code, signal) => {
      process.off('SIGTERM', onTerm);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

async function sh(command: string, args: string[]) {
  const { code, output } = await run(command, args, { timeoutMs: 5_000 });
  if (code !== 0) throw new Error(`${command} ${args.join(' ')}: ${output || `exit ${code}`}`);
}

/** A process's end of the links a rule can cut: the port it listens on, and the address it connects from. */
export type Endpoint = { port: number; source: string };

/**
 * The namespace's loopback brought up (a new namespace's is down), and a chain of its own for the cuts. Only ever
 * called inside the private namespace: it refuses to run anywhere else.
 */
export async function createFirewall() {
  if (!inPrivateNetwork()) throw new Error('createFirewall: not inside the private network namespace');
  await sh('ip', ['link', 'set', 'lo', 'up']);
  await sh('iptables', ['-N', CHAIN]);
  await sh('iptables', ['-A', 'INPUT', '-j', CHAIN]);
  const drop = (match: string[]) => sh('iptables', ['-A', CHAIN, ...match, '-j', 'DROP']);
  const isolate = async (endpoint: Endpoint) => {
    await drop(['-p', 'tcp', '--dport', String(endpoint.port)]);
    await drop(['-p', 'tcp', '--sport', String(endpoint.port)]);
    await drop(['-s', endpoint.source]);
    await drop(['-d', endpoint.source]);
  };

  return {
    /**
     * Cuts the links `client` opened to `server` (a replica's to its primary, a Sentinel's to a node) both ways: what
     * the client sends to the server's port, and what the server sends back from it.
     */
    async cut(client: Endpoint, server: Endpoint) {
      await drop(['-p', 'tcp', '-s', client.source, '--dport', String(server.port)]);
      await drop(['-p', 'tcp', '-d', client.source, '--sport', String(server.port)]);
    },
    /** Every packet to or from this process: its listening port and the address it connects from. */
    isolate,
    /**
     * A process cut off from everything but the processes connecting from `allowed` (its listening port, both ways):
     * one side of a split brain.
     */
    async isolateExcept(endpoint: Endpoint, allowed: string[]) {
      for (const source of allowed) {
        await sh('iptables', ['-A', CHAIN, '-p', 'tcp', '-s', source, '--dport', String(endpoint.port), '-j', 'RETURN']);
        await sh('iptables', ['-A', CHAIN, '-p', 'tcp', '-d', source, '--sport', String(endpoint.port), '-j', 'RETURN']);
      }
      await isolate(endpoint);
    },
    /** Every link a process opened from its own address `source` (an app instance's to Redis), both ways. */
    async cutSource(source: string) {
      await drop(['-s', source]);
      await drop(['-d', source]);
    },
    /** Every cut healed. */
    heal: () => sh('iptables', ['-F', CHAIN]),
    /** The rules in force (for the results). */
    rules: async () => (await run('iptables', ['-S', CHAIN], { stdout: true })).output,
  };
}

export type Firewall = Awaited<ReturnType<typeof createFirewall>>;
