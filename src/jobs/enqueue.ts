// The one door onto the queues. Every job Lookout puts on a queue (the
// producers in src/producers, and handlers that start follow-up work) comes
// through here: the payload is parsed with its job type's schema (a malformed
// one is refused before anything is enqueued), the type's default options are
// merged once, and the job id comes from the type's own rule (job-type.ts).
// Job schedulers (src/producers/schedules.ts) are upserted here too
// (schedule below): the same parse and the same merge, minus the job id,
// which BullMQ's scheduler makes.
import type { FlowChildJob, FlowJob, FlowProducer, Job, JobsOptions, Queue, RepeatOptions } from 'bullmq';
import type { z } from 'zod';
import { zodIssues } from '../text/zod-issues.js';
import type { JobType } from './job-type.js';

/** The queues of a process, by name (Services.queues). */
export type Queues = ReadonlyMap<string, Queue>;

/** What a producer may add to a job's defaults: anything but its id, which the job type's rule makes. */
export interface EnqueueOptions extends Omit<JobsOptions, 'jobId'> {
  /** Passed to the job type's id rule where the payload alone does not tell two jobs apart. */
  occasion?: string;
}

/** The payload does not match its job type's schema: nothing was enqueued. */
export class InvalidJobPayloadError extends Error {
  override name = 'InvalidJobPayloadError';
  constructor(
    readonly jobName: string,
    readonly issues: string,
  ) {
    super(issues);
  }
}

interface Prepared {
  data: unknown;
  opts: JobsOptions;
}

function parse<P extends z.ZodType>(type: JobType<P>, payload: z.input<P>): z.output<P> {
  const parsed = type.payload.safeParse(payload);
  if (!parsed.success) throw new InvalidJobPayloadError(type.name, zodIssues(parsed.error, 'payload'));
  return parsed.data;
}

function prepare<P extends z.ZodType>(type: JobType<P>, payload: z.input<P>, options: EnqueueOptions = {}): Prepared {
  const data = parse(type, payload);
  const { occasion, ...opts } = options;
  const jobId = type.jobId?.(data, occasion);
  return { data, opts: { ...type.defaultOptions, ...opts, ...(jobId !== undefined ? { jobId } : {}) } };
}

/**
 * The queue of `type` among `queues`.
 * @throws Error when `queues` has no queue for the type
 */
export function queueOf(queues: Queues, type: JobType): Queue {
  const queue = queues.get(type.queue);
  if (!queue) throw new Error(`no queue "${type.queue}" for job type "${type.name}"`);
  return queue;
}

/**
 * Puts one job of `type` on its queue.
 * @throws InvalidJobPayloadError when the payload does not parse (nothing enqueued)
 * @throws Error when `queues` has no queue for the type
 */
export async function enqueue<P extends z.ZodType>(queues: Queues, type: JobType<P>, payload: z.input<P>, options?: EnqueueOptions): Promise<Job> {
  const queue = queueOf(queues, type);
  const { data, opts } = prepare(type, payload, options);
  return queue.add(type.name, data, opts);
}

/**
 * Upserts the job scheduler `schedulerId` on the queue of `type`: its jobs
 * carry `payload`, parsed as enqueue parses it, and the type's default
 * options; their ids are BullMQ's (a scheduler names its jobs). Idempotent:
 * the same id and the same arguments change nothing.
 * @throws InvalidJobPayloadError when the payload does not parse (nothing upserted)
 * @throws Error when `queues` has no queue for the type
 */
export async function schedule<P extends z.ZodType>(
  queues: Queues,
  type: JobType<P>,
  schedulerId: string,
  repeat: Omit<RepeatOptions, 'key'>,
  payload: z.input<P>,
): Promise<void> {
  const queue = queueOf(queues, type);
  const data = parse(type, payload);
  await queue.upsertJobScheduler(schedulerId, repeat, { name: type.name, data, opts: { ...type.defaultOptions } });
}

/** One job of a flow and the jobs it waits for; made by flowStep. */
export interface FlowStep {
  readonly type: JobType;
  readonly prepared: Prepared;
  readonly children: readonly FlowStep[];
}

/**
 * One job of a flow, parsed and given its options and id as enqueue would.
 * @throws InvalidJobPayloadError when the payload does not parse
 */
export function flowStep<P extends z.ZodType>(type: JobType<P>, payload: z.input<P>, children: readonly FlowStep[] = [], options?: EnqueueOptions): FlowStep {
  return { type, prepared: prepare(type, payload, options), children };
}

function toFlowJob(step: FlowStep, prefix: string): FlowChildJob {
  return {
    name: step.type.name,
    queueName: step.type.queue,
    prefix,
    data: step.prepared.data,
    opts: step.prepared.opts,
    ...(step.children.length > 0 ? { children: step.children.map((c) => toFlowJob(c, prefix)) } : {}),
  };
}

/** Puts a flow (a parent and the children it waits for, made by flowStep) on its queues, atomically. */
export async function enqueueFlow(flows: FlowProducer, prefix: string, root: FlowStep): Promise<void> {
  const job: FlowJob = toFlowJob(root, prefix);
  await flows.add(job);
}
