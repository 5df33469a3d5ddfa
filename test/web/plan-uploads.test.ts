// How the console splits one upload into requests the server accepts (the
// same limits GET /v1/info reports), on plain sized objects.
import { describe, expect, it } from 'vitest';
import { planUploads } from '../../web/src/plan-uploads.js';

const files = (...sizes: number[]) => sizes.map((size, i) => ({ name: `f${i}.jpg`, size }));
const names = (requests: Array<Array<{ name: string }>>) => requests.map((r) => r.map((f) => f.name));
const MB = 1024 * 1024;

describe('planUploads', () => {
  it('keeps one request when everything fits', () => {
    const plan = planUploads(files(1, 2, 3), { maxFiles: 10, maxRequestBytes: 10 * MB, maxFileBytes: MB });
    expect(names(plan.requests)).toEqual([['f0.jpg', 'f1.jpg', 'f2.jpg']]);
    expect(plan.refused).toEqual([]);
  });

  it('splits by the file count', () => {
    const plan = planUploads(files(...Array<number>(7).fill(100)), { maxFiles: 3, maxRequestBytes: 10 * MB, maxFileBytes: MB });
    expect(plan.requests.map((r) => r.length)).toEqual([3, 3, 1]);
  });

  it('splits by bytes, keeping room for the multipart framing', () => {
    const plan = planUploads(files(3 * MB, 3 * MB, 3 * MB), { maxFiles: 100, maxRequestBytes: 6 * MB, maxFileBytes: 5 * MB });
    // Two 3 MiB files plus their part headers are over 6 MiB: one per request.
    expect(plan.requests.map((r) => r.length)).toEqual([1, 1, 1]);
    for (const r of plan.requests) expect(r.reduce((n, f) => n + f.size + 512, 4096)).toBeLessThanOrEqual(6 * MB);
  });

  it('refuses empty files, files over the per-file limit and files no request can carry, saying why', () => {
    const plan = planUploads(files(0, 2 * MB, 100, 6 * MB), { maxFiles: 10, maxRequestBytes: 3 * MB, maxFileBytes: 8 * MB });
    expect(names(plan.requests)).toEqual([['f1.jpg', 'f2.jpg']]);
    expect(plan.refused.map((r) => [r.file.name, r.reason])).toEqual([
      ['f0.jpg', 'empty file'],
      ['f3.jpg', 'larger than the per-request limit of 3.0 MiB'],
    ]);
    const small = planUploads(files(2 * MB), { maxFiles: 10, maxRequestBytes: 10 * MB, maxFileBytes: MB });
    expect(small.refused[0]?.reason).toBe('larger than the per-file limit of 1.0 MiB');
  });
});
