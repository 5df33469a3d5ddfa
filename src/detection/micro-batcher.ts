// Groups single requests into batches: a batch runs when `maxBatch` items are
// waiting or the oldest has waited `maxDelayMs`. At most `maxConcurrentRuns`
// batches run at once; items that arrive meanwhile form the next batch, which
// starts as soon as a run slot frees (they have already waited).

export interface MicroBatcherOptions {
  maxBatch: number;
  maxDelayMs: number;
  maxConcurrentRuns: number;
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (reason: unknown) => void;
}

export class MicroBatcher<I, O> {
  private readonly pending: Array<Pending<I, O>> = [];
  private timer: NodeJS.Timeout | undefined;
  private running = 0;
  private closed = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    private readonly runBatch: (items: I[]) => Promise<O[]>,
    private readonly options: MicroBatcherOptions,
  ) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new RangeError('maxBatch must be an integer >= 1');
    if (!(options.maxDelayMs >= 0)) throw new RangeError('maxDelayMs must be >= 0');
    if (!Number.isInteger(options.maxConcurrentRuns) || options.maxConcurrentRuns < 1) {
      throw new RangeError('maxConcurrentRuns must be an integer >= 1');
    }
  }

  submit(item: I): Promise<O> {
    if (this.closed) return Promise.reject(new Error('micro-batcher is closed'));
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule(false);
    });
  }

  /** Stops accepting items and resolves once every submitted item has settled. */
  async close(): Promise<void> {
    this.closed = true;
    this.schedule(true);
    if (this.running === 0 && this.pending.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(waitedEnough: boolean): void {
    if (this.running >= this.options.maxConcurrentRuns || this.pending.length === 0) return;
    if (waitedEnough || this.closed || this.pending.length >= this.options.maxBatch || this.options.maxDelayMs === 0) {
      this.flush();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.schedule(true);
      }, this.options.maxDelayMs);
    }
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.pending.splice(0, this.options.maxBatch);
    this.running++;
    this.runBatch(batch.map((p) => p.item))
      .then(
        (results) => {
          if (results.length !== batch.length) {
            throw new Error(`batch of ${batch.length} returned ${results.length} results`);
          }
          batch.forEach((p, i) => p.resolve(results[i] as O));
        },
      )
      .catch((err: unknown) => batch.forEach((p) => p.reject(err)))
      .finally(() => {
        this.running--;
        // Whatever arrived during the run has waited at least the run's time.
        this.schedule(true);
        if (this.running === 0 && this.pending.length === 0) this.idleWaiters.splice(0).forEach((w) => w());
      });
  }
}
