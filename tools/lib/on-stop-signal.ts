/**
 * On the first SIGINT or SIGTERM: says so, runs `cleanUp` (stop what the tool started), exits 130.
 * The tool's own `finally` never runs after a signal, so this is where a signal's cleanup happens.
 * With `giveUpAfterMs`, a tool still running then says so, cleans up the same way and exits 1: a bounded run.
 * Returns what cancels that bound, for a tool that goes on to other work once its bounded part is done.
 */
export function onStopSignal(
  tool: string,
  cleanUp: () => Promise<unknown>,
  { giveUpAfterMs }: { giveUpAfterMs?: number } = {},
): () => void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`[${tool}] ${signal}: stopping`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  if (giveUpAfterMs === undefined) return () => {};
  const watchdog = setTimeout(() => {
    console.error(`[${tool}] still running after ${giveUpAfterMs / 1000} s: giving up`);
    void cleanUp().finally(() => process.exit(1));
  }, giveUpAfterMs);
  watchdog.unref();
  return () => clearTimeout(watchdog);
}
