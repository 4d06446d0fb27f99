import { check, observe, type Check } from './checks.ts';
import { settled } from './instance-scenarios.ts';
import { isFailure, type LoadLoop } from './load-loop.ts';

/** The load with no fault: nothing may fail. Its in-flight peak is the level the load must return to after a freeze. */
export async function baseline(loop: LoadLoop): Promise<{ checks: Check[]; figures: object }> {
  loop.mark('baseline');
  await observe(1_500);
  loop.mark('between');
  await settled(loop, 'baseline');
  const records = loop.phase('baseline');
  const failures = records.filter(isFailure).length;
  const p99 = records.map((record) => record.ms).sort((a, b) => a - b)[Math.floor(records.length * 0.99)] ?? 0;
  return {
    checks: [
      check(
        'Baseline (no fault)',
        'failed requests; p99',
        `${failures} of ${records.length}; ${p99.toFixed(1)} ms`,
        '0',
        failures === 0,
      ),
    ],
    figures: { requests: records.length, failures, p99Ms: p99, maxInFlight: loop.maxInFlight('baseline') },
  };
}
