#!/usr/bin/env node
// Writes dashboards/*.json from build.ts. Run after a build:
// `node dist/dashboards/generate.js [OUTPUT_DIR]` (default: the repository's dashboards/).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDashboards, renderDashboard } from './build.js';

// Compiled to dist/dashboards/generate.js: the repository root is two levels up.
const outDir = process.argv[2] ?? fileURLToPath(new URL('../../dashboards/', import.meta.url));
for (const [file, d] of Object.entries(buildDashboards())) {
  writeFileSync(join(outDir, file), renderDashboard(d));
  process.stdout.write(`wrote ${join(outDir, file)}\n`);
}
