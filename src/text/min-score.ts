// The one grammar for a minimum score, wherever a person types one: the
// `minScore` form field of POST /v1/batches, `lookout submit --min-score` and
// `lookout detect --min-score`. Plain decimal notation only, so that what is
// accepted is what a reader sees: "0.5", "0.50", ".5", "1", "0", "1." (with
// spaces around trimmed). Refused: hex ("0x1", which Number() reads as 1),
// binary and octal prefixes, exponents ("1e-1"), signs ("+0.5", "-0"),
// "Infinity", "NaN", digit separators ("0_5"), a decimal comma ("0,5") and
// digits outside ASCII. A blank value (absent, "", spaces, JSON null) means
// "the model's default", never 0. A JSON number is taken as it is (JSON's own
// grammar is already strict), held to the same range.

import { z } from 'zod';

/** Decimal notation, ASCII digits (at least one digit, at most one point), spaces around it; or blank. */
const DECIMAL_OR_BLANK = /^\s*(?:(?:\d+(?:\.\d*)?|\.\d+)\s*)?$/;

export const MIN_SCORE_MESSAGE = "minScore must be a decimal number from 0 to 1, such as 0.5 (blank: the model's default)";

/**
 * Parses a minimum score. Input: a string (form field, command-line option),
 * a number (JSON), null or absent. Output: a number in [0, 1], or undefined
 * when the value is absent or blank (the caller then uses the model's
 * default). Anything else is one zod issue with MIN_SCORE_MESSAGE.
 */
export const minScoreSchema = z
  .union(
    [
      z.number().min(0, { error: MIN_SCORE_MESSAGE }).max(1, { error: MIN_SCORE_MESSAGE }),
      z.string().regex(DECIMAL_OR_BLANK, { error: MIN_SCORE_MESSAGE }),
      z.null(),
    ],
    { error: MIN_SCORE_MESSAGE },
  )
  .optional()
  .transform((value, ctx): number | undefined => {
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'number') return value;
    const text = value.trim();
    if (text === '') return undefined;
    const n = Number(text);
    if (n > 1) {
      ctx.addIssue({ code: 'custom', message: MIN_SCORE_MESSAGE });
      return z.NEVER;
    }
    return n;
  })
  .describe("minimum score: a decimal from 0 to 1 (such as 0.5); blank or absent: the model's default");

/**
 * The same grammar for a command-line value, as a plain function.
 * @returns the score, or undefined for a blank value (the model's default)
 * @throws Error with MIN_SCORE_MESSAGE when the value is not a decimal from 0 to 1
 */
export function parseMinScore(value: string | number | null | undefined): number | undefined {
  const parsed = minScoreSchema.safeParse(value);
  if (!parsed.success) throw new Error(MIN_SCORE_MESSAGE);
  return parsed.data;
}

/**
 * A score in [0, 1] written in the grammar above, for sending on: String()
 * writes scores under 1e-6 with an exponent ("1e-7"), which the grammar
 * refuses, so those are written out in full ("0.0000001").
 */
export function formatMinScore(score: number): string {
  const text = String(score);
  const exponent = /^\d(?:\.(\d+))?e-(\d+)$/.exec(text);
  if (!exponent) return text;
  return score.toFixed(Math.min(100, Number(exponent[2]) + (exponent[1]?.length ?? 0)));
}
