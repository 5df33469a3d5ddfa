// Comparing row counts: the manifest's (counted by src/db/row-counts.ts in
// the dump's snapshot) against a restored copy's.

/** Differences between two sets of counts, as readable strings; empty when equal. */
export function compareCounts(expected: Record<string, number>, actual: Record<string, number>): string[] {
  const names = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  return names.filter((n) => expected[n] !== actual[n]).map((n) => `${n}: expected ${expected[n] ?? 'no table'}, found ${actual[n] ?? 'no table'}`);
}
