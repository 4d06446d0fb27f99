import { Worker } from 'node:worker_threads';

export type LoadSpec = {
  url: string;
  method: 'GET' | 'POST';
  path: string;
  connections: number;
  durationS: number;
  /** Requests per second over all connections; unset = as fast as the server answers (saturation). */
  overallRate?: number;
  /** Cycled through request by request: headers (cookies) and form bodies of the users. */
  variants: { headers?: Record<string, string>; body?: string; path?: string }[];
};

export type LoadResult = {
  responses: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  statuses: Record<string, number>;
  /** Responses other than 2xx/3xx, plus socket errors and timeouts. */
  errors: number;
  socketErrors: number;
  timeouts: number;
  /** The first socket errors: ms since the run started, and the message. */
  errorSamples: { atMs: number; message: string }[];
};

/** Runs autocannon in a worker thread; resolves when the (time-bounded) run is over. */
export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./load-worker.ts', import.meta.url), { workerData: spec });
    // Backstop: autocannon stops itself after durationS; a worker that outlives that by far is stuck.
    const timer = setTimeout(() => void worker.terminate(), (spec.durationS + 30) * 1000);
    worker.once('message', (result: LoadResult) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`load worker exited (${code}) without a result`));
    });
  });
}
