// The runtime Lookout ships on and is tested on: Node.js 24, the current LTS
// (Node 20 reached its end of life in April 2026). The Dockerfile's stages,
// package.json's engines and the node running this suite agree.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-cli.js';

describe('runtime', () => {
  it('every Dockerfile stage is node:24-bookworm-slim', async () => {
    const dockerfile = await readFile(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(bases.length).toBeGreaterThanOrEqual(2);
    expect(new Set(bases)).toEqual(new Set(['node:24-bookworm-slim']));
  });

  it('package.json asks for node >= 22', async () => {
    const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe('>=22');
  });

  it('the suite runs on a supported Node.js (24 under CI, as .ci/run arranges)', () => {
    const major = Number(process.versions.node.split('.')[0]);
    expect(major).toBeGreaterThanOrEqual(22);
    if (process.env.CI === 'true') expect(major).toBe(24);
  });
});
