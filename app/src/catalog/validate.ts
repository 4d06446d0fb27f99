import { z } from 'zod';
import { HttpError } from '../errors.ts';

const MAX_ID = 2 ** 31 - 1; // PostgreSQL integer

/** A product id from the path: digits only, 1 … 2^31-1; anything else is a 400, never a database error. */
export function parseProductId(raw: string | undefined): number {
  const id = /^[1-9]\d{0,9}$/.test(raw ?? '') ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id) || id > MAX_ID) throw new HttpError(400, 'A product id is a whole number from 1 upward.');
  return id;
}

export function parsePageNumber(raw: unknown): number {
  if (raw === undefined) return 1;
  const page = typeof raw === 'string' && /^[1-9]\d{0,3}$/.test(raw) ? Number(raw) : NaN;
  if (Number.isNaN(page)) throw new HttpError(400, 'The page is a whole number from 1 to 9999.');
  return page;
}

const edit = z.object({
  name: z
    .string({ error: 'A name is required.' })
    .trim()
    .min(1, 'A name is required.')
    .max(100, 'A name has at most 100 characters.')
    .refine((name) => !/\p{Cc}/u.test(name), 'A name cannot contain control characters.')
    // Format characters (zero-width spaces, bidirectional overrides that show "exe.png" as "gnp.exe"), line and
    // paragraph separators, private-use, unassigned and lone surrogate code points: a name must show what it says.
    .refine(
      (name) => !/[\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}]/u.test(name),
      'A name cannot contain invisible or direction-changing characters.',
    ),
  price: z
    .string({ error: 'A price is required.' })
    .trim()
    .regex(/^\d{1,7}(\.\d{1,2})?$/, 'A price is a number with at most two decimals, like 12.50.')
    .refine((price) => Number(price) > 0 && Number(price) < 10_000_000, 'A price is more than 0 and less than 10,000,000.'),
});

export type ProductEdit = z.infer<typeof edit>;

/** The edit form's fields, or a 400 that names every problem. */
export function parseProductEdit(body: unknown): ProductEdit {
  const parsed = edit.safeParse(body ?? {});
  if (!parsed.success) throw new HttpError(400, parsed.error.issues.map((issue) => issue.message).join(' '));
  return parsed.data;
}
