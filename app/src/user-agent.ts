// A device label for "Your sessions" from the User-Agent header: browser and OS, good enough to recognise a device,
// never trusted for anything else. No dependency: a short list of ordered patterns (the order matters: Edge and Opera
// say "Chrome" too, Chrome says "Safari", Android says "Linux", iPadOS may say "Macintosh").

const BROWSERS: [RegExp, string][] = [
  [/\bEdg(e|A|iOS)?\//, 'Edge'],
  [/\b(OPR|Opera)\//, 'Opera'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/(\b|Headless)Chrom(e|ium)\/|\bCriOS\//, 'Chrome'],
  [/\bSafari\//, 'Safari'],
];

const SYSTEMS: [RegExp, string][] = [
  [/\biPad\b/, 'iPad'],
  [/\biPhone\b/, 'iPhone'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

/** Input beyond this is ignored: a header is attacker-controlled, and the patterns need only its start. */
const MAX_INPUT = 512;
/** What is stored per session in the index, at most. */
export const MAX_DEVICE_LABEL = 32;

/** "Chrome on Linux", "Safari on iPhone", "Unknown browser on Windows", or "Unknown device". */
export function deviceLabel(userAgent: string | undefined): string {
  const text = (userAgent ?? '').slice(0, MAX_INPUT);
  const browser = BROWSERS.find(([pattern]) => pattern.test(text))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(text))?.[1];
  const label = browser || system ? `${browser ?? 'Unknown browser'} on ${system ?? 'an unknown system'}` : 'Unknown device';
  return label.slice(0, MAX_DEVICE_LABEL);
}
