#!/usr/bin/env node
// The `lookout` executable: runs the compiled CLI (npm ci builds it through
// the prepare script; `npm run build` rebuilds it). Tracing starts first, for
// the server commands whose environment sets an OTLP endpoint: its hooks
// instrument only modules imported after them, so the CLI is imported after.
import { startTracingFor } from '../dist/tracing/start-tracing.js';

await startTracingFor(process.argv.slice(2));
const { main } = await import('../dist/cli/main.js');

main().catch((err) => {
  process.stderr.write(`lookout: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
