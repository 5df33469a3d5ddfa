// What each folder of src/ may import (docs/architecture.md, "What each folder
// may import"). Run by `npm run lint` and by test/architecture/folders.test.ts.
//
// The folders stand in tiers, bottom first. A folder imports only folders of
// lower tiers (and itself): never one of its own tier, never one above. With
// every folder in exactly one tier, that alone keeps the folders free of
// cycles; the folder-scope rule below says it again, in depcruise's words.

/** Bottom first. */
const TIERS = [
  // Libraries with no project imports: the engine, pure text helpers, the
  // logger, the webhook address rules, the fail-fast Redis connection.
  ['text', 'wire', 'logging', 'detection', 'security', 'redis'],
  ['config'],
  // tracing: the OpenTelemetry SDK's start (it reads the config) and the helpers every traced part calls.
  ['db', 'blobs', 'models', 'tracing'],
  ['auth', 'backups', 'health', 'retention'],
  ['metrics', 'alerts'],
  // The job types: queue names, schemas, options, handlers, the registry.
  ['jobs'],
  // The connection bundle: pool, Redis, queues, flow producer, blobs, metrics.
  ['runtime'],
  // What puts work on the queues.
  ['producers'],
  // The processes' parts: the worker process and `lookout fleet`; Bull Board and queue control.
  ['workers', 'board'],
  // The HTTP server (it mounts the board).
  ['api'],
  // Assembly: which process runs what (`lookout all`, `api`, `worker`, …).
  ['cli'],
  ['bench'],
];

/**
 * Arrows that may point up, each for a reason. Only one runs back up by
 * design: an ops job that truly enqueues (the reconcile job runs the
 * reconciler, which puts lost work back on the queues).
 */
const UPWARD = [
  {
    from: '^src/jobs/(reconcile|health-probe)/handler[.]ts$',
    to: '^src/producers/(reconcile|alert-notifications)[.]ts$',
    why: 'the one arrow back up (jobs → producers): ops jobs that truly enqueue: the reconcile job runs the reconciler, the health probe dispatches alert notifications',
  },
];

/** The pg driver and its types, as depcruise resolves them. */
const PG = 'node_modules/(@types/)?pg/';

const folders = TIERS.flat();
/** @param {string} pattern `^src/<folder>/…` @returns {string} */
const folderOf = (pattern) => /^\^src\/([a-z-]+)\//.exec(pattern)[1];
/** The folders an UPWARD arrow joins: depcruise's folder-cycle rule cannot tell one arrow from another. */
const upwardFolders = [...new Set(UPWARD.flatMap((u) => [folderOf(u.from), folderOf(u.to)]))];
const tierOf = new Map(TIERS.flatMap((tier, i) => tier.map((f) => [f, i])));
/** @param {string[]} names */
const anyOf = (names) => `^src/(${names.join('|')})/`;

/** For each folder, the folders it must not import: its own tier but itself, and every tier above. */
const layerRules = folders.flatMap((folder) => {
  const forbidden = folders.filter((f) => f !== folder && tierOf.get(f) >= tierOf.get(folder));
  if (forbidden.length === 0) return [];
  const exceptions = UPWARD.filter((u) => u.from.startsWith(`^src/${folder}/`));
  const rule = {
    name: `layer-${folder}`,
    severity: 'error',
    comment: `src/${folder} imports only folders below its tier (.dependency-cruiser.cjs TIERS)`,
    from: { path: `^src/${folder}/`, ...(exceptions.length ? { pathNot: exceptions.map((u) => u.from) } : {}) },
    to: { path: anyOf(forbidden) },
  };
  const excepted = exceptions.map((u) => ({
    name: `layer-${folder}`,
    severity: 'error',
    comment: `${u.from}: ${u.why}; nothing else above`,
    from: { path: u.from },
    to: { path: anyOf(forbidden), pathNot: u.to },
  }));
  return [rule, ...excepted];
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'folder-in-no-tier',
      severity: 'error',
      comment: 'every folder of src/ stands in a tier of .dependency-cruiser.cjs: add a new folder there',
      from: { path: '^src/', pathNot: anyOf(folders) },
      to: {},
    },
    {
      name: 'pg-only-in-db',
      severity: 'error',
      comment: 'the pg driver (a value import: a pool, a client, a connection) only in src/db; elsewhere its types alone (import type)',
      from: { path: '^src/', pathNot: '^src/db/' },
      to: { path: PG, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'no module cycles (type-only imports aside: they vanish at compile time)',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'no-circular-folders',
      severity: 'error',
      scope: 'folder',
      comment: 'no cycles between the folders of src/ but through the arrows of UPWARD (test/architecture/folders.test.ts checks those exactly)',
      from: { path: '^src/', pathNot: `^src/(${upwardFolders.join('|')})(/|$)` },
      to: { circular: true },
    },
  ],
  options: {
    // src/ and the pg driver (for pg-only-in-db), no other package: their insides are not followed.
    includeOnly: ['^src/', PG],
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs'] },
  },
};
// For test/architecture/folders.test.ts (not enumerable: depcruise checks the config's keys).
Object.defineProperty(module.exports, 'TIERS', { value: TIERS });
Object.defineProperty(module.exports, 'UPWARD', { value: UPWARD });
