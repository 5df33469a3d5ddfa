// Groups single requests into batches: a batch runs when `maxBatch` items are
// waiting or the oldest has waited `maxDelayMs`, and a run slot is free. At
// most `maxConcurrentRuns` batches run at once; items that arrive meanwhile
// wait for the next slot and form the next batch.

export interface MicroBatcherOptions {
  maxBatch: number;
  maxDelayMs: number;
  maxConcurrentRuns: number;
}

interface Pending<I, O> {
  item: I;
  since: number;
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
      this.pending.push({ item, since: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  /** Stops accepting items and resolves once every submitted item has settled. */
  async close(): Promise<void> {
    this.closed = true;
    this.schedule();
    if (this.running === 0 && this.pending.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    const oldest = this.pending[0];
    if (this.running >= this.options.maxConcurrentRuns || !oldest) return;
    const waitLeft = this.options.maxDelayMs - (performance.now() - oldest.since);
    if (this.closed || this.pending.length >= this.options.maxBatch || waitLeft <= 0) {
      this.flush();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, waitLeft);
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
      .then((results) => {
        if (results.length !== batch.length) {
          throw new Error(`batch of ${batch.length} returned ${results.length} results`);
        }
        batch.forEach((p, i) => p.resolve(results[i] as O));
      })
      .catch((err: unknown) => batch.forEach((p) => p.reject(err)))
      .finally(() => {
        this.running--;
        this.schedule();
        if (this.running === 0 && this.pending.length === 0) this.idleWaiters.splice(0).forEach((w) => w());
      });
    // Items left behind may fill another free run slot.
    this.schedule();
  }
}
