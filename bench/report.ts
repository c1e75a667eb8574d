// BENCHMARKS.md as one section per benchmark group, each between markers and
// with its own date and machine line, so `npm run bench -- spool` rewrites the
// spool section and leaves the figures of the other groups as they were
// measured. Pure: run.ts reads and writes the file.

/** measure, result, target, verdict. */
export type BenchRow = [string, string, string, string];


/** What a benchmark group measured: its table rows and how each figure is taken. */
export interface GroupResult {
  rows: BenchRow[];
  /** How each figure is taken and what limits it: Markdown list items, without their "- ". */
  notes: string[];
}

/** A benchmark group: `npm run bench -- <name>` runs it and rewrites its section. */
export interface BenchGroup {
  /** Its name on the command line and its section marker. */
  name: string;
  /** The section heading in BENCHMARKS.md. */
  title: string;
  run(): Promise<GroupResult>;
}

export interface BenchSection extends GroupResult {
  /** The group's name on the command line (`npm run bench -- spool`), also its marker. */
  group: string;
  title: string;
  /** "2026-11-28 03:27 UTC" */
  date: string;
  machine: string;
}

export const HEADER = `# Benchmarks

Measured by \`npm run bench\` (\`bench/run.ts\`). With no argument it runs every group
and rewrites this whole file; \`npm run bench -- spool\` (any group names) runs only those
groups and rewrites only their sections, so each section carries its own date and machine.
Timing is never asserted in tests; this is where speed and memory are judged. The
development machine is shared and noisy: compare ratios to the references measured in
the same run rather than absolute times across sections.
`;

const begin = (group: string): string => `<!-- bench:${group} -->`;
const end = (group: string): string => `<!-- /bench:${group} -->`;

export function renderSection(s: BenchSection): string {
  const table = ['| measure | result | target | |', '|---|---|---|---|', ...s.rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
  return [
    begin(s.group),
    `## ${s.title}`,
    '',
    `- Date: ${s.date}`,
    `- Machine: ${s.machine}`,
    '',
    ...table,
    '',
    'How each figure is taken:',
    ...s.notes.map((n) => `- ${n}`),
    end(s.group),
  ].join('\n');
}

/** A table cell: a `|` inside it would start a new column. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

/**
 * The document with `section` in place of that group's old section. Sections
 * of the other groups in `order` are kept byte for byte, in that order; a
 * section of a group no longer in `order` is dropped, and the header is
 * rewritten. A document without markers (or empty) starts afresh.
 */
export function replaceSection(doc: string, section: BenchSection, order: readonly string[]): string {
  if (!order.includes(section.group)) throw new Error(`benchmark group "${section.group}" is not in the list of groups`);
  const sections = parseSections(doc);
  sections.set(section.group, renderSection(section));
  const present = order.filter((g) => sections.has(g));
  return `${HEADER}\n${present.map((g) => sections.get(g)!).join('\n\n')}\n`;
}

/** The marked sections of a document, by group, in document order. */
export function parseSections(doc: string): Map<string, string> {
  const out = new Map<string, string>();
  const marker = /<!-- bench:([\w-]+) -->/g;
  for (let m = marker.exec(doc); m; m = marker.exec(doc)) {
    const group = m[1]!;
    const close = doc.indexOf(end(group), m.index);
    if (close < 0) throw new Error(`BENCHMARKS.md: the section of "${group}" has no closing ${end(group)}`);
    out.set(group, doc.slice(m.index, close + end(group).length));
    marker.lastIndex = close;
  }
  return out;
}

/** Formats a number for the tables: thousands separators, fixed decimals, n/a for NaN. */
export function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || Number.isNaN(n)) return 'n/a';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function verdict(ok: boolean | undefined): string {
  return ok === undefined ? 'n/a' : ok ? 'met' : '**missed**';
}

/** The median of a list of measurements (the middle one; the lower middle for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
}
