import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deviceLabel, deviceLabelOf, MAX_DEVICE_LABEL } from '../../src/user-agent.ts';

describe('deviceLabel', () => {
  const cases: [string, string][] = [
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'Chrome on Linux'],
    [
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36',
      'Chrome on Linux',
    ],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0',
      'Edge on Windows',
    ],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0', 'Firefox on Windows'],
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1',
      'Safari on iPhone',
    ],
    [
      'Mozilla/5.0 (iPad; CPU OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1',
      'Safari on iPad',
    ],
    [
      'Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36',
      'Chrome on Android',
    ],
    [
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15',
      'Safari on macOS',
    ],
    ['curl/8.5.0', 'Unknown device'],
  ];
  for (const [userAgent, label] of cases)
    it(`${label} ‹ ${userAgent.slice(0, 40)}…`, () => assert.equal(deviceLabel(userAgent), label));

  it('no header, or a huge one, gives a short label: only the first 512 characters are read', () => {
    assert.equal(deviceLabel(undefined), 'Unknown device');
    assert.equal(deviceLabel(`${'x'.repeat(100_000)} Firefox/1`), 'Unknown device');
    assert.equal(deviceLabel(`${'x'.repeat(400)} Firefox/1`), 'Firefox on an unknown system');
  });

  it('every label, whatever the stored code, fits in MAX_DEVICE_LABEL', () => {
    for (const browser of '-0123456789x')
      for (const system of '-0123456789x') assert.ok(deviceLabelOf(browser + system).length <= MAX_DEVICE_LABEL);
  });
});
