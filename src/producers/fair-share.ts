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
// - V never decreases (`vfloor`), and a retried job (attempts made) back in
//   the set with its old, low priority keeps its place but is not taken as V
//   (the first of the 16 lowest that is no retry is). With no bulk job
//   waiting, V is the end of the tags whose jobs are confirmed on the queue
//   (`vadded`, confirmAdded after the flow is added), not of every tag handed
//   out: two batches submitted at the same moment on an idle queue both start
//   at V and interleave, instead of the second queuing behind the first one's
//   tags while its flow is still being added.
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
-- A hash written before vfloor existed: its vmax (highest tag handed out) is the floor once; never below base.
local vfloor = tonumber(redis.call('HGET', fair, 'vfloor') or redis.call('HGET', fair, 'vmax') or '0')
if vfloor < base then vfloor = base end
local v = tonumber(redis.call('HGET', fair, 'vadded') or '0')
-- The lowest waiting bulk job that is not a retry (attempts made: it keeps its old, low place).
local lowest = redis.call('ZRANGEBYSCORE', prioritized, FIRST * SHIFT, '+inf', 'WITHSCORES', 'LIMIT', 0, 16)
for i = 1, #lowest, 2 do
  v = math.floor(tonumber(lowest[i + 1]) / SHIFT) - FIRST + base
  if tonumber(redis.call('HGET', jobPrefix .. lowest[i], 'atm') or '0') == 0 then break end
end
if v < vfloor then v = vfloor end
if v > vfloor then redis.call('HSET', fair, 'vfloor', v) end
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
return { start - base + FIRST, renumbered, finish }
`;

// KEYS[1] the fair-share hash; ARGV[1] the end of a batch's tags (one past
// its last), now that its jobs are on the queue: vadded = max(vadded, it).
const CONFIRM = `
local added = tonumber(redis.call('HGET', KEYS[1], 'vadded') or '0')
local tag = tonumber(ARGV[1])
if tag > added then redis.call('HSET', KEYS[1], 'vadded', tag) end
return 0
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
  /** Bulk: one past the batch's last tag, for confirmAdded once its jobs are on the queue. */
  tagEnd?: number;
}

type ScriptName = 'lookoutFairAllocate' | 'lookoutFairConfirm';
type ScriptClient = Redis & Record<ScriptName, (...args: Array<string | number>) => Promise<unknown>>;
const defined = new WeakSet<Redis>();

/**
 * The flow producer's own connection (an ioredis client, QUEUE_FAIL_FAST:
 * Redis away fails the submit as the flow would), with the two scripts
 * defined on it once: ioredis sends EVALSHA, and the script's text only when
 * Redis does not have it yet, instead of the whole script on every submit.
 */
async function scriptClient(flows: FlowProducer): Promise<ScriptClient> {
  const client = (await flows.client) as unknown as Redis;
  if (!defined.has(client)) {
    client.defineCommand('lookoutFairAllocate', { numberOfKeys: 4, lua: ALLOCATE });
    client.defineCommand('lookoutFairConfirm', { numberOfKeys: 1, lua: CONFIRM });
    defined.add(client);
  }
  return client as ScriptClient;
}

/**
 * Hands out the priorities of `n` images of a batch of `fairKey` (the API key)
 * in `lane`. `requeue`: images the reconciler puts back: they start at the
 * front of the fair line (V; their first place has passed), ahead of the
 * key's own waiting images; where the key's line ends before V + n, it moves
 * to V + n, so the key's next batch starts after them. Call confirmAdded once
 * the jobs are on the queue.
 */
export async function allocatePriorities(
  flows: FlowProducer,
  prefix: string,
  request: { lane: Lane; fairKey: string; n: number; requeue?: boolean },
  options: FairShareOptions = {},
): Promise<Priorities> {
  if (request.lane === 'interactive' || request.n === 0) return { lane: request.lane, of: () => INTERACTIVE_PRIORITY, renumbered: false };
  const limit = options.priorityLimit ?? PRIORITY_LIMIT;
  const client = await scriptClient(flows);
  const q = `${prefix}:${detectImage.queue}`;
  const [first, renumbered, tagEnd] = (await client.lookoutFairAllocate(
    `${prefix}:fair-share:${detectImage.queue}`,
    `${q}:prioritized`,
    `${q}:active`,
    `${q}:delayed`,
    request.n,
    `key:${request.fairKey}`,
    limit,
    `${q}:`,
    request.requeue ? 'requeue' : 'submit',
  )) as [number, number, number];
  // A single key with more than the whole range waiting: its tail shares the last priority (FIFO among them).
  return { lane: 'bulk', of: (i) => Math.min(limit, first + i), renumbered: renumbered === 1, tagEnd };
}

/**
 * Tells the fair share that a bulk batch's jobs (allocated by
 * allocatePriorities) are on the queue now: with no bulk job waiting, V is
 * the end of the tags confirmed so (not of those still being added, which
 * would put a batch submitted at the same moment behind them). Never throws:
 * a confirmation lost only lets V lag on an idle queue until the next one.
 */
export async function confirmAdded(flows: FlowProducer, prefix: string, priorities: Priorities): Promise<void> {
  if (priorities.lane !== 'bulk' || priorities.tagEnd === undefined) return;
  try {
    const client = await scriptClient(flows);
    await client.lookoutFairConfirm(`${prefix}:fair-share:${detectImage.queue}`, priorities.tagEnd);
  } catch {
    // see above
  }
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
  // One ZMSCORE (Redis 6.2+; BullMQ itself needs 6.2) for all of them, not one ZSCORE each.
  const scores = await client.zmscore(prioritized, ...imageIds.map((id) => detectImageJobId(id)));
  const present = scores.filter((s): s is string => s !== null).map(Number);
  if (present.length === 0) return null;
  const lowest = Math.min(...present);
  const [ahead, unprioritized] = await Promise.all([client.zcount(prioritized, '-inf', `(${lowest}`), client.llen(detect.keys.wait!)]);
  return ahead + unprioritized;
}
