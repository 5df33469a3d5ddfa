// The Redis connection of everything that must not wait for an absent Redis:
// the queues and the flow producer (submits, queue control, Bull Board,
// metrics, probes), the rate limiter and /readyz. Workers have a connection of
// their own that waits outages out (src/runtime/services.ts): BullMQ's blocking commands
// need maxRetriesPerRequest null, producers do not (BullMQ's "failing fast
// when Redis is down": no offline queue; and skipWaitingForReady on the
// queues, QUEUE_FAIL_FAST below).
//
// - No offline queue once the first connection attempt has ended: a command
//   while Redis is away fails at once. During that first attempt commands
//   wait for it, so a process that has just started does not refuse work
//   because its connection is a few milliseconds old.
// - maxRetriesPerRequest 0, no resend: commands in flight when the connection
//   drops fail instead of running after the caller gave up.
// - socketTimeout: a Redis that stops answering (paused, hung, blackholed:
//   the socket stays open) counts as gone after ANSWER_WITHIN_MS; the
//   connection is dropped and reopened, and is ready again only once Redis
//   answers its ready check.
import { Redis } from 'ioredis';

/**
 * How long Redis may leave a command unanswered before the connection counts
 * as dead. Redis answers in microseconds; the longest command Lookout sends is
 * a batch's flow, ~0.7 s for 10,000 images (the most UPLOAD_MAX_FILES allows).
 */
const ANSWER_WITHIN_MS = 1000;
/** A connection attempt that neither connects nor fails (packets dropped) gives up after this. */
const CONNECT_WITHIN_MS = 2000;

/**
 * BullMQ options for a Queue or FlowProducer over the client below. BullMQ
 * otherwise waits for the connection's first 'ready' without a bound, and asks
 * Redis its version first (a request that, refused, breaks the queue for good):
 * with these every call goes straight to the client, which refuses at once.
 */
export const QUEUE_FAIL_FAST = { skipWaitingForReady: true, skipVersionCheck: true } as const;

/** Redis does not answer: nothing was done. `reason` is the connection's last error, for operators. */
export class QueueUnavailableError extends Error {
  readonly code = 'queue_unavailable';
  constructor(
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`the queues (Redis) are not reachable: ${reason}`, options);
    this.name = 'QueueUnavailableError';
  }
}

interface ClientState {
  /** Settles when the first connection attempt has ended, ready or not. */
  firstAttempt: Promise<void>;
  lastError?: string;
}

const states = new WeakMap<Redis, ClientState>();

/** A fail-fast ioredis client (above) for `url`; it reconnects by itself (ioredis's retryStrategy). */
export function createQueueRedis(url: string): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: true, // until the first attempt has ended (below)
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    socketTimeout: ANSWER_WITHIN_MS,
    connectTimeout: CONNECT_WITHIN_MS,
  });
  const state: ClientState = {
    firstAttempt: new Promise<void>((resolve) => {
      const settle = () => {
        for (const event of ['ready', 'close', 'end']) redis.off(event, settle);
        // ioredis reads the option at every command. A failed attempt has
        // already failed what waited (maxRetriesPerRequest 0).
        redis.options.enableOfflineQueue = false;
        resolve();
      };
      for (const event of ['ready', 'close', 'end']) redis.once(event, settle);
    }),
  };
  redis.on('error', (err: Error) => {
    // ioredis also emits the failure of the commands it flushed; the cause is the error before it.
    if (err.name !== 'MaxRetriesPerRequestError') state.lastError = err.message;
  });
  redis.on('ready', () => (state.lastError = undefined));
  states.set(redis, state);
  return redis;
}

/** Why a client made by createQueueRedis is not connected: its last connection error, if any. */
export function lastRedisError(redis: Redis): string | undefined {
  return states.get(redis)?.lastError;
}

/**
 * Resolves when a client made by createQueueRedis is ready. Waits only while
 * its first connection attempt is under way (at most about CONNECT_WITHIN_MS +
 * ANSWER_WITHIN_MS); otherwise a client that is not ready rejects at once.
 * Any other client passes through (its own options decide).
 * @throws QueueUnavailableError naming the connection's last error
 */
export async function whenRedisReady(redis: Redis): Promise<void> {
  const state = states.get(redis);
  if (!state || redis.status === 'ready') return;
  await state.firstAttempt;
  if ((redis.status as string) !== 'ready') throw new QueueUnavailableError(state.lastError ?? `the connection is ${redis.status}`);
}

/**
 * True when the error says Redis was not there to answer: ours, or ioredis's
 * own words for a command refused or cut off by a lost connection (never a
 * socket error's, which Postgres shares).
 */
export function isQueueUnavailable(err: unknown): boolean {
  if (err instanceof QueueUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    /^(Stream isn't writeable and enableOfflineQueue|Connection is closed\.|Socket timeout\. Expecting data|Command aborted due to connection close)/.test(
      err.message,
    )
  );
}
