import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A `print` for tools that boot a stack of their own (bench, chaos): every line goes to `<runDir>/stack.log`,
 * only the runner's own `[stack]` lines to the console.
 */
export function printToStackLog(runDir: string) {
  mkdirSync(runDir, { recursive: true });
  const logFile = createWriteStream(join(runDir, 'stack.log'));
  return (line: string) => {
    logFile.write(`${line}\n`);
    if (line.startsWith('[stack]')) console.log(line);
  };
}
