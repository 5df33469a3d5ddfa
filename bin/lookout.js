#!/usr/bin/env node
// The `lookout` executable: runs the compiled CLI (npm ci builds it through
// the prepare script; `npm run build` rebuilds it).
import { main } from '../dist/cli/main.js';

main().catch((err) => {
  process.stderr.write(`lookout: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
