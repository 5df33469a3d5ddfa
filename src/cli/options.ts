// Parsers of option values shared by several commands: a bad value is a
// commander InvalidArgumentError, which prints the usage and exits 2.
import { InvalidArgumentError } from 'commander';
import { formatDevice, parseDevice } from '../detection/index.js';
import { ROLES, type Role } from '../db/repositories/api-keys.js';
import { KNOWN_QUEUES } from '../jobs/registry.js';
import { parseMinScore } from '../text/min-score.js';

export function parseQueues(value: string): string[] {
  const queues = [
    ...new Set(
      value
        .split(',')
        .map((q) => q.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = queues.filter((q) => !KNOWN_QUEUES.includes(q));
  if (queues.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(`unknown queue(s) ${unknown.join(', ')}; known: ${KNOWN_QUEUES.join(', ')}.`);
  }
  return queues;
}

/** Decimal digits only: Number() would also take 5e3, 0x10, 1.0, +5, " 5" and "". */
const DIGITS = /^\d+$/;

/** A count or port written in decimal digits, >= 1 ("5e3" and "0x10" are refused, not read as 5000 and 16). */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!DIGITS.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected an integer >= 1, in decimal digits.');
  return n;
}

/** As parsePositiveInt, 0 allowed. */
export function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!DIGITS.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected an integer >= 0, in decimal digits.');
  return n;
}

export function parseRole(value: string): Role {
  if (!(ROLES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${ROLES.join(', ')}.`);
  return value as Role;
}

/** --min-score: the grammar of every minScore (src/text/min-score.ts); blank means the model's default. */
export function minScoreOption(value: string): number | undefined {
  try {
    return parseMinScore(value);
  } catch {
    throw new InvalidArgumentError("expected a decimal number from 0 to 1, such as 0.5 (blank: the model's default).");
  }
}

/** --device: cpu or cuda:N, written back in its canonical form. */
export function parseDeviceOption(value: string): string {
  try {
    return formatDevice(parseDevice(value));
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}
