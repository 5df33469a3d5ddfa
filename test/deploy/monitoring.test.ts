// deploy/: the Prometheus rules and config pass promtool (Debian's, fetched
// by scripts/fetch-promtool.sh) or, where it cannot be had, a parse; the
// Grafana dashboard and the rules reference only metrics Lookout exports.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../src/metrics/metrics.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

const RULES = path.join(REPO_ROOT, 'deploy', 'prometheus', 'lookout-rules.yml');
const CONFIG = path.join(REPO_ROOT, 'deploy', 'prometheus', 'prometheus.yml');
const DASHBOARD = path.join(REPO_ROOT, 'deploy', 'grafana', 'lookout-dashboard.json');
const PROMTOOL = process.env.PROMTOOL ?? path.join(REPO_ROOT, '.cache', 'bin', 'promtool');

/** Names Lookout's registry exports, histograms with their series suffixes. */
function exportedNames(): Set<string> {
  const metrics = createMetrics({ queues: [], pool: {} as never });
  const names = new Set<string>();
  for (const m of metrics.registry.getMetricsAsArray()) {
    const { name, type } = m as unknown as { name: string; type: string };
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`);
  }
  return names;
}

const referenced = (exprs: string[]) => [...new Set(exprs.flatMap((e) => e.match(/\b(lookout_[a-z_]+|process_[a-z_]+)\b/g) ?? []))];

describe('Prometheus rules and config', () => {
  it('pass promtool, or parse where promtool cannot be had', async () => {
    if (existsSync(PROMTOOL)) {
      expect(execFileSync(PROMTOOL, ['check', 'rules', RULES]).toString()).toMatch(/SUCCESS: 9 rules found/);
      expect(execFileSync(PROMTOOL, ['check', 'config', CONFIG]).toString()).toMatch(/valid prometheus config/);
    } else {
      const rules = parse(await readFile(RULES, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
      expect(rules.groups[0]!.rules.length).toBe(9);
      for (const r of rules.groups[0]!.rules) expect(r.expr.length).toBeGreaterThan(0);
    }
  });

  it('mirror every built-in alert rule and use only exported metrics', async () => {
    const rules = parse(await readFile(RULES, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
    const alerts = rules.groups.flatMap((g) => g.rules);
    expect(alerts.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'LookoutQueueBacklog',
        'LookoutQueueFailureRate',
        'LookoutNoWorker',
        'LookoutBackupStale',
        'LookoutDiskLow',
        'LookoutRedisEvictionPolicy',
        'LookoutGpuHot',
        'LookoutWalArchiving',
      ]),
    );
    const names = exportedNames();
    for (const metric of referenced(alerts.map((r) => r.expr))) expect(names, metric).toContain(metric);
  });
});

describe('Grafana dashboard', () => {
  it('references only metrics that exist, and covers queues, throughput, stages, failures, workers and GPUs', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    const used = referenced(exprs);
    const names = exportedNames();
    for (const metric of used) expect(names, metric).toContain(metric);
    for (const needed of [
      'lookout_queue_jobs',
      'lookout_images_total',
      'lookout_detect_stage_seconds_bucket',
      'lookout_job_duration_seconds_count',
      'lookout_worker_up',
      'lookout_gpu_utilization_ratio',
    ]) {
      expect(used).toContain(needed);
    }
  });
});
