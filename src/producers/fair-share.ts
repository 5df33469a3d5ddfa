// Scheduling on the detect queue, on BullMQ's own job priority (lower runs
// first; 1 .. 2,097,151; a job with priority 0 would run before all of them,
// so every detect job gets one).
//
// - Interactive lane: a batch of at most INTERACTIVE_MAX_IMAGES images gets
//   priority 1: its images start as soon as a worker slot frees.
// - Bulk lane: start-time fair queuing per API key. Each image gets a virtual
//   tag: a key's batch starts at max(V, F_key), where V is the tag of the bulk
//   image that runs next (the lowest waiting one) and F_key is where the key's
//   previous batch ended; its images take the next tags one by one. Images of
//   keys with work waiting therefore interleave one by one, a key's own
//   batches keep their order, and a key coming back after a pause starts at V
//   (no credit for time it was idle).
// - Priority = tag - base + FIRST_BULK. Tags only grow; when the next batch's
//   last priority would pass the range, base moves up to V (renumbering): every
//   waiting bulk job's priority drops by the same amount, in its prioritized
//   set entry and its job hash, and so do the stored priorities of active and
//   delayed (retrying) jobs, so a retry keeps its place. One Lua script does it
//   all, atomically with the allocation, so it is O(jobs waiting) once per
//   ~range images. Tags themselves (F_key) never change.
//
// The script reads and writes BullMQ's own keys (<prefix>:detect:prioritized,
// its score = priority * 2^32 + a FIFO counter, the job hash's `priority`
// field, :active, :delayed): checked against bullmq ~5.81
// (commands/includes/getPriorityScore.lua).
import type { FlowProducer, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { detectImage, detectImageJobId } from '../jobs/detect-image/definition.js';
import type { Lane } from '../wire/batches.js';

/** BullMQ's highest priority (PRIORITY_LIMIT in bullmq's job.ts). */
export const PRIORITY_LIMIT = 2 ** 21 - 1;
export const INTERACTIVE_PRIORITY = 1;
/** The first priority of the bulk lane: everything interactive runs first. */
export const FIRST_BULK = 2;

export function laneOf(images: number, interactiveMaxImages: number): Lane {
  return images <= interactiveMaxImages ? 'interactive' : 'bulk';
}

// KEYS[1] the fair-share hash, KEYS[2] the detect queue's prioritized zset,
// KEYS[3] its active list, KEYS[4] its delayed zset.
// ARGV: n images, the key's field, the highest priority, the job key prefix
// ("<prefix>:detect:"), mode ('submit' | 'requeue').
// Returns the first priority of the n (they are consecutive) and whether a
// renumbering happened.
const ALLOCATE = `
local fair, prioritized, active, delayed = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local n = tonumber(ARGV[1])
local field = ARGV[2]
local limit = tonumber(ARGV[3])
local jobPrefix = ARGV[4]
local mode = ARGV[5]
local FIRST = ${FIRST_BULK}
local SHIFT = 4294967296
local base = tonumber(redis.call('HGET', fair, 'base') or '0')
local vmax = tonumber(redis.call('HGET', fair, 'vmax') or '0')
local v = vmax
local lowest = redis.call('ZRANGEBYSCORE', prioritized, FIRST * SHIFT, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
if #lowest > 0 then v = math.floor(tonumber(lowest[2]) / SHIFT) - FIRST + base end
local fk = tonumber(redis.call('HGET', fair, field) or '0')
local start = v
if mode == 'submit' and fk > v then start = fk end
local finish = start + n
local renumbered = 0
if finish - 1 - base + FIRST > limit and v > base then
  local delta = v - base
  local function lower(p)
    local q = p - delta
    if q < FIRST then q = FIRST end
    return q
  end
  local entries = redis.call('ZRANGEBYSCORE', prioritized, FIRST * SHIFT, '+inf', 'WITHSCORES')
  for i = 1, #entries, 2 do
    local score = tonumber(entries[i + 1])
    local p = math.floor(score / SHIFT)
    local q = lower(p)
    redis.call('ZADD', prioritized, q * SHIFT + (score - p * SHIFT), entries[i])
    redis.call('HSET', jobPrefix .. entries[i], 'priority', q)
  end
  local others = redis.call('LRANGE', active, 0, -1)
  for _, id in ipairs(redis.call('ZRANGE', delayed, 0, -1)) do others[#others + 1] = id end
  for _, id in ipairs(others) do
    local p = tonumber(redis.call('HGET', jobPrefix .. id, 'priority') or '0')
    if p >= FIRST then redis.call('HSET', jobPrefix .. id, 'priority', lower(p)) end
  end
  base = v
  redis.call('HSET', fair, 'base', base)
  renumbered = 1
end
if finish > fk then redis.call('HSET', fair, field, finish) end
if finish > vmax then redis.call('HSET', fair, 'vmax', finish) end
return { start - base + FIRST, renumbered }
`;

export interface FairShareOptions {
  /** Highest priority handed out; BullMQ's limit unless a test wants renumbering to happen sooner. */
  priorityLimit?: number;
}

/** The detect-image priorities of one batch (or of a reconciler's re-enqueue). */
export interface Priorities {
  lane: Lane;
  /** Priority of the batch's i-th image. */
  of(i: number): number;
  renumbered: boolean;
}

/**
 * Hands out the priorities of `n` images of a batch of `fairKey` (the API key)
 * in `lane`. `requeue`: images the reconciler puts back: they start at the
 * front of the fair line (their first place has passed) and are not charged
 * to the key a second time.
 */
export async function allocatePriorities(
  flows: FlowProducer,
  prefix: string,
  request: { lane: Lane; fairKey: string; n: number; requeue?: boolean },
  options: FairShareOptions = {},
): Promise<Priorities> {
  if (request.lane === 'interactive' || request.n === 0) return { lane: request.lane, of: () => INTERACTIVE_PRIORITY, renumbered: false };
  const limit = options.priorityLimit ?? PRIORITY_LIMIT;
  // The flow producer's own connection (an ioredis client, QUEUE_FAIL_FAST): Redis away fails the submit as the flow would.
  const client = (await flows.client) as unknown as Redis;
  const q = `${prefix}:${detectImage.queue}`;
  const [first, renumbered] = (await client.eval(
    ALLOCATE,
    4,
    `${prefix}:fair-share:${detectImage.queue}`,
    `${q}:prioritized`,
    `${q}:active`,
    `${q}:delayed`,
    request.n,
    `key:${request.fairKey}`,
    limit,
    `${q}:`,
    request.requeue ? 'requeue' : 'submit',
  )) as [number, number];
  // A single key with more than the whole range waiting: its tail shares the last priority (FIFO among them).
  return { lane: 'bulk', of: (i) => Math.min(limit, first + i), renumbered: renumbered === 1 };
}

/**
 * A batch's position on the detect queue: how many jobs of other batches run
 * before its next waiting image. `imageIds`: some of its queued images (the
 * first few by position hold its lowest priority). Reads their scores in the
 * prioritized set (priority * 2^32 + FIFO counter), takes the lowest, and
 * counts the entries below it, plus the plain wait list (jobs without a
 * priority, which BullMQ takes first). Every job below the lowest is another
 * batch's. null when none of them waits (all running, retrying or gone).
 * Approximate: workers take jobs meanwhile, and a batch's images retried or
 * re-enqueued out of order are not all looked at. O(images looked at + log n).
 */
export async function imagesAhead(detect: Queue, imageIds: readonly string[]): Promise<number | null> {
  if (imageIds.length === 0) return null;
  // The queue's own connection (an ioredis client, QUEUE_FAIL_FAST): Redis away refuses at once.
  const client = (await detect.client) as unknown as Redis;
  const prioritized = detect.keys.prioritized!;
  const scores = await Promise.all(imageIds.map((id) => client.zscore(prioritized, detectImageJobId(id))));
  const present = scores.filter((s): s is string => s !== null).map(Number);
  if (present.length === 0) return null;
  const lowest = Math.min(...present);
  const [ahead, unprioritized] = await Promise.all([client.zcount(prioritized, '-inf', `(${lowest}`), client.llen(detect.keys.wait!)]);
  return ahead + unprioritized;
}
