// The batch and image status lists: the one definition the API, the
// repositories, the jobs, the CLI and the console share. No zod here, so the
// console can import the lists without bundling a schema library.

/** A batch's status, in its life's order. Migration 0001's CHECK constraint holds the same list (a test says so). */
export const BATCH_STATUSES = ['queued', 'running', 'completed', 'completed_with_errors', 'failed'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** The statuses a batch never leaves. */
export const TERMINAL_BATCH_STATUSES = ['completed', 'completed_with_errors', 'failed'] as const satisfies readonly BatchStatus[];
export type TerminalBatchStatus = (typeof TERMINAL_BATCH_STATUSES)[number];

export const isFinished = (status: BatchStatus): status is TerminalBatchStatus => (TERMINAL_BATCH_STATUSES as readonly BatchStatus[]).includes(status);

/** An image's status. */
export const IMAGE_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];
