import { join } from 'node:path';
import { isHttpOk } from '../lib/http.ts';
import { createFifoOutput, localNginxLayout, nginxArgs, writeNginxConfDir } from '../lib/nginx.ts';
import { createSupervisedProcess } from './supervised-process.ts';
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
  // SIGQUIT: graceful, in-flight requests finish.
  const lifecycle = createSupervisedProcess({
    supervisor,
    name: 'nginx',
    readyTimeoutMs,
    stopSignal: 'SIGQUIT',
    stopTimeoutMs: 5_000,
  });

  async function start() {
    const confFile = writeNginxConfDir({ confDir: join(dir, 'conf'), ...localNginxLayout(appPorts, port) });
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
    stop: lifecycle.stop,
    status: () => ({ url, port, pid: lifecycle.pid(), state: lifecycle.state() }),
  };
}
