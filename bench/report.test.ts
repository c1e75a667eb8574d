// BENCHMARKS.md sections: running one group rewrites its section only.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HEADER, median, parseSections, renderSection, replaceSection, type BenchSection } from './report.js';

const committed = readFileSync(new URL('../BENCHMARKS.md', import.meta.url), 'utf8');
// The groups of the committed file, in its order: a new group's first run adds one.
const groups = [...parseSections(committed).keys()];

function section(group: string, result: string): BenchSection {
  return {
    group,
    title: `The ${group} group`,
    date: '2026-12-01 10:00 UTC',
    machine: 'test machine, 2 cores',
    rows: [[`${group}: a measure`, result, '< 1 s', 'met']],
    notes: [`${group}: how it is taken.`],
  };
}

describe('BENCHMARKS.md sections', () => {
  it('rewrites one group and keeps the other sections byte for byte', () => {
    const before = parseSections(committed);
    expect(groups).toEqual(expect.arrayContaining(['log', 'spool', 'http', 'report']));
    const doc = replaceSection(committed, section('spool', '0.5 s'), groups);
    const after = parseSections(doc);
    expect([...after.keys()]).toEqual(groups);
    for (const g of groups.filter((g) => g !== 'spool')) expect(after.get(g)).toBe(before.get(g));
    expect(after.get('spool')).toBe(renderSection(section('spool', '0.5 s')));
    expect(after.get('spool')).toContain('| spool: a measure | 0.5 s | < 1 s | met |');
    expect(after.get('spool')).toContain('- Date: 2026-12-01 10:00 UTC');
    expect(doc.startsWith(HEADER)).toBe(true);
  });

  it('adding a group leaves the committed file as it was around the new section', () => {
    const added = section('x', '1');
    const doc = replaceSection(committed, added, [...groups, 'x']);
    expect(doc).toContain(renderSection(added));
    expect(doc.replace(`\n\n${renderSection(added)}`, '')).toBe(committed);
  });

  it('puts a new group where the list of groups says, and drops groups no longer listed', () => {
    let doc = replaceSection('', section('spool', '1 s'), ['log', 'catchup', 'spool']);
    doc = replaceSection(doc, section('log', '2 s'), ['log', 'catchup', 'spool']);
    doc = replaceSection(doc, section('catchup', '3 s'), ['log', 'catchup', 'spool']);
    expect([...parseSections(doc).keys()]).toEqual(['log', 'catchup', 'spool']);
    doc = replaceSection(doc, section('spool', '4 s'), ['log', 'spool']);
    expect([...parseSections(doc).keys()]).toEqual(['log', 'spool']);
    expect(() => replaceSection(doc, section('nope', '1 s'), ['log', 'spool'])).toThrow(/"nope" is not in the list/);
  });

  it('escapes a | inside a cell and refuses a section without its closing marker', () => {
    expect(renderSection(section('log', 'a | b'))).toContain('| a \\| b |');
    expect(() => parseSections('<!-- bench:log -->\n## Log\n')).toThrow(/"log" has no closing/);
  });

  it('takes the median of the measurements', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2);
    expect(median([])).toBeNaN();
  });
});
