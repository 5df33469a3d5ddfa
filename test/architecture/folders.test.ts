// The folder rule as a check: what each folder of src/ may import
// (.dependency-cruiser.cjs, docs/architecture.md). depcruise runs over src/
// with the project's config and must find nothing; then the folders' graph,
// less the arrows the config lets point up, must have no cycle, and every
// such arrow must still exist (an exception nobody uses is a stale one).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-cli.js';

interface Upward {
  from: string;
  to: string;
  why: string;
}
interface CruiseResult {
  modules: { source: string; dependencies: { resolved: string }[] }[];
  summary: { violations: { from: string; to: string; rule: { name: string } }[]; error: number };
}

const config = createRequire(import.meta.url)(path.join(REPO_ROOT, '.dependency-cruiser.cjs')) as { TIERS: string[][]; UPWARD: Upward[] };
const folderOf = (file: string) => file.split('/')[1]!;

/** A cycle among the folders as a path (first folder repeated at the end), or undefined. */
function findCycle(edges: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of edges.keys()) {
    if (state.has(node)) continue;
    const found = visit(node);
    if (found) return found;
  }
  return undefined;
}

describe('folders: what each folder of src/ may import', () => {
  let result: CruiseResult;
  beforeAll(async () => {
    const bin = path.join(REPO_ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
    const args = [bin, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'];
    // depcruise exits non-zero when it finds violations; its JSON still says which.
    const stdout = await promisify(execFile)(process.execPath, args, { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 }).then(
      (r) => r.stdout,
      (err: { stdout?: string }) => {
        if (!err.stdout) throw err;
        return err.stdout;
      },
    );
    result = JSON.parse(stdout) as CruiseResult;
  });

  it('depcruise finds no violation (tiers, module cycles, folder cycles, folders in no tier)', () => {
    expect(result.modules.length).toBeGreaterThan(100);
    expect(result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  });

  it('the folders have no cycle but through the arrows the config lets point up, and each of those is used', () => {
    const edges = new Map<string, Set<string>>();
    const used = new Set<Upward>();
    for (const m of result.modules) {
      for (const d of m.dependencies) {
        const [a, b] = [folderOf(m.source), folderOf(d.resolved)];
        if (a === b) continue;
        const upward = config.UPWARD.find((u) => new RegExp(u.from).test(m.source) && new RegExp(u.to).test(d.resolved));
        if (upward) {
          used.add(upward);
          continue;
        }
        edges.set(a, (edges.get(a) ?? new Set()).add(b));
      }
    }
    expect(findCycle(edges)).toBeUndefined();
    expect(config.UPWARD.filter((u) => !used.has(u)).map((u) => `${u.from} → ${u.to}`)).toEqual([]);
  });

  it('every folder of src/ stands in exactly one tier', () => {
    const inTiers = config.TIERS.flat();
    expect(new Set(inTiers).size).toBe(inTiers.length);
    const present = new Set(result.modules.filter((m) => m.source.startsWith('src/')).map((m) => folderOf(m.source)));
    expect([...present].filter((f) => !inTiers.includes(f))).toEqual([]);
  });

  it("docs/architecture.md's table of tiers says what the config says", async () => {
    const doc = await readFile(path.join(REPO_ROOT, 'docs', 'architecture.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## What each folder may import'), doc.indexOf('## The pipeline'));
    const rows = [...section.matchAll(/^\| (\d+) \| ([^|]+) \|/gm)].map((m) => ({
      tier: Number(m[1]),
      folders: [...m[2]!.matchAll(/`([a-z-]+)`/g)].map((f) => f[1]),
    }));
    expect(rows.sort((a, b) => a.tier - b.tier).map((r) => r.folders)).toEqual(config.TIERS);
  });
});
