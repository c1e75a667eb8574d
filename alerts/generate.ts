// Writes alerts/mailrelay.rules.yml from DEFAULT_THRESHOLDS: `node dist/alerts/generate.js [output]`,
// and alerts/tests/mailrelay.rules.yml, the same rules for promtool's unit tests.
// (Its recording rules by dependency level: `mailrelay-exporter backfill --rule-levels DIR`.)
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_THRESHOLDS, renderPromtoolTestRulesYaml, renderRulesYaml } from './rules.js';

// dist/alerts/generate.js → <repo>/alerts/mailrelay.rules.yml
const output = process.argv[2] ?? fileURLToPath(new URL('../../alerts/mailrelay.rules.yml', import.meta.url));
writeFileSync(output, renderRulesYaml(DEFAULT_THRESHOLDS));
process.stdout.write(`wrote ${output}\n`);
// The same rules as the unit tests of alerts/tests/ need them (see forPromtoolTest).
if (process.argv[2] === undefined) {
  const tests = fileURLToPath(new URL('../../alerts/tests/mailrelay.rules.yml', import.meta.url));
  writeFileSync(tests, renderPromtoolTestRulesYaml(DEFAULT_THRESHOLDS));
  process.stdout.write(`wrote ${tests}\n`);
}
