// Small text helpers for people: byte sizes and counted words. Pure (no Node
// APIs): the CLI and the web console both use them.

/** 1536 → "1.5 KiB" */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** (1, 'image') → "1 image"; (2, 'batch', 'batches') → "2 batches" */
export const plural = (n: number, word: string, words = `${word}s`): string => `${n} ${n === 1 ? word : words}`;
