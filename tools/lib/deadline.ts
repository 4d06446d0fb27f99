/**
 * `work`, or a rejection with `message` after `ms` (the timer is cleared either way). A loser of the race that
 * rejects later is not an unhandled rejection.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  work.catch(() => {
    // reported through the race below, or irrelevant once the deadline has won
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
