// Every job type, registered once. Checked at boot: no job name twice, and
// every queue a process claims has handlers (Immich-style: refuse to start
// rather than leave jobs nobody runs).

import type { Job } from 'bullmq';
import type { z } from 'zod';
import type { JobHandler, JobType } from './job-type.js';
import { detectImage } from './detect-image/definition.js';
import { createDetectImageHandler, type DetectImageDeps } from './detect-image/handler.js';
import { finalizeBatch } from './finalize-batch/definition.js';
import { createFinalizeBatchHandler } from './finalize-batch/handler.js';

export type HandlerDeps = DetectImageDeps;

interface Registration {
  type: JobType<z.ZodType, z.ZodType>;
  createHandler: (deps: HandlerDeps) => JobHandler;
}

export const JOB_TYPES: readonly Registration[] = [
  { type: detectImage, createHandler: createDetectImageHandler },
  { type: finalizeBatch, createHandler: createFinalizeBatchHandler },
];

/** Every queue some job type lives on. */
export const KNOWN_QUEUES: readonly string[] = [...new Set(JOB_TYPES.map((r) => r.type.queue))];

export function checkRegistry(registrations: readonly Registration[] = JOB_TYPES): void {
  const seen = new Set<string>();
  for (const { type } of registrations) {
    if (seen.has(type.name)) throw new Error(`job type "${type.name}" is registered twice`);
    seen.add(type.name);
  }
}

/** One processor per claimed queue, dispatching on the job name. */
export function buildProcessors(
  queues: readonly string[],
  deps: HandlerDeps,
  registrations: readonly Registration[] = JOB_TYPES,
): Map<string, (job: Job) => Promise<unknown>> {
  checkRegistry(registrations);
  const processors = new Map<string, (job: Job) => Promise<unknown>>();
  for (const queue of queues) {
    const handlers = new Map(
      registrations.filter((r) => r.type.queue === queue).map((r) => [r.type.name, r.createHandler(deps)] as const),
    );
    if (handlers.size === 0) {
      throw new Error(`no job type runs on queue "${queue}"; known queues: ${KNOWN_QUEUES.join(', ')}`);
    }
    processors.set(queue, async (job) => {
      const handler = handlers.get(job.name);
      if (!handler) throw new Error(`Failed to find job handler for "${job.name}" on queue "${queue}"`);
      return handler(job);
    });
  }
  return processors;
}
