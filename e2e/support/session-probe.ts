import type { APIRequestContext } from '@playwright/test';

export type SessionAnswer = { instance: string; status: number; authenticated: boolean; username: string | null };

/**
 * Asks GET /api/session `times` times through the load balancer with the caller's cookies
 * (page.request shares the browser context's cookie jar); one answer per request, in order.
 */
export async function probeSession(request: APIRequestContext, times: number): Promise<SessionAnswer[]> {
  const answers: SessionAnswer[] = [];
  for (let i = 0; i < times; i += 1) {
    const res = await request.get('/api/session', { headers: { Accept: 'application/json' } });
    const body = res.ok() ? ((await res.json()) as { authenticated?: boolean; user?: { username: string } | null }) : {};
    answers.push({
      instance: res.headers()['x-instance-id'] ?? 'missing',
      status: res.status(),
      authenticated: body.authenticated === true,
      username: body.user?.username ?? null,
    });
  }
  return answers;
}

export const instancesOf = (answers: { instance: string }[]) => [...new Set(answers.map((answer) => answer.instance))].sort();
