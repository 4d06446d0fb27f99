import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from '../lib/poll.ts';
import { shippedFiles } from '../lib/paths.ts';
import type { RedisProcess } from './redis-process.ts';
import { StackRequestError } from './state.ts';

type Operations = {
  nodes: RedisProcess[];
  sentinels: RedisProcess[];
  /** The node that is primary now, as the Sentinels name it. */
  primary: () => Promise<RedisProcess>;
  /** Every Sentinel knows the others and every replica, and every replica is in sync with the primary. */
  groupReady: () => Promise<boolean>;
  caFile: string;
  adminPasswordFile: string;
  readyTimeoutMs: number;
};

/** The shipped script's own bounds (its polls) are a few seconds; this one only guards against a hang. */
const SWITCHOVER_TIMEOUT_MS = 30_000;

/**
 * The zero-downtime operations on a Sentinel group, as an operator runs them in production: a planned switchover by
 * the shipped infra/redis/switchover.sh (the same script, run against the first Sentinel), and a rolling restart of
 * every process: each replica, each Sentinel, then a switchover, then the old primary, each waited back into the group.
 */
export function createRedisOperations(options: Operations) {
  const { nodes, sentinels, primary, groupReady, caFile, adminPasswordFile, readyTimeoutMs } = options;
  const waitForGroup = (what: string) => waitFor(what, groupReady, { timeoutMs: readyTimeoutMs, intervalMs: 50 });

  async function switchover() {
    const from = await primary();
    await waitForGroup('the Sentinel group before the switchover');
    const started = performance.now();
    const { stdout } = await promisify(execFile)('sh', [shippedFiles.switchover, '127.0.0.1', String(sentinels[0]!.port)], {
      env: { PATH: process.env.PATH, REDIS_CA_FILE: caFile, REDIS_ADMIN_PASSWORD_FILE: adminPasswordFile },
      timeout: SWITCHOVER_TIMEOUT_MS,
    }).catch((err: Error & { stderr?: string }) => {
      throw new StackRequestError(500, `switchover.sh: ${err.stderr?.trim() || err.message}`);
    });
    const ms = Math.round(performance.now() - started);
    const to = await primary();
    await waitForGroup('the Sentinel group after the switchover');
    return { from: from.name, to: to.name, ms, script: stdout.trim() };
  }

  async function restart(process: RedisProcess) {
    const started = performance.now();
    await process.stop();
    await process.start();
    await waitForGroup(`${process.name} back in the Sentinel group`);
    return { name: process.name, ms: Math.round(performance.now() - started) };
  }

  async function rollingRestart() {
    const started = performance.now();
    const first = await primary();
    const restarted = [];
    for (const node of nodes.filter((node) => node !== first)) restarted.push(await restart(node));
    for (const sentinel of sentinels) restarted.push(await restart(sentinel));
    const switched = await switchover();
    restarted.push(await restart(first));
    return { restarted, switchover: switched, ms: Math.round(performance.now() - started) };
  }

  /**
   * Each Sentinel restarted and waited back into the group, one at a time: a Sentinel has no CONFIG SET (Redis 7.0.15:
   * `unknown command 'CONFIG'`, and SENTINEL CONFIG SET knows no tls-*), so it loads new TLS files only at a start.
   */
  async function restartSentinels() {
    const started = performance.now();
    const restarted = [];
    for (const sentinel of sentinels) restarted.push(await restart(sentinel));
    return { restarted, ms: Math.round(performance.now() - started) };
  }

  return { switchover, rollingRestart, restartSentinels };
}

/** For the single and cluster topologies: what only a Sentinel group does, refused (409) with the option that has it. */
export const noSentinelOperations = () => {
  const refuse = (): never => {
    throw new StackRequestError(409, 'only a Sentinel group has a switchover (npm start -- --redis sentinel)');
  };
  return { switchover: refuse, rollingRestart: refuse, restartSentinels: refuse };
};
