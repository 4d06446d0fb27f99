import { parseCommandLine } from '../lib/command-line.ts';
import { composeDown, composeUp } from './compose-stack.ts';

const usage = `
npm run compose:up [-- --profile cluster]   docker compose up --detach --build --wait, after preparing what this
                                            machine lacks (Docker engine, Compose v2, images or their stand-ins)
npm run compose:down                        docker compose down --volumes, every profile; stops a Docker engine
                                            only if compose:up started it
`;

const [action, ...rest] = process.argv.slice(2);
const { values } = parseCommandLine(
  { command: `compose ${action ?? ''}`.trim(), usage },
  { profile: { type: 'string', multiple: true } },
  rest,
);
const say = (line: string) => console.log(`[compose] ${line}`);

try {
  if (action === 'up') await composeUp({ profiles: values.profile ?? [], say });
  else if (action === 'down') await composeDown({ say });
  else {
    process.stderr.write(`compose: expected up or down\n${usage}`);
    process.exit(2);
  }
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
