import { send } from '../lib/http.ts';
import { waitFor } from '../lib/poll.ts';
import type { LoggedInUser } from '../lib/session-client.ts';

// Records every preference write (POST /preferences) a row was answered, and checks afterwards that each one answered
// 303 is what the user's home page shows. One write per user per round, each the other theme than the one shown
// before it: the last acknowledged write is then the only possible outcome (a 503 leaves it open, and is not checked:
// the primary may have taken it or not). Each check starts a new round from what the pages show.

type Theme = 'light' | 'dark';

/** The theme the home page shows this user (retried while it is a 503). */
async function shownTheme(baseUrl: string, user: LoggedInUser): Promise<Theme | undefined> {
  const page = await waitFor(
    `${user.username}'s home page`,
    async () => {
      const reply = await send(`${baseUrl}/`, { cookie: user.cookie });
      return reply.status === 503 ? undefined : reply;
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  return /class="theme-(light|dark)"/.exec(page.body)?.[1] as Theme | undefined;
}

export function createPreferenceChecker(users: LoggedInUser[]) {
  const shown = new Map<string, Theme>(users.map((user) => [user.username, 'light']));
  let round: { username: string; theme: Theme; status: number; instance?: string }[] = [];

  return {
    /**
     * The next user without a write this round switches theme through `baseUrl` (nginx, or one instance): its
     * status, or undefined when every user has written this round.
     */
    async write(baseUrl: string): Promise<number | undefined> {
      const user = users.find((candidate) => !round.some((write) => write.username === candidate.username));
      if (!user) return undefined;
      const theme: Theme = shown.get(user.username) === 'dark' ? 'light' : 'dark';
      const reply = await send(`${baseUrl}/preferences`, {
        method: 'POST',
        cookie: user.cookie,
        form: { theme, _csrf: user.csrfToken },
      });
      const instance = reply.headers['x-instance-id'];
      round.push({ username: user.username, theme, status: reply.status, ...(typeof instance === 'string' ? { instance } : {}) });
      return reply.status;
    },
    /** This round's writes answered 303 whose theme the home page no longer shows; the next round starts. */
    async lost(baseUrl: string) {
      const written = round;
      round = [];
      const lost: string[] = [];
      for (const write of written) {
        const user = users.find((candidate) => candidate.username === write.username)!;
        const now = await shownTheme(baseUrl, user);
        if (now) shown.set(user.username, now);
        if (write.status === 303 && now !== write.theme)
          lost.push(`${write.username}: ${write.theme} acknowledged, ${now} shown`);
      }
      return { written, lost };
    },
  };
}

export type PreferenceChecker = ReturnType<typeof createPreferenceChecker>;

/** "303 ×3, 503 ×5" */
export const preferenceStatuses = (written: { status: number }[]) => {
  const counts = new Map<number, number>();
  for (const { status } of written) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${status} ×${n}`).join(', ') || 'none';
};
