// Device selection on a machine without a usable GPU: cuda:N fails with a
// clear error, or runs on CPU with exactly one warning line when allowed.
import { describe, expect, it } from 'vitest';
import { DetectionError, parseDevice } from '../../src/detection/index.js';
import { captureLogger } from '../helpers/capture-logger.js';
import { builtinDetector } from '../helpers/detectors.js';
import { readPhoto } from '../helpers/photos.js';

describe('parseDevice', () => {
  it('reads cpu and cuda:N', () => {
    expect(parseDevice('cpu')).toEqual({ kind: 'cpu' });
    expect(parseDevice('CUDA:1')).toEqual({ kind: 'cuda', deviceId: 1 });
  });
  it.each(['gpu', 'cuda', 'cuda:-1', 'cuda:x', ''])('refuses %j', (text) => {
    expect(() => parseDevice(text)).toThrow(/expected "cpu" or "cuda:N"/);
  });
});

describe('cuda:0 where no GPU provider is usable', () => {
  it('fails fast with device_unavailable and says what to do', async () => {
    const { logger, lines } = captureLogger();
    const err = await builtinDetector('blazeface-front', {
      device: { kind: 'cuda', deviceId: 0 },
      allowCpuFallback: false,
      logger,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DetectionError);
    expect((err as DetectionError).code).toBe('device_unavailable');
    expect((err as DetectionError).message).toMatch(/device cuda:0 is not available: .*--device cpu.*DETECT_ALLOW_CPU_FALLBACK=true/);
    expect(lines).toEqual([]);
  });

  it('falls back to cpu with one warning line when allowed, and still detects', async () => {
    const { logger, lines } = captureLogger();
    const detector = await builtinDetector('blazeface-front', {
      device: { kind: 'cuda', deviceId: 0 },
      allowCpuFallback: true,
      logger,
    });
    try {
      expect(detector.device).toEqual({ kind: 'cpu' });
      const result = await detector.detect(await readPhoto('astronaut.png'));
      expect(result.detections).toHaveLength(1);
    } finally {
      await detector.close();
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, requestedDevice: 'cuda:0', device: 'cpu' });
    expect(lines[0]?.msg).toMatch(/^device cuda:0 unavailable, falling back to cpu: /);
  });
});
