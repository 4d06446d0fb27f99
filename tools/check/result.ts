export type CheckResult = { ok: true } | { ok: false; problems: string[] };

export const resultOf = (problems: string[]): CheckResult => (problems.length === 0 ? { ok: true } : { ok: false, problems });
