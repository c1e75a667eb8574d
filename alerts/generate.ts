// Writes alerts/mailrelay.rules.yml from DEFAULT_THRESHOLDS: `node dist/alerts/generate.js [output]`.
// (Its recording rules by dependency level: `mailrelay-exporter backfill --rule-levels DIR`.)
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_THRESHOLDS, renderRulesYaml } from './rules.js';

// dist/alerts/generate.js → <repo>/alerts/mailrelay.rules.yml
const output = process.argv[2] ?? fileURLToPath(new URL('../../alerts/mailrelay.rules.yml', import.meta.url));
writeFileSync(output, renderRulesYaml(DEFAULT_THRESHOLDS));
process.stdout.write(`wrote ${output}\n`);
