/**
 * On the first SIGINT or SIGTERM: says so, runs `cleanUp` (stop what the tool started), exits 130.
 * The tool's own `finally` never runs after a signal, so this is where a signal's cleanup happens.
 */
export function onStopSignal(tool: string, cleanUp: () => Promise<unknown>) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`[${tool}] ${signal}: stopping`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
}
