// A restore refused before it changed anything, with the reason in words.

/** Thrown when a restore is refused (a bad name, a live target without --replace-live, unfinished batches, a foreign audit trail); nothing was changed. */
export class RestoreRefusedError extends Error {
  override name = 'RestoreRefusedError';
}
