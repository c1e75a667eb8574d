// A YAML file checked against a schema (schema.ts): the value, or a
// ConfigError naming the file, the line and the key of every problem. Pure;
// shared by the config file and the web config file.
import { LineCounter, isNode, parseDocument, visit, type Document } from 'yaml';
import type { Issue, Node } from './schema.js';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { key: string; line?: number; message: string }[],
    options?: ErrorOptions,
  ) {
    super(
      problems.map((p) => `${file}${p.line ? `:${p.line}` : ''}: ${p.key ? `${p.key}: ` : ''}${p.message}`).join('\n'),
      options,
    );
    this.name = 'ConfigError';
  }
}

/** Parses YAML text and checks it against `schema`. Throws ConfigError naming file, line and key. */
export function parseYamlFile<T>(schema: Node<T>, text: string, file: string): T {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ key: '', line: lines.linePos(e.pos[0]).line, message: `invalid YAML: ${yamlMessage(e.message, e.code)}` })),
    );
  }
  const issues: Issue[] = [];
  const value = schema.check(toJsBounded(doc, lines, file) ?? {}, [], issues);
  if (value === undefined) {
    throw new ConfigError(
      file,
      issues.map((i) => ({ key: keyName(i.path), line: lineOf(doc, lines, i.path), message: i.message })),
    );
  }
  return value;
}

/**
 * More alias expansions than this refuses the file. yaml counts the nodes
 * each alias copies: a "billion laughs" file of a few hundred bytes would
 * otherwise expand into gigabytes. 100 is yaml's own default, and far more
 * than a config file needs.
 */
export const MAX_ALIAS_COUNT = 100;

/** doc.toJS() with the alias bound, its failure turned into a ConfigError naming the file and the first alias. */
function toJsBounded(doc: Document, lines: LineCounter, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    if (!(err instanceof ReferenceError) || !/alias/i.test(err.message)) throw err;
    let line: number | undefined;
    visit(doc, {
      Alias(_key, node) {
        if (node.range) line = lines.linePos(node.range[0]).line;
        return visit.BREAK;
      },
    });
    throw new ConfigError(
      file,
      [{ key: '', line, message: `refused: its aliases expand to more than ${MAX_ALIAS_COUNT} copies of what they name (a YAML alias bomb would exhaust memory); write the values out` }],
      { cause: err },
    );
  }
}

/** A Windows path in double quotes is the usual way to meet YAML's escapes: say how to write it. */
function yamlMessage(message: string, code: string): string {
  const first = message.split('\n')[0]!;
  return code === 'BAD_DQ_ESCAPE'
    ? `${first} (backslashes are escapes inside double quotes: write Windows paths unquoted, in 'single quotes', or with forward slashes)`
    : first;
}

function keyName(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** The line of the deepest node on the path that exists in the document. For a key, the key's own line. */
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
  for (let depth = path.length; depth > 0; depth--) {
    const parentPath = path.slice(0, depth - 1);
    const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
    const key = path[depth - 1];
    if (parent && typeof parent === 'object' && 'items' in parent && Array.isArray(parent.items)) {
      for (const item of parent.items as unknown[]) {
        // Map pairs carry the key node; sequences hold the nodes themselves.
        if (item && typeof item === 'object' && 'key' in item) {
          const k = (item as { key: unknown }).key;
          if (isNode(k) && (k as { value?: unknown }).value === key && k.range) return lines.linePos(k.range[0]).line;
        }
      }
      if (typeof key === 'number') {
        const node = parent.items[key] as unknown;
        if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
      }
    }
  }
  return undefined;
}
