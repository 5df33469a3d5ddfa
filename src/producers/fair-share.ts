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
// - Priority = tag - base + FIRST_BULK, at most the limit: the tail of a
//   key with more than the range ahead is capped, its tags kept in the job
//   hashes (`ftag`, written on confirmation). Tags only grow; a renumbering
//   moves base up to V and rewrites every bulk job's priority from its tag,
//   in steps of `renumberChunk` prioritized entries (one short script call
//   each, in score order, so the order holds at every step), after
//   rewriting the stored priorities of active, delayed (retrying), failed,
//   waiting and paused jobs at its start (a retry or a restore keeps its
//   place). It starts ahead of need (V half the range above base) or when a
//   batch would pass the range and it makes the batch fit or gains a quarter
//   of the range, so a key far ahead of everyone does not start one on each
//   submit; never while an allocation is in flight (handed out, its jobs not
//   yet added: they would arrive counted from the old base), until
//   confirmAdded or releasePriorities ends it or it is 5 minutes old. A batch
//   allocated while one is under way takes the capped priority and is put at
//   its tag when the steps reach that level, last (they wait there while an
//   allocation is in flight). Tags themselves (F_key) never change.
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

// The scripts share one prelude. KEYS[1] the fair-share hash, KEYS[2] the
// detect queue's prioritized zset, KEYS[3] the allocations in flight (zset:
// token -> ms handed out). ARGV[1] the highest priority, ARGV[2] the job key
// prefix ("<prefix>:detect:"), ARGV[3] how many prioritized entries one
// renumbering step rewrites.
//
// Fair-share hash fields: base (priorities count from it), vfloor, vadded,
// key:<key> (F_key), gen (renumbering generation), and while a renumbering
// runs rn_base (the base it moves to) and rn_cursor (the prioritized score
// up to which it has rewritten). A job hash gains `rg` (the generation that
// last rewrote it) and, when its priority was capped at the limit, `ftag`
// (its tag, so a renumbering can spread a capped tail out again).
const PRELUDE = `
local fair, prioritized, inflight = KEYS[1], KEYS[2], KEYS[3]
local limit = tonumber(ARGV[1])
local jobPrefix = ARGV[2]
local chunk = tonumber(ARGV[3])
local FIRST = ${FIRST_BULK}
local SHIFT = 4294967296
local function num(x, d) if x then return tonumber(x) end return d end
local base = num(redis.call('HGET', fair, 'base'), 0)
local gen = num(redis.call('HGET', fair, 'gen'), 0)
local rnbase = redis.call('HGET', fair, 'rn_base')
if rnbase then rnbase = tonumber(rnbase) end

-- The tag of job id, whose priority is p: its ftag when capped; otherwise
-- from the base its priority counts from (rn_base once this renumbering
-- rewrote it).
local function tagOf(id, p)
  local h = jobPrefix .. id
  if p >= limit then
    local ft = redis.call('HGET', h, 'ftag')
    if ft then return tonumber(ft) end
  end
  if rnbase and num(redis.call('HGET', h, 'rg'), -1) == gen then return p - FIRST + rnbase end
  return p - FIRST + base
end

-- Job id's priority counted from rn_base (at least FIRST: a job whose tag
-- has passed is at the front; at most the limit).
local function rebased(id, p)
  local q = tagOf(id, p) - rnbase + FIRST
  if q < FIRST then q = FIRST end
  if q > limit then q = limit end
  return q
end

-- One renumbering step: up to chunk prioritized entries from the cursor, in
-- score order, each rewritten to its priority from rn_base (its FIFO counter
-- kept). Entries below the cursor are rewritten and entries above it not:
-- both keep their order, since rewriting only lowers. The capped level waits
-- while an allocation is in flight (its ftags are written on confirmation).
-- Returns 'done' (base is rn_base now), 'more' or 'wait'.
local function step()
  local cursor = num(redis.call('HGET', fair, 'rn_cursor'), FIRST * SHIFT)
  local entries = redis.call('ZRANGEBYSCORE', prioritized, cursor, '+inf', 'WITHSCORES', 'LIMIT', 0, chunk)
  for i = 1, #entries, 2 do
    local id = entries[i]
    local score = tonumber(entries[i + 1])
    local p = math.floor(score / SHIFT)
    if p >= limit and redis.call('ZCARD', inflight) > 0 then
      redis.call('HSET', fair, 'rn_cursor', cursor)
      return 'wait'
    end
    local h = jobPrefix .. id
    if num(redis.call('HGET', h, 'rg'), -1) ~= gen then
      local q = rebased(id, p)
      redis.call('ZADD', prioritized, q * SHIFT + (score - p * SHIFT), id)
      redis.call('HSET', h, 'priority', q, 'rg', gen)
    end
    cursor = score + 1
  end
  if #entries < chunk * 2 then
    base = rnbase
    rnbase = nil
    redis.call('HSET', fair, 'base', base)
    redis.call('HDEL', fair, 'rn_base', 'rn_cursor')
    return 'done'
  end
  redis.call('HSET', fair, 'rn_cursor', cursor)
  return 'more'
end
`;

// A batch's tags and priorities. KEYS[4..8] the detect queue's active list,
// delayed zset, wait list, paused list, failed zset. ARGV[4..] n images, the
// key's field, mode ('submit' | 'requeue'), this allocation's token, how long
// (ms) an allocation counts as in flight at most.
// Returns the first priority (the i-th image gets min(limit, first + i)), whether
// a renumbering started, the batch's first tag and one past its last, the
// index from which its priorities are capped (their tags go in ftag on
// confirmation), and whether a renumbering is still under way.
const ALLOCATE =
  PRELUDE +
  `
local n = tonumber(ARGV[4])
local field = ARGV[5]
local mode = ARGV[6]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
-- Allocations whose jobs never arrived (a submitter that died) stop counting after ARGV[8] ms.
redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now - tonumber(ARGV[8]))
if rnbase then step() end
-- A hash written before vfloor existed: its vmax (highest tag handed out) is the floor once; never below base.
local vfloor = num(redis.call('HGET', fair, 'vfloor') or redis.call('HGET', fair, 'vmax'), 0)
if vfloor < base then vfloor = base end
local v = num(redis.call('HGET', fair, 'vadded'), 0)
-- The lowest waiting bulk job that is not a retry (attempts made: it keeps its old, low place).
local lowest = redis.call('ZRANGEBYSCORE', prioritized, FIRST * SHIFT, '+inf', 'WITHSCORES', 'LIMIT', 0, 16)
for i = 1, #lowest, 2 do
  v = tagOf(lowest[i], math.floor(tonumber(lowest[i + 1]) / SHIFT))
  if num(redis.call('HGET', jobPrefix .. lowest[i], 'atm'), 0) == 0 then break end
end
if v < vfloor then v = vfloor end
if v > vfloor then redis.call('HSET', fair, 'vfloor', v) end
local fk = num(redis.call('HGET', fair, field), 0)
local start = v
if mode == 'submit' and fk > v then start = fk end
local finish = start + n
local started = 0
-- A renumbering (base moves up to V) starts ahead of need, once V is half the range above base,
-- or when this batch would pass the range and it makes the batch fit or gains at least a quarter
-- of the range (a key far ahead of everyone does not start one on each submit). Never while an
-- allocation is in flight: its jobs would arrive counted from the old base.
if not rnbase then
  local over = finish - 1 - base + FIRST - limit
  local gain = v - base
  local wanted = gain >= math.floor(limit / 2) or (over > 0 and (gain >= over or gain >= math.floor(limit / 4)))
  if gain > 0 and wanted and redis.call('ZCARD', inflight) == 0 then
    gen = gen + 1
    rnbase = v
    redis.call('HSET', fair, 'gen', gen, 'rn_base', rnbase, 'rn_cursor', FIRST * SHIFT)
    -- Jobs outside the prioritized set keep a stored priority that a retry or a restore puts them
    -- back with: rewritten now (active, delayed, wait and paused are short; failed is kept bounded).
    local others = redis.call('LRANGE', KEYS[4], 0, -1)
    for _, list in ipairs({ KEYS[6], KEYS[7] }) do
      for _, id in ipairs(redis.call('LRANGE', list, 0, -1)) do others[#others + 1] = id end
    end
    for _, set in ipairs({ KEYS[5], KEYS[8] }) do
      for _, id in ipairs(redis.call('ZRANGE', set, 0, -1)) do others[#others + 1] = id end
    end
    for _, id in ipairs(others) do
      local h = jobPrefix .. id
      local p = num(redis.call('HGET', h, 'priority'), 0)
      if p >= FIRST and num(redis.call('HGET', h, 'rg'), -1) ~= gen then redis.call('HSET', h, 'priority', rebased(id, p), 'rg', gen) end
    end
    started = 1
    step()
  end
end
local first, capFrom
if rnbase then
  -- Still under way: this batch goes to the capped level, after everything, and the renumbering
  -- puts each image at its tag (ftag) when it reaches that level, last.
  first = limit
  capFrom = 0
else
  first = start - base + FIRST
  capFrom = limit - first + 1
end
if finish > fk then redis.call('HSET', fair, field, finish) end
redis.call('ZADD', inflight, now, ARGV[7])
return { first, started, start, finish, capFrom, rnbase and 1 or 0 }
`;

// One renumbering step, for whoever drives a renumbering on (the process that
// started it, a confirmation, the reconciler): 'done', 'more', 'wait' or
// 'none' (no renumbering under way).
const STEP =
  PRELUDE +
  `
if not rnbase then return 'none' end
return step()
`;

// Now that a batch's jobs are on the queue: vadded = max(vadded, ARGV[1]
// (one past the batch's last tag)); ARGV[2] its token, no longer in flight;
// ARGV[3] the job key prefix, ARGV[4] the highest priority, then pairs (job
// id, tag) of its capped jobs: their tags go in their hashes (ftag), and when
// no renumbering is under way (it may have ended while these jobs were being
// added), each is put at its tag's priority now if that is below the cap, its
// FIFO counter kept. KEYS[1] the fair-share hash, KEYS[2] the allocations in
// flight, KEYS[3] the prioritized zset. Returns 1 while a renumbering is
// under way.
const CONFIRM = `
local SHIFT = 4294967296
local FIRST = ${FIRST_BULK}
local added = tonumber(redis.call('HGET', KEYS[1], 'vadded') or '0')
local tag = tonumber(ARGV[1])
if tag > added then redis.call('HSET', KEYS[1], 'vadded', tag) end
local underWay = redis.call('HEXISTS', KEYS[1], 'rn_base') == 1
local base = tonumber(redis.call('HGET', KEYS[1], 'base') or '0')
local limit = tonumber(ARGV[4])
for i = 5, #ARGV, 2 do
  local id = ARGV[i]
  local h = ARGV[3] .. id
  if redis.call('EXISTS', h) == 1 then
    local t = tonumber(ARGV[i + 1])
    redis.call('HSET', h, 'ftag', t)
    if not underWay then
      local q = t - base + FIRST
      if q < FIRST then q = FIRST end
      local p = tonumber(redis.call('HGET', h, 'priority') or '0')
      if q < p then
        local score = redis.call('ZSCORE', KEYS[3], id)
        if score then
          score = tonumber(score)
          redis.call('ZADD', KEYS[3], q * SHIFT + (score - math.floor(score / SHIFT) * SHIFT), id)
        end
        redis.call('HSET', h, 'priority', q)
      end
    end
  end
end
redis.call('ZREM', KEYS[2], ARGV[2])
if underWay then return 1 end
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
  /** Prioritized entries one renumbering step rewrites (one script call, about 10 ms for 2,000). */
  renumberChunk?: number;
}

/** A bulk allocation: the key's tags [tagStart, tagEnd), and the token it is in flight under until confirmAdded or releasePriorities. */
export interface Allocation {
  fairKey: string;
  tagStart: number;
  tagEnd: number;
  token: string;
  /** Images from this index on have the capped priority; their tags go in their job hashes on confirmation. */
  capFrom: number;
}

/** The detect-image priorities of one batch (or of a reconciler's re-enqueue). */
export interface Priorities {
  lane: Lane;
  /** Priority of the batch's i-th image. */
  of(i: number): number;
  /** A renumbering started with this allocation. */
  renumbered: boolean;
  /** Bulk only: for confirmAdded once its jobs are on the queue, or releasePriorities when they never will be. */
  allocation?: Allocation;
}

type ScriptName = 'lookoutFairAllocate' | 'lookoutFairStep' | 'lookoutFairConfirm' | 'lookoutFairRelease';
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
    client.defineCommand('lookoutFairStep', { numberOfKeys: 3, lua: STEP });
    client.defineCommand('lookoutFairConfirm', { numberOfKeys: 3, lua: CONFIRM });
    client.defineCommand('lookoutFairRelease', { numberOfKeys: 2, lua: RELEASE });
    defined.add(client);
  }
  return client as ScriptClient;
}

const fairHash = (prefix: string) => `${prefix}:fair-share:${detectImage.queue}`;
const inflightKey = (prefix: string) => `${prefix}:fair-share:${detectImage.queue}:inflight`;
const DEFAULT_CHUNK = 2000;

function preludeArgs(prefix: string): Array<string | number> {
  const q = `${prefix}:${detectImage.queue}`;
  return [fairHash(prefix), `${q}:prioritized`, inflightKey(prefix)];
}

function preludeArgv(prefix: string, options: FairShareOptions): Array<string | number> {
  return [options.priorityLimit ?? PRIORITY_LIMIT, `${prefix}:${detectImage.queue}:`, options.renumberChunk ?? DEFAULT_CHUNK];
}

/** The renumberings under way per prefix in this process (one driver each). */
const driving = new Map<string, Promise<void>>();

/**
 * Drives a renumbering under way to its end, one step (one short script call)
 * at a time, waiting while an allocation is in flight; returns when it is
 * done, none is under way, or after `maxMs`. Several processes may drive the
 * same renumbering: each step is atomic, so they only share the work. Never
 * throws (Redis away: the next allocation, confirmation or reconciler run
 * drives it on).
 */
export function driveRenumbering(flows: FlowProducer, prefix: string, options: FairShareOptions = {}, maxMs = 300_000): Promise<void> {
  const running = driving.get(prefix);
  if (running) return running;
  const run = (async () => {
    const deadline = Date.now() + maxMs;
    try {
      const client = await scriptClient(flows);
      while (Date.now() < deadline) {
        const state = (await client.lookoutFairStep(...preludeArgs(prefix), ...preludeArgv(prefix, options))) as string;
        if (state === 'done' || state === 'none') return;
        if (state === 'wait') await new Promise((r) => setTimeout(r, 50));
        else await new Promise((r) => setImmediate(r));
      }
    } catch {
      // see above
    } finally {
      driving.delete(prefix);
    }
  })();
  driving.set(prefix, run);
  return run;
}

/**
 * Hands out the priorities of `n` images of a batch of `fairKey` (the API key)
 * in `lane`. `requeue`: images put back by the reconciler or a retry by hand:
 * they start at the front of the fair line (V; their first place has passed),
 * ahead of the key's own waiting images; where the key's line ends before
 * V + n, it moves to V + n, so the key's next batch starts after them (callers
 * ask once per key for all of its images, so a key gets one share, not one
 * per batch). A bulk allocation is in flight until confirmAdded (its jobs are
 * on the queue) or releasePriorities (they never will be); renumbering waits
 * while any is. A renumbering runs in steps of `renumberChunk` entries: the
 * one started here is driven on in the background.
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
  const allocated = client.lookoutFairAllocate(
    ...preludeArgs(prefix),
    `${q}:active`,
    `${q}:delayed`,
    `${q}:wait`,
    `${q}:paused`,
    `${q}:failed`,
    ...preludeArgv(prefix, options),
    request.n,
    `key:${request.fairKey}`,
    request.requeue ? 'requeue' : 'submit',
    token,
    options.inflightMs ?? 300_000,
  );
  // An answer lost (the connection dropped while the script ran): the allocation is not left in flight.
  const [first, started, tagStart, tagEnd, capFrom, underWay] = (await allocated.catch(async (err: unknown) => {
    await client.zrem(inflightKey(prefix), token).catch(() => undefined);
    throw err;
  })) as [number, number, number, number, number, number];
  if (underWay === 1) void driveRenumbering(flows, prefix, options);
  return {
    lane: 'bulk',
    // Past the range (a key with more than the range waiting, or a renumbering under way): the
    // capped priority, FIFO among those; their tags put them in place at the next renumbering.
    of: (i) => Math.min(limit, first + i),
    renumbered: started === 1,
    allocation: { fairKey: request.fairKey, tagStart, tagEnd, token, capFrom },
  };
}

/** The priorities of images from..: one allocation shared by several flows (the reconciler's lost batches of one key). */
export function slicePriorities(priorities: Priorities, from: number): Priorities {
  const { allocation: _shared, ...rest } = priorities;
  return { ...rest, of: (i) => priorities.of(from + i) };
}

/**
 * Tells the fair share that a bulk batch's jobs (allocated by
 * allocatePriorities; `jobIds[i]` the i-th image's job) are on the queue
 * now: the allocation is no longer in flight; the tags of its capped jobs go
 * in their job hashes; and with no bulk job waiting, V is the end of the tags
 * confirmed so (not of those still being added, which would put a batch
 * submitted at the same moment behind them). Drives a renumbering under way
 * on (in the background). Never throws: a confirmation lost only lets V lag
 * on an idle queue until the next one, and holds renumbering off for at most
 * FairShareOptions.inflightMs.
 */
export async function confirmAdded(
  flows: FlowProducer,
  prefix: string,
  priorities: Priorities,
  jobIds: readonly string[],
  options: FairShareOptions = {},
): Promise<void> {
  const allocation = priorities.allocation;
  if (priorities.lane !== 'bulk' || !allocation) return;
  try {
    const client = await scriptClient(flows);
    const capped: Array<string | number> = [];
    for (let i = Math.max(0, allocation.capFrom); i < jobIds.length; i++) capped.push(jobIds[i]!, allocation.tagStart + i);
    const underWay = await client.lookoutFairConfirm(
      fairHash(prefix),
      inflightKey(prefix),
      `${prefix}:${detectImage.queue}:prioritized`,
      allocation.tagEnd,
      allocation.token,
      `${prefix}:${detectImage.queue}:`,
      options.priorityLimit ?? PRIORITY_LIMIT,
      ...capped,
    );
    if (underWay === 1) void driveRenumbering(flows, prefix, options);
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
