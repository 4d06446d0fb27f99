/** A check passed, failed with its problems, or could not run here and says why (`skipped`: printed, never silent). */
export type CheckResult = { ok: true; skipped?: string } | { ok: false; problems: string[] };

export const resultOf = (problems: string[]): CheckResult => (problems.length === 0 ? { ok: true } : { ok: false, problems });
