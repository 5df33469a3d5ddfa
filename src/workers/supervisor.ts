// `lookout fleet`: one host's worker processes (detect workers per device,
// ops workers), each restarted with exponential backoff when it exits
// unasked (crash, kill -9, the memory guard). Across hosts, scaling is
// Kubernetes' job; this only keeps one machine's processes running.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { readGpus } from '../health/gpus.js';
import { OPS_QUEUES } from './worker-process.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'lookout.js');
/** What an ops child runs: every queue but detection's. */
const OPS_ARGS = ['--queues', OPS_QUEUES.join(',')];

export interface FleetPlan {
  name: string;
  args: string[];
}

export async function resolveDevices(spec: string): Promise<string[]> {
  if (spec === 'auto') {
    const gpus = await readGpus();
    return gpus && gpus.length > 0 ? gpus.map((g) => `cuda:${g.index}`) : ['cpu'];
  }
  return spec
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean);
}

export function planFleet(devices: string[], detectPerDevice: number, ops: number, concurrency?: number): FleetPlan[] {
  const plan: FleetPlan[] = [];
  for (const device of devices) {
    for (let i = 0; i < detectPerDevice; i++) {
      plan.push({
        name: `detect-${device}-${i}`,
        args: ['--queues', 'detect', '--device', device, ...(concurrency ? ['--concurrency', String(concurrency)] : [])],
      });
    }
  }
  for (let i = 0; i < ops; i++) plan.push({ name: `ops-${i}`, args: OPS_ARGS });
  return plan;
}

/**
 * A child's LOG_FILE: the fleet's with the child's name before the extension
 * (/var/log/lookout.log → /var/log/lookout.detect-cpu-0.log), so that each
 * process rotates a file of its own; pino-roll would otherwise count and
 * remove the other processes' files as its own.
 */
export function childLogFile(logFile: string, child: string): string {
  const ext = path.extname(logFile);
  return `${logFile.slice(0, logFile.length - ext.length)}.${child}${ext}`;
}

/** The environment of a child: the fleet's, with a log file of its own when the fleet has LOG_FILE. */
function childEnv(env: NodeJS.ProcessEnv, child: string): NodeJS.ProcessEnv {
  return env.LOG_FILE ? { ...env, LOG_FILE: childLogFile(env.LOG_FILE, child) } : env;
}

export interface RunningFleet {
  pids(): Record<string, number | undefined>;
  stop(): Promise<void>;
}

export function superviseFleet(plan: FleetPlan[], options: { logger: Logger; env?: NodeJS.ProcessEnv; maxBackoffMs?: number }): RunningFleet {
  const { logger } = options;
  const maxBackoff = options.maxBackoffMs ?? 60_000;
  const children = new Map<string, ChildProcess>();
  const failures = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  let stopping = false;

  const start = (p: FleetPlan) => {
    const startedAt = Date.now();
    const child = spawn(process.execPath, [BIN, 'worker', ...p.args], {
      env: childEnv(options.env ?? process.env, p.name),
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.set(p.name, child);
    logger.info({ worker: p.name, pid: child.pid, args: p.args }, 'fleet: worker started');
    child.on('exit', (code, signal) => {
      children.delete(p.name);
      if (stopping) return;
      // A process that ran for a minute earns a fresh backoff.
      const n = Date.now() - startedAt > 60_000 ? 1 : (failures.get(p.name) ?? 0) + 1;
      failures.set(p.name, n);
      const delay = Math.min(maxBackoff, 1000 * 2 ** (n - 1));
      logger.warn({ worker: p.name, code, signal, restartInMs: delay }, 'fleet: worker exited; restarting');
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!stopping) start(p);
      }, delay);
      timers.add(timer);
    });
  };
  plan.forEach(start);

  return {
    pids: () => Object.fromEntries(plan.map((p) => [p.name, children.get(p.name)?.pid])),
    async stop() {
      stopping = true;
      for (const t of timers) clearTimeout(t);
      const exits = [...children.values()].map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
      for (const c of children.values()) c.kill('SIGTERM');
      await Promise.all(exits);
      logger.info('fleet: all workers stopped');
    },
  };
}
