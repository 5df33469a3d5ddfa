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
// - Priority = tag - base + FIRST_BULK. Tags only grow; renumbering moves
//   base up to V: every bulk job's priority drops by the same amount, in its
//   prioritized set entry and its job hash, and so do the stored priorities
//   of active, delayed (retrying), failed, waiting and paused jobs, so a
//   retry or a restore (restore-priorities.ts) keeps its place. It happens
//   ahead of need (V half the range above base) or when a batch would pass
//   the range and it makes the batch fit or gains a quarter of the range, so
//   a key far ahead of everyone does not renumber on each submit; and never
//   while an allocation is in flight (handed out, its jobs not yet added:
//   they would arrive counted from the old base), until confirmAdded or
//   releasePriorities ends it or it is 5 minutes old. One Lua script does it
//   all, atomically with the allocation: O(jobs) about once per million
//   images. Tags themselves (F_key) never change.
// - The interactive lane is charged to the key in submit-batch.ts (at most
//   INTERACTIVE_MAX_IMAGES of a key's images in it at a time).
//
// The script reads and writes BullMQ's own keys (<prefix>:detect:prioritized,
// its score = priority * 2^32 + a FIFO counter, the job hash's `priority`
// field, :active, :delayed): checked against bullmq ~5.81
// (commands/includes/getPriorityScore.lua).
import { randomUUID } from 'node:crypto';
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
// KEYS[3] its active list, KEYS[4] its delayed zset, KEYS[5] its wait list,
// KEYS[6] its paused list, KEYS[7] its failed zset, KEYS[8] the allocations
// in flight (zset: token -> ms handed out).
// ARGV: n images, the key's field, the highest priority, the job key prefix
// ("<prefix>:detect:"), mode ('submit' | 'requeue'), this allocation's token,
// how long (ms) an allocation counts as in flight at most.
// Returns the first priority of the n (they are consecutive), whether a
// renumbering happened, the batch's first tag and one past its last.
const ALLOCATE = `
local fair, prioritized = KEYS[1], KEYS[2]
local n = tonumber(ARGV[1])
local field = ARGV[2]
local limit = tonumber(ARGV[3])
local jobPrefix = ARGV[4]
local mode = ARGV[5]
local inflight = KEYS[8]
local FIRST = ${FIRST_BULK}
local SHIFT = 4294967296
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
-- Allocations whose jobs never arrived (a submitter that died) stop counting after ARGV[7] ms.
redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now - tonumber(ARGV[7]))
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
-- Renumbering (base moves up to V) happens only while no other allocation is in flight: a batch
-- whose priorities were counted from the old base and whose jobs arrive after it would land
-- behind everything. It happens ahead of need, once V is half the range above base, or when
-- this batch would pass the range and renumbering makes it fit or gains at least a quarter of
-- the range: a key far ahead of everyone (more than the range waiting) does not renumber on
-- each of its submits; its tail shares the last priority until V has moved on.
local over = finish - 1 - base + FIRST - limit
local gain = v - base
local wanted = gain >= math.floor(limit / 2) or (over > 0 and (gain >= over or gain >= math.floor(limit / 4)))
if gain > 0 and wanted and redis.call('ZCARD', inflight) == 0 then
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
  -- Jobs not in the set keep a stored priority that a retry or a restore puts them back with.
  local others = redis.call('LRANGE', KEYS[3], 0, -1)
  for _, list in ipairs({ KEYS[5], KEYS[6] }) do
    for _, id in ipairs(redis.call('LRANGE', list, 0, -1)) do others[#others + 1] = id end
  end
  for _, set in ipairs({ KEYS[4], KEYS[7] }) do
    for _, id in ipairs(redis.call('ZRANGE', set, 0, -1)) do others[#others + 1] = id end
  end
  for _, id in ipairs(others) do
    local p = tonumber(redis.call('HGET', jobPrefix .. id, 'priority') or '0')
    if p >= FIRST then redis.call('HSET', jobPrefix .. id, 'priority', lower(p)) end
  end
  base = v
  redis.call('HSET', fair, 'base', base)
  renumbered = 1
end
if finish > fk then redis.call('HSET', fair, field, finish) end
redis.call('ZADD', inflight, now, ARGV[6])
return { start - base + FIRST, renumbered, start, finish }
`;

// KEYS[1] the fair-share hash, KEYS[2] the allocations in flight; ARGV[1]
// the end of a batch's tags (one past its last), now that its jobs are on the
// queue: vadded = max(vadded, it); ARGV[2] its token, no longer in flight.
const CONFIRM = `
local added = tonumber(redis.call('HGET', KEYS[1], 'vadded') or '0')
local tag = tonumber(ARGV[1])
if tag > added then redis.call('HSET', KEYS[1], 'vadded', tag) end
redis.call('ZREM', KEYS[2], ARGV[2])
return 0
`;

// A submit refused after its allocation: give the key its tags back when
// nothing of the key was allocated after them, and end the allocation.
// KEYS[1] the fair-share hash, KEYS[2] the allocations in flight; ARGV the
// key's field, the batch's first tag, one past its last, its token.
const RELEASE = `
local fk = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if fk == tonumber(ARGV[3]) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('ZREM', KEYS[2], ARGV[4])
return 0
`;

export interface FairShareOptions {
  /** Highest priority handed out; BullMQ's limit unless a test wants renumbering to happen sooner. */
  priorityLimit?: number;
  /** How long (ms) an allocation whose jobs have not arrived holds renumbering off at most (a submitter that died); 5 minutes. */
  inflightMs?: number;
}

/** A bulk allocation: the key's tags [tagStart, tagEnd) and the token it is in flight under until confirmAdded or releasePriorities. */
export interface Allocation {
  fairKey: string;
  tagStart: number;
  tagEnd: number;
  token: string;
}

/** The detect-image priorities of one batch (or of a reconciler's re-enqueue). */
export interface Priorities {
  lane: Lane;
  /** Priority of the batch's i-th image. */
  of(i: number): number;
  renumbered: boolean;
  /** Bulk only: for confirmAdded once its jobs are on the queue, or releasePriorities when they never will be. */
  allocation?: Allocation;
}

type ScriptName = 'lookoutFairAllocate' | 'lookoutFairConfirm' | 'lookoutFairRelease';
type ScriptClient = Redis & Record<ScriptName, (...args: Array<string | number>) => Promise<unknown>>;
const defined = new WeakSet<Redis>();

/**
 * The flow producer's own connection (an ioredis client, QUEUE_FAIL_FAST:
 * Redis away fails the submit as the flow would), with the scripts defined on
 * it once: ioredis sends EVALSHA, and the script's text only when Redis does
 * not have it yet, instead of the whole script on every submit.
 */
async function scriptClient(flows: FlowProducer): Promise<ScriptClient> {
  const client = (await flows.client) as unknown as Redis;
  if (!defined.has(client)) {
    client.defineCommand('lookoutFairAllocate', { numberOfKeys: 8, lua: ALLOCATE });
    client.defineCommand('lookoutFairConfirm', { numberOfKeys: 2, lua: CONFIRM });
    client.defineCommand('lookoutFairRelease', { numberOfKeys: 2, lua: RELEASE });
    defined.add(client);
  }
  return client as ScriptClient;
}

const fairHash = (prefix: string) => `${prefix}:fair-share:${detectImage.queue}`;
const inflightKey = (prefix: string) => `${prefix}:fair-share:${detectImage.queue}:inflight`;

/**
 * Hands out the priorities of `n` images of a batch of `fairKey` (the API key)
 * in `lane`. `requeue`: images the reconciler puts back: they start at the
 * front of the fair line (V; their first place has passed), ahead of the
 * key's own waiting images; where the key's line ends before V + n, it moves
 * to V + n, so the key's next batch starts after them (the reconciler asks
 * once per key for all of its lost images, so a key with several lost
 * batches gets one share, not one per batch). A bulk allocation is in flight
 * until confirmAdded (its jobs are on the queue) or releasePriorities (they
 * never will be); renumbering waits while any is.
 * @throws what ioredis throws when Redis is away
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
  const token = randomUUID();
  const [first, renumbered, tagStart, tagEnd] = (await client.lookoutFairAllocate(
    fairHash(prefix),
    `${q}:prioritized`,
    `${q}:active`,
    `${q}:delayed`,
    `${q}:wait`,
    `${q}:paused`,
    `${q}:failed`,
    inflightKey(prefix),
    request.n,
    `key:${request.fairKey}`,
    limit,
    `${q}:`,
    request.requeue ? 'requeue' : 'submit',
    token,
    options.inflightMs ?? 300_000,
  )) as [number, number, number, number];
  return {
    lane: 'bulk',
    // A single key with more than the whole range waiting: its tail shares the last priority (FIFO among them).
    of: (i) => Math.min(limit, first + i),
    renumbered: renumbered === 1,
    allocation: { fairKey: request.fairKey, tagStart, tagEnd, token },
  };
}

/** The priorities of images from..: one allocation shared by several flows (the reconciler's lost batches of one key). */
export function slicePriorities(priorities: Priorities, from: number): Priorities {
  const { allocation: _shared, ...rest } = priorities;
  return { ...rest, of: (i) => priorities.of(from + i) };
}

/**
 * Tells the fair share that a bulk batch's jobs (allocated by
 * allocatePriorities) are on the queue now: the allocation is no longer in
 * flight, and with no bulk job waiting, V is the end of the tags confirmed so
 * (not of those still being added, which would put a batch submitted at the
 * same moment behind them). Never throws: a confirmation lost only lets V lag
 * on an idle queue until the next one, and holds renumbering off for at most
 * FairShareOptions.inflightMs.
 */
export async function confirmAdded(flows: FlowProducer, prefix: string, priorities: Priorities): Promise<void> {
  const allocation = priorities.allocation;
  if (priorities.lane !== 'bulk' || !allocation) return;
  try {
    const client = await scriptClient(flows);
    await client.lookoutFairConfirm(fairHash(prefix), inflightKey(prefix), allocation.tagEnd, allocation.token);
  } catch {
    // see above
  }
}

/**
 * A bulk batch allocated but refused before its jobs were added: its key
 * gets its tags back (when none of the key's were handed out after them, the
 * key's line ends where it did before), and the allocation is no longer in
 * flight. Never throws: a release lost only leaves a gap in the key's line.
 */
export async function releasePriorities(flows: FlowProducer, prefix: string, priorities: Priorities): Promise<void> {
  const allocation = priorities.allocation;
  if (priorities.lane !== 'bulk' || !allocation) return;
  try {
    const client = await scriptClient(flows);
    await client.lookoutFairRelease(
      fairHash(prefix),
      inflightKey(prefix),
      `key:${allocation.fairKey}`,
      allocation.tagStart,
      allocation.tagEnd,
      allocation.token,
    );
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
