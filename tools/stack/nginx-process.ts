import { join } from 'node:path';
import type { Child } from '../lib/child.ts';
import { isHttpOk } from '../lib/http.ts';
import { waitFor } from '../lib/poll.ts';
import { createFifoOutput, localNginxLayout, nginxArgs, writeNginxConfDir } from '../lib/nginx.ts';
import type { State } from './state.ts';
import type { Supervisor } from './supervisor.ts';

type NginxOptions = {
  supervisor: Supervisor;
  nginx: string;
  port: number;
  /** Its prefix: config set, temp dirs, pid file, the stdout FIFO. */
  dir: string;
  appPorts: number[];
  readyTimeoutMs: number;
};

/** nginx with the shipped config and an upstream listing the instances. */
export function createNginxProcess({ supervisor, nginx, port, dir, appPorts, readyTimeoutMs }: NginxOptions) {
  const url = `http://127.0.0.1:${port}`;
  let child: Child | undefined;
  let state: State = 'stopped';

  async function start() {
    const confFile = writeNginxConfDir({ confDir: join(dir, 'conf'), ...localNginxLayout(appPorts, port) });
    state = 'starting';
    const stdout = supervisor.writesOutputDirectly ? undefined : createFifoOutput(join(dir, 'stdout.fifo'));
    const started = supervisor.supervise('nginx', nginx, nginxArgs({ prefix: dir, confFile }), {
      ...(stdout ? { stdout } : {}),
      onExit: () => (state = 'crashed'),
    });
    child = started;
    await started.spawned.finally(() => stdout?.closeWriteEnd());
    await waitFor('nginx', () => isHttpOk(`${url}/readyz`), {
      timeoutMs: readyTimeoutMs,
      failIf: supervisor.exitReason(started),
    });
    state = 'ready';
  }

  async function stop() {
    if (!child?.isRunning()) return;
    state = 'stopping';
    // SIGQUIT: graceful, in-flight requests finish.
    await child.stop('SIGQUIT', 5_000);
    state = 'stopped';
  }

  return {
    url,
    start,
    stop,
    status: () => ({ url, port, pid: child?.isRunning() ? child.pid : undefined, state }),
  };
}
