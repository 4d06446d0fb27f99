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
/** The longest label there is. */
export const MAX_DEVICE_LABEL = 32;

/**
 * Two characters naming the browser and the system (their places in the lists above, `-` for unknown): what the
 * session index stores per session, so an entry stays small (docs/architecture-and-contract.md, "Your sessions": memory per session).
 */
export function deviceCode(userAgent: string | undefined): string {
  const text = (userAgent ?? '').slice(0, MAX_INPUT);
  const place = (list: [RegExp, string][]) => {
    const found = list.findIndex(([pattern]) => pattern.test(text));
    return found === -1 ? '-' : String(found);
  };
  return place(BROWSERS) + place(SYSTEMS);
}

/** "Chrome on Linux", "Safari on iPhone", "Unknown browser on Windows", or "Unknown device", from a deviceCode(). */
export function deviceLabelOf(code: string): string {
  const browser = BROWSERS[Number(code[0])]?.[1];
  const system = SYSTEMS[Number(code[1])]?.[1];
  if (!browser && !system) return 'Unknown device';
  return `${browser ?? 'Unknown browser'} on ${system ?? 'an unknown system'}`.slice(0, MAX_DEVICE_LABEL);
}

export const deviceLabel = (userAgent: string | undefined) => deviceLabelOf(deviceCode(userAgent));
