// Writes alerts/mailrelay.rules.yml from DEFAULT_THRESHOLDS: `node dist/alerts/generate.js [output]`.
// With `--levels DIR`, writes instead the recording rules split by dependency
// level (DIR/1.yml, DIR/2.yml, …) for `promtool tsdb create-blocks-from rules`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { DEFAULT_THRESHOLDS, buildRules, recordingLevels, renderRulesYaml } from './rules.js';

const levelsAt = process.argv.indexOf('--levels');
if (levelsAt >= 0) {
  const dir = process.argv[levelsAt + 1];
  if (dir === undefined) throw new Error('--levels needs a folder');
  mkdirSync(dir, { recursive: true });
  recordingLevels(buildRules(DEFAULT_THRESHOLDS).groups).forEach((rules, i) => {
    const file = join(dir, `${i + 1}.yml`);
    writeFileSync(file, stringify({ groups: [{ name: `mailrelay.level${i + 1}`, rules }] }, { lineWidth: 0 }));
    process.stdout.write(`wrote ${file} (${rules.length} recording rules)\n`);
  });
} else {
  // dist/alerts/generate.js → <repo>/alerts/mailrelay.rules.yml
  const output = process.argv[2] ?? fileURLToPath(new URL('../../alerts/mailrelay.rules.yml', import.meta.url));
  writeFileSync(output, renderRulesYaml(DEFAULT_THRESHOLDS));
  process.stdout.write(`wrote ${output}\n`);
}
