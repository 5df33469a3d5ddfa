// deploy/k8s, deploy/systemd and the rollout scripts, checked for the fields
// that matter (no cluster here): every process kind, a GPU per detect pod,
// grace periods longer than the drain, non-root, KEDA on BullMQ's real wait
// list key, a migration Job, PDBs, units that run real commands.
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/config.js';
import { KNOWN_QUEUES } from '../../src/jobs/registry.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { REDIS_URL } from '../helpers/test-env.js';

const K8S = path.join(REPO_ROOT, 'deploy', 'k8s');

async function manifests(): Promise<Array<Record<string, any>>> {
  const docs: Array<Record<string, any>> = [];
  for (const file of (await readdir(K8S)).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(await readFile(path.join(K8S, file), 'utf8'))) {
      expect(doc.errors, file).toEqual([]);
      docs.push(doc.toJSON() as Record<string, any>);
    }
  }
  return docs;
}

const byKind = (docs: Array<Record<string, any>>, kind: string) => docs.filter((d) => d.kind === kind);

describe('Kubernetes manifests', () => {
  it('have a Deployment per process kind, each safe to drain and non-root, with a PDB', async () => {
    const docs = await manifests();
    const deployments = byKind(docs, 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['lookout-api', 'lookout-detect-cpu', 'lookout-detect-gpu', 'lookout-ops']);
    const config = byKind(docs, 'ConfigMap')[0]!.data as Record<string, string>;
    const graceMs = Number(config.SHUTDOWN_GRACE_MS);
    const pdbs = byKind(docs, 'PodDisruptionBudget');
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      expect(pod.terminationGracePeriodSeconds * 1000, d.metadata.name).toBeGreaterThan(graceMs);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      const [container] = pod.containers;
      expect(container.envFrom.map((e: any) => Object.keys(e)[0])).toEqual(['configMapRef', 'secretRef']);
      const [command, ...args] = container.args as string[];
      expect(['api', 'worker']).toContain(command);
      const queues = args[args.indexOf('--queues') + 1];
      if (command === 'worker') for (const q of queues!.split(',')) expect(KNOWN_QUEUES).toContain(q);
      expect(d.spec.selector.matchLabels).toEqual(d.spec.template.metadata.labels);
      expect(
        pdbs.find((p) => JSON.stringify(p.spec.selector.matchLabels) === JSON.stringify(d.spec.selector.matchLabels)),
        `PDB for ${d.metadata.name}`,
      ).toBeDefined();
    }
    const gpu = deployments.find((d) => d.metadata.name === 'lookout-detect-gpu')!.spec.template.spec.containers[0];
    expect(gpu.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(gpu.args).toEqual(expect.arrayContaining(['--device', 'cuda:0']));
    const api = deployments.find((d) => d.metadata.name === 'lookout-api')!.spec.template.spec.containers[0];
    expect(api.readinessProbe.httpGet.path).toBe('/readyz');
    expect(byKind(docs, 'Service')[0]!.spec.selector).toEqual(deployments.find((d) => d.metadata.name === 'lookout-api')!.spec.selector.matchLabels);
    const job = byKind(docs, 'Job')[0]!;
    expect(job.spec.template.spec.containers[0].args).toEqual(['migrate', 'up']);
    const secret = byKind(docs, 'Secret')[0]!;
    expect(Object.keys(secret.stringData)).toEqual(expect.arrayContaining(['DATABASE_URL', 'BACKUP_ENCRYPTION_KEY']));
  });

  it('give the owner role (DATABASE_OWNER_URL) only to the migrate Job and the ops workers, optionally', async () => {
    const docs = await manifests();
    const ownerEnv = (pod: Record<string, any>) =>
      (pod.spec.containers[0].env ?? []).filter((e: any) => e.name === 'DATABASE_OWNER_URL').map((e: any) => e.valueFrom.secretKeyRef);
    const ownerSecret = byKind(docs, 'Secret').find((s) => s.metadata.name === 'lookout-owner-secrets')!;
    expect(Object.keys(ownerSecret.stringData)).toEqual(['DATABASE_OWNER_URL']);
    const ref = { name: 'lookout-owner-secrets', key: 'DATABASE_OWNER_URL', optional: true };
    expect(ownerEnv(byKind(docs, 'Job')[0]!.spec.template)).toEqual([ref]);
    for (const d of byKind(docs, 'Deployment')) {
      expect(ownerEnv(d.spec.template), d.metadata.name).toEqual(d.metadata.name === 'lookout-ops' ? [ref] : []);
      // No other way in for the owner's credentials: the shared Secret does not carry them.
      expect(d.spec.template.spec.containers[0].envFrom.map((e: any) => (e.secretRef ?? e.configMapRef).name)).toEqual(['lookout-config', 'lookout-secrets']);
    }
    expect(Object.keys(byKind(docs, 'Secret').find((s) => s.metadata.name === 'lookout-secrets')!.stringData)).not.toContain('DATABASE_OWNER_URL');
  });

  it("scale detect workers with KEDA on BullMQ's real wait list", async () => {
    const docs = await manifests();
    const config = byKind(docs, 'ConfigMap')[0]!.data as Record<string, string>;
    const scaled = byKind(docs, 'ScaledObject');
    expect(scaled.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual(['lookout-detect-cpu', 'lookout-detect-gpu']);
    // Where BullMQ really keeps waiting jobs, with the configured prefix.
    const prefix = `k8s_${Date.now()}`;
    const queue = new Queue('detect', { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), prefix });
    const redis = new Redis(REDIS_URL);
    try {
      await queue.add('probe', {});
      expect(await redis.llen(`${prefix}:detect:wait`)).toBe(1);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      redis.disconnect();
    }
    for (const s of scaled) {
      const trigger = s.spec.triggers[0];
      expect(trigger.type).toBe('redis');
      expect(trigger.metadata.listName).toBe(`${config.LOOKOUT_QUEUE_PREFIX}:detect:wait`);
    }
  });
});

/**
 * The kustomize overlay deploy/k8s-s3 rendered here, as kustomize renders it
 * (`kubectl kustomize deploy/k8s-s3`; no kubectl needed): the base's
 * resources, then each JSON 6902 patch (add, remove, replace) on its targets
 * (kind, and name as a regular expression).
 */
async function renderS3Variant(): Promise<Array<Record<string, any>>> {
  const base = parse(await readFile(path.join(K8S, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  const docs: Array<Record<string, any>> = [];
  for (const file of base.resources) for (const doc of parseAllDocuments(await readFile(path.join(K8S, file), 'utf8'))) docs.push(doc.toJSON());
  const overlay = parse(await readFile(path.join(REPO_ROOT, 'deploy', 'k8s-s3', 'kustomization.yaml'), 'utf8')) as {
    resources: string[];
    patches: Array<{ target: { kind: string; name: string }; patch: string }>;
  };
  expect(overlay.resources).toEqual(['../k8s']);
  for (const { target, patch } of overlay.patches) {
    const targets = docs.filter((d) => d.kind === target.kind && new RegExp(`^(?:${target.name})$`).test(d.metadata.name));
    expect(targets.length, `${target.kind} ${target.name}`).toBeGreaterThan(0);
    for (const op of parse(patch) as Array<{ op: string; path: string; value?: unknown }>) {
      for (const doc of targets) {
        const keys = op.path.split('/').slice(1);
        const last = keys.pop()!;
        const parent = keys.reduce((node: any, k) => node?.[k], doc);
        expect(parent, `${op.path} in ${doc.metadata.name}`).toBeDefined();
        if (op.op !== 'add') expect(parent[last], `${op.op} ${op.path} in ${doc.metadata.name}`).toBeDefined();
        if (op.op === 'remove') delete parent[last];
        else parent[last] = structuredClone(op.value);
      }
    }
  }
  return docs;
}

describe('the BLOB_STORE=s3 variant (kubectl apply -k deploy/k8s-s3)', () => {
  it('the base kustomization applies every manifest but the Secret example', async () => {
    const base = parse(await readFile(path.join(K8S, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    const files = (await readdir(K8S)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && f !== 'secret.example.yaml');
    expect([...base.resources].sort()).toEqual(files.sort());
  });

  it('has no ReadWriteMany volume: API and detect pods mount nothing; one ops pod keeps a ReadWriteOnce volume for backups', async () => {
    const docs = await renderS3Variant();
    const config = byKind(docs, 'ConfigMap')[0]!.data as Record<string, string>;
    expect(config).toMatchObject({ BLOB_STORE: 's3', S3_BUCKET: expect.any(String), S3_REGION: 'us-east-1' });
    expect(config).not.toHaveProperty('BLOB_DIR');
    // What the pods' environment gives Lookout: a valid s3 configuration, BLOB_DIR nowhere.
    expect(loadConfig(config).blobs).toEqual({ store: 's3', bucket: config.S3_BUCKET, prefix: '' });

    const claims = byKind(docs, 'PersistentVolumeClaim');
    expect(claims.map((c) => c.spec.accessModes)).toEqual([['ReadWriteOnce']]);
    const deployments = byKind(docs, 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['lookout-api', 'lookout-detect-cpu', 'lookout-detect-gpu', 'lookout-ops']);
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      if (d.metadata.name === 'lookout-ops') {
        expect(pod.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: claims[0]!.metadata.name } }]);
        expect(d.spec.replicas).toBe(1);
        expect(d.spec.strategy).toEqual({ type: 'Recreate' });
      } else {
        expect(pod.volumes, d.metadata.name).toBeUndefined();
        expect(pod.containers[0].volumeMounts, d.metadata.name).toBeUndefined();
      }
    }
    // Each Deployment still has a PDB, and none that would block every drain of the one ops pod.
    const opsPdb = byKind(docs, 'PodDisruptionBudget').find((p) => p.metadata.name === 'lookout-ops')!;
    expect(opsPdb.spec).toMatchObject({ maxUnavailable: 1 });
    expect(opsPdb.spec.minAvailable).toBeUndefined();
    // The base is untouched: the default is still the shared volume.
    const baseClaims = byKind(await manifests(), 'PersistentVolumeClaim');
    expect(baseClaims.map((c) => c.spec.accessModes)).toEqual([['ReadWriteMany']]);
  });
});

describe('systemd units and rollout scripts', () => {
  it('units run real lookout commands and stop within the drain', async () => {
    const dir = path.join(REPO_ROOT, 'deploy', 'systemd');
    for (const file of await readdir(dir)) {
      const unit = await readFile(path.join(dir, file), 'utf8');
      const exec = /^ExecStart=\/usr\/bin\/node \/opt\/lookout\/bin\/lookout\.js (\w+)/m.exec(unit);
      expect(['api', 'fleet']).toContain(exec?.[1]);
      expect(Number(/^TimeoutStopSec=(\d+)/m.exec(unit)?.[1])).toBeGreaterThan(30);
      expect(unit).toMatch(/^Restart=always$/m);
    }
  });

  it('rollout.sh and rollback.sh are valid bash', () => {
    for (const script of ['rollout.sh', 'rollback.sh']) {
      execFileSync('bash', ['-n', path.join(REPO_ROOT, 'deploy', script)]);
    }
  });
});
