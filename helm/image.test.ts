// The container image, checked without a Docker engine: what the runtime stage
// runs must exist, be a production dependency, and agree with the chart.
import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PORT } from '../src/http/server.js';
import { defaultPositionsFile } from '../src/config/paths.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  body: Instruction[];
}

/** Dockerfile instructions by stage; comments and line continuations handled. */
function parseDockerfile(text: string): Stage[] {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of logical) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile: cannot read instruction "${line}"`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ from: f![1]!, ...(f![2] ? { name: f![2] } : {}), body: [] });
    } else if (stages.length) stages.at(-1)!.body.push({ op, args });
  }
  return stages;
}

const stages = parseDockerfile(read('Dockerfile'));
const runtime = stages.at(-1)!;
const ops = (stage: Stage, op: string): string[] => stage.body.filter((i) => i.op === op).map((i) => i.args);
const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };
const chartValues = parse(read('helm/mailrelay-exporter/values.yaml')) as any;

describe('Dockerfile', () => {
  it('is multi-stage: builds with dev dependencies, runs with production ones', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages.find((s) => ops(s, 'RUN').some((r) => r.includes('npm run build')));
    expect(build, 'a stage runs npm run build').toBeDefined();
    expect(ops(build!, 'RUN').some((r) => /npm ci(?!.*--omit=dev)/.test(r))).toBe(true);
    const deps = stages.find((s) => ops(s, 'RUN').some((r) => /npm ci .*--omit=dev/.test(r)));
    expect(deps, 'a stage installs production dependencies only').toBeDefined();
    expect(ops(runtime, 'RUN').join(' ')).not.toMatch(/npm (ci|install)/);
  });

  it('copies into the runtime stage only the built output, production modules and package.json', () => {
    const copies = ops(runtime, 'COPY');
    expect(copies).toHaveLength(3);
    expect(copies).toContain(`--from=${stages.find((s) => ops(s, 'RUN').some((r) => /--omit=dev/.test(r)))!.name} /app/node_modules ./node_modules`);
    expect(copies.some((c) => /^--from=\S+ \S+\/dist\/src \.\/dist\/src$/.test(c))).toBe(true);
    expect(copies).toContain('package.json ./');
  });

  it('runs the package bin as a non-root numeric user, the chart runAsUser, without HEALTHCHECK', () => {
    const user = ops(runtime, 'USER');
    expect(user).toHaveLength(1);
    const [uid, gid] = user[0]!.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    expect(chartValues.podSecurityContext.runAsUser).toBe(uid);
    expect(chartValues.securityContext.runAsUser).toBe(uid);
    expect(stages.flatMap((s) => ops(s, 'HEALTHCHECK'))).toEqual([]);
    expect(JSON.parse(ops(runtime, 'ENTRYPOINT')[0]!)).toEqual(['node', pkg.bin['mailrelay-exporter']]);
    expect(ops(runtime, 'WORKDIR')).toEqual(['/app']);
  });

  it('reads its config where the chart mounts it and listens on the default port', () => {
    expect(JSON.parse(ops(runtime, 'CMD')[0]!)).toEqual(['--config.file=/etc/mailrelay-exporter/config.yml']);
    expect(ops(runtime, 'EXPOSE')).toEqual([String(DEFAULT_PORT)]);
    expect(chartValues.containerPort).toBe(DEFAULT_PORT);
    expect(chartValues.service.port).toBe(DEFAULT_PORT);
    expect(read('helm/mailrelay-exporter/templates/_helpers.tpl')).toMatch(/define "mailrelay-exporter\.configDir" -}}\n\/etc\/mailrelay-exporter\n/);
    // The chart's positions folder is the one the image prepares for its user.
    expect(ops(runtime, 'RUN').join(' ')).toContain(chartValues.config.positions_file.replace(/\/[^/]+$/, ''));
  });

  it("declares the default positions folder a volume, created for the runtime user, so positions survive the container", () => {
    // Without systemd's $STATE_DIRECTORY the exporter saves its positions here unless the config says otherwise.
    const folder = defaultPositionsFile({}, 'linux').replace(/\/[^/]+$/, '');
    expect(folder).toBe('/var/lib/mailrelay-exporter');
    expect(ops(runtime, 'VOLUME').map((v) => JSON.parse(v) as string[])).toEqual([[folder]]);
    const user = ops(runtime, 'USER')[0]!;
    const run = ops(runtime, 'RUN').join(' ');
    expect(run).toMatch(new RegExp(`mkdir -p [^&]*${folder}`));
    expect(run).toContain(`chown ${user} ${folder}`);
    // The VOLUME comes after the chown: Docker copies the image folder (and its owner) into a new named volume.
    const body = runtime.body.map((i) => i.op);
    expect(body.indexOf('VOLUME')).toBeGreaterThan(body.lastIndexOf('RUN'));
    expect(chartValues.config.positions_file).toBe(defaultPositionsFile({}, 'linux'));
  });

  it('gives the build stage everything tsconfig.build.json compiles', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const build = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
    for (const dir of [...build.include, 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      expect(ignored, `${dir} reaches the build`).not.toContain(dir);
    }
    for (const local of ['node_modules', 'dist', '.git']) expect(ignored).toContain(local);
  });

  it('has every package that the runtime code imports among the production dependencies', () => {
    const files = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
      );
    const builtins = new Set(builtinModules);
    const imported = new Map<string, string>();
    for (const file of files('src')) {
      const text = read(file);
      // Static imports and re-exports (type-only ones vanish at build), dynamic import(), bare import.
      const specs = [
        ...[...text.matchAll(/^\s*(?:import|export)\s+(type\s)?[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm)].filter((m) => !m[1]).map((m) => m[2]!),
        ...[...text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!),
        ...[...text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
      ].filter((spec) => !spec.startsWith('.'));
      for (const spec of specs) {
        if (spec.startsWith('node:') || builtins.has(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        imported.set(name, relative(ROOT, join(ROOT, file)));
      }
    }
    expect(imported.size).toBeGreaterThan(0);
    for (const [name, file] of imported) expect(Object.keys(pkg.dependencies), `${name} (imported by ${file})`).toContain(name);
  });
});
