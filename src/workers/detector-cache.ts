// One detector per model per process, loaded once and shared by every job of
// the process (the model file is read, checked and compiled once).

import type { Config } from '../config/config.js';
import { createDetector, type Detector, type ModelRegistry } from '../detection/index.js';
import type { EngineLogger } from '../detection/model-session.js';

export interface DetectorCache {
  get(model: string): Promise<Detector>;
  closeAll(): Promise<void>;
}

export function createDetectorCache(deps: {
  registry: ModelRegistry;
  config: Pick<Config, 'detect' | 'limits'>;
  logger: EngineLogger;
  onLoaded?: (detector: Detector) => Promise<void>;
  onBatch?: (size: number, ms: number) => void;
}): DetectorCache {
  const detectors = new Map<string, Promise<Detector>>();
  const { config } = deps;
  return {
    get(model) {
      let detector = detectors.get(model);
      if (!detector) {
        detector = (async () => {
          const d = await createDetector({
            spec: deps.registry.get(model),
            device: config.detect.device,
            allowCpuFallback: config.detect.allowCpuFallback,
            limits: config.limits,
            logger: deps.logger,
            intraOpThreads: config.detect.intraOpThreads,
            maxBatch: config.detect.maxBatch,
            maxDelayMs: config.detect.maxDelayMs,
            ...(deps.onBatch ? { onBatch: deps.onBatch } : {}),
          });
          await deps.onLoaded?.(d);
          return d;
        })();
        // A failed load is not cached: the next job tries again.
        detector.catch(() => detectors.delete(model));
        detectors.set(model, detector);
      }
      return detector;
    },
    async closeAll() {
      const all = await Promise.allSettled([...detectors.values()]);
      detectors.clear();
      await Promise.all(all.filter((r) => r.status === 'fulfilled').map((r) => r.value.close()));
    },
  };
}
