import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isHttpOk } from '../lib/http.ts';
import { poll } from '../lib/poll.ts';
import { createFifoOutput, localNginxLayout, nginxArgs, writeNginxConfDir } from '../lib/nginx.ts';
import { createSupervisedProcess } from './supervised-process.ts';
import type { Supervisor } from './supervisor.ts';

/** Old workers finish their requests (15 s at most: proxy_read_timeout) and exit; most do in milliseconds. */
const DRAIN_TIMEOUT_MS = 15_000;

type NginxOptions = {
  supervisor: Supervisor;
  nginx: string;
  port: number;
  /** Its prefix: config set, temp dirs, pid file, the stdout FIFO. */
  dir: string;
  appPorts: number[];
  readyTimeoutMs: number;
  log: (message: string) => void;
};

/** nginx with the shipped config and an upstream listing the instances. */
export function createNginxProcess({ supervisor, nginx, port, dir, appPorts, readyTimeoutMs, log }: NginxOptions) {
  const url = `http://127.0.0.1:${port}`;
  // SIGQUIT: graceful, in-flight requests finish.
  const lifecycle = createSupervisedProcess({
    supervisor,
    name: 'nginx',
    readyTimeoutMs,
    stopSignal: 'SIGQUIT',
    stopTimeoutMs: 5_000,
  });

  /** Instances out of rotation (drain), by port. */
  const down = new Set<number>();
  const writeConf = () => writeNginxConfDir({ confDir: join(dir, 'conf'), ...localNginxLayout(appPorts, port, down) });

  /** The worker processes of the master now (Linux: the children the kernel lists for its main thread). */
  const workers = (master: number) =>
    readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  /**
   * The new upstream list into service: SIGHUP, and nginx starts workers on it; the old workers finish the requests
   * they hold, close their idle connections and exit. → whether every old worker exited within the bound.
   */
  async function reload(): Promise<boolean> {
    writeConf();
    const master = lifecycle.pid();
    if (master === undefined) return true;
    const old = workers(master);
    process.kill(master, 'SIGHUP');
    return (await poll(async () => !old.some(alive), { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 20 })) !== undefined;
  }

  async function start() {
    const confFile = writeConf();
    const stdout = supervisor.writesOutputDirectly ? undefined : createFifoOutput(join(dir, 'stdout.fifo'));
    await lifecycle.start({
      command: nginx,
      args: nginxArgs({ prefix: dir, confFile }),
      ...(stdout ? { stdout } : {}),
      ready: () => isHttpOk(`${url}/readyz`),
    });
  }

  return {
    url,
    start,
    /**
     * Takes the instance on `appPort` out of rotation before a planned stop: `down` on its upstream line, and a
     * reload. Resolved once the workers that held connections to it have exited, so nginx, not the app, closed every
     * keep-alive connection to it: the app closing an idle one at its shutdown can cross a request nginx has just sent
     * on it, which nginx does not retry when it is a POST (answered 503 here: one preference write of ~600 in a
     * rotation's four restarts).
     */
    async drain(appPort: number) {
      down.add(appPort);
      if (!(await reload())) log(`nginx: old workers still finishing after ${DRAIN_TIMEOUT_MS} ms; stopping ${appPort} anyway`);
    },
    /** The instance on `appPort` back in rotation. */
    async undrain(appPort: number) {
      if (down.delete(appPort)) await reload();
    },
    stop: lifecycle.stop,
    status: () => ({ url, port, pid: lifecycle.pid(), state: lifecycle.state() }),
  };
}
