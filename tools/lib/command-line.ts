import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/**
 * Parses a tool's `--name value` options. `--help` (or `-h`) prints `usage` and exits 0; an unknown option, a
 * missing value or a stray argument prints one line naming it, then the usage, and exits 2 (no stack trace).
 * `integer()` reads an option as a whole number the same way, `choice()` as one of a list. With `positionals`, plain
 * arguments are allowed and returned (`positionals`); the tool checks how many it got.
 */
export function parseCommandLine<const T extends ParseArgsOptionsConfig>(
  { command, usage, positionals: allowPositionals = false }: { command: string; usage: string; positionals?: boolean },
  options: T,
  args = process.argv.slice(2),
) {
  const refuse = (problem: string): never => {
    process.stderr.write(`${command}: ${problem}\n\n${usage.trim()}\n`);
    process.exit(2);
  };
  type Values = ReturnType<typeof parseArgs<{ options: T; strict: true; allowPositionals: false }>>['values'];
  let parsed: Values & { help?: boolean };
  let positionals: string[] = [];
  try {
    const result = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals,
    });
    parsed = result.values as Values & { help?: boolean };
    positionals = result.positionals;
  } catch (err) {
    const { code, message } = err as { code?: string; message: string };
    if (!code?.startsWith('ERR_PARSE_ARGS_')) throw err;
    const unknown = code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && /'([^']+)'/.exec(message)?.[1];
    return refuse(unknown ? `unknown option ${unknown}` : (message.split('. ')[0] ?? message));
  }
  const { help, ...rest } = parsed;
  const values = rest as Values;
  if (help) {
    process.stdout.write(`${usage.trim()}\n`);
    process.exit(0);
  }
  const integer = (name: keyof typeof values & string, min = 1) => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < min) refuse(`--${name}: expected an integer >= ${min}, got "${values[name]}"`);
    return value;
  };
  const choice = <const C extends string>(name: keyof typeof values & string, choices: readonly C[]): C => {
    const value = String(values[name]);
    if (!(choices as readonly string[]).includes(value)) refuse(`--${name}: expected ${choices.join(' or ')}, got "${value}"`);
    return value as C;
  };
  return { values, integer, choice, positionals, refuse };
}
