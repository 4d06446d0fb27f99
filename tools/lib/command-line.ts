import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/** Parses `--name value` options (strict: an unknown option is an error); `integer()` reads one as a whole number. */
export function parseCommandLine<const T extends ParseArgsOptionsConfig>(options: T, args = process.argv.slice(2)) {
  const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
  const integer = (name: keyof typeof values & string, min = 1) => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < min)
      throw new Error(`--${name}: expected an integer >= ${min}, got "${values[name]}"`);
    return value;
  };
  return { values, integer };
}
