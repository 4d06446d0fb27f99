import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWrkOutput } from './wrk.ts';

// wrk 4.1's report, as Debian's package prints it with --latency.
const report = `Running 5s test @ http://127.0.0.1:18480
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.71ms    2.10ms  41.23ms   92.51%
    Req/Sec     9.48k     1.02k   11.80k    70.00%
  Latency Distribution
     50%  850.00us
     75%    1.59ms
     90%    3.41ms
     99%    1.20s
  94321 requests in 5.00s, 25.01MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  18848.12
Transfer/sec:      5.00MB
`;

describe('parseWrkOutput', () => {
  it('reads percentiles in µs, ms and s as ms, the request count and requests/s', () => {
    const result = parseWrkOutput(report);
    assert.deepEqual({ p50: result.p50Ms, p90: result.p90Ms, p99: result.p99Ms }, { p50: 0.85, p90: 3.41, p99: 1200 });
    assert.equal(result.responses, 94321);
    assert.equal(result.rps, 18848.12);
  });

  it('counts non-2xx/3xx responses and socket errors as errors', () => {
    assert.equal(parseWrkOutput(report).errors, 12);
  });

  it('refuses a report without a request count rather than reading zeros', () => {
    assert.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n'), /unexpected wrk output/);
  });
});
