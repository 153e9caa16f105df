// The Dockerfile's invariants, checked without docker (test/integration/container.test.ts builds it
// where a daemon answers): multi-stage, production dependencies only, a non-root runtime user, an
// entrypoint that exists, a health check, state in volumes, and a .dockerignore that keeps the host's
// node_modules and secrets out of the build context.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

/** Instructions with their continuation lines joined, comments dropped. */
const instructions = text
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'))
  .map((line) => {
    const [keyword = '', ...rest] = line.split(/\s+/);
    return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
  });
const stages: { from: string; body: typeof instructions }[] = [];
for (const instruction of instructions) {
  if (instruction.keyword === 'FROM') stages.push({ from: instruction.args, body: [] });
  else stages.at(-1)?.body.push(instruction);
}
const runtime = stages.at(-1) as (typeof stages)[number];
const of = (keyword: string) => runtime.body.filter((i) => i.keyword === keyword);

describe('Dockerfile', () => {
  it('is multi-stage: a named build stage on Node 24, a slim Node 24 runtime copying from it', () => {
    assert.ok(stages.length >= 2, 'at least two FROM');
    assert.match(stages[0]?.from ?? '', /^node:24[\w.-]* AS build$/i);
    assert.match(runtime.from, /^node:24[\w.-]*-slim\b/);
    assert.ok(
      of('COPY').some((c) => c.args.startsWith('--from=build')),
      'the runtime stage copies from the build stage',
    );
    assert.ok(!runtime.body.some((i) => /\bnpm (ci|install)\b/.test(i.args)), 'no npm install at runtime');
  });

  it('installs production dependencies only, from the lock file', () => {
    const installs = instructions.filter((i) => i.keyword === 'RUN' && /\bnpm (ci|install|i)\b/.test(i.args));
    assert.equal(installs.length, 1);
    assert.match(installs[0]?.args ?? '', /\bnpm ci --omit=dev\b/);
    assert.ok(
      stages[0]?.body.some((i) => i.keyword === 'COPY' && /package-lock\.json/.test(i.args)),
      'package-lock.json is copied before npm ci',
    );
  });

  it('runs as a non-root user', () => {
    const users = of('USER');
    assert.equal(users.length, 1, 'one USER in the runtime stage');
    const user = (users[0]?.args ?? '').split(':')[0] ?? '';
    assert.ok(user !== '' && user !== 'root' && user !== '0', `USER ${user} is not root`);
    assert.ok(
      of('RUN').some((r) => new RegExp(`useradd\\b.*\\b${user}\\b`).test(r.args)),
      `the runtime stage creates ${user}`,
    );
  });

  it('its entrypoint is the CLI, and every file it copies exists', () => {
    const entrypoint = of('ENTRYPOINT')[0]?.args ?? '';
    assert.deepEqual(JSON.parse(entrypoint), ['node', 'src/cli/main.ts']);
    assert.ok(existsSync(join(ROOT, 'src', 'cli', 'main.ts')));
    for (const copy of stages[0]?.body.filter((i) => i.keyword === 'COPY') ?? []) {
      const sources = copy.args
        .split(/\s+/)
        .filter((a) => !a.startsWith('--'))
        .slice(0, -1);
      for (const source of sources) assert.ok(existsSync(join(ROOT, source)), `COPY ${source} exists`);
    }
  });

  it('has a health check on /healthz and volumes for its state', () => {
    const check = of('HEALTHCHECK')[0]?.args ?? '';
    assert.match(check, /CMD/);
    assert.match(text, /MERIDIAN_HEALTHCHECK_URL=http:\/\/127\.0\.0\.1:9180\/healthz/);
    const volumes = JSON.parse(of('VOLUME')[0]?.args ?? '[]') as string[];
    assert.ok(volumes.includes('/var/lib/meridian') && volumes.includes('/var/cache/meridian'));
  });

  it('needs no dev dependency at run time: every package src/ imports is a dependency', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    const allowed = new Set([
      ...Object.keys(pkg.dependencies),
      ...Object.keys(pkg.optionalDependencies ?? {}),
    ]);
    const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(ROOT, 'src', f));
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      for (const match of source.matchAll(/^\s*import\s+(?!type\b)[^'"]*['"]([^'"]+)['"]/gm)) {
        const specifier = match[1] as string;
        if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
        const name = specifier.startsWith('@')
          ? specifier.split('/').slice(0, 2).join('/')
          : (specifier.split('/')[0] as string);
        assert.ok(allowed.has(name), `${file} imports ${name}, which is not a production dependency`);
      }
    }
  });
});

describe('.dockerignore', () => {
  it("keeps the host's node_modules, git, state and keys out of the build context", () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['node_modules', '.git', '*.db', 'master.key', '*.pem', '.meridian-up'])
      assert.ok(ignored.includes(entry), `.dockerignore lists ${entry}`);
    for (const needed of ['src', 'bin', 'package.json', 'package-lock.json'])
      assert.ok(!ignored.includes(needed), `${needed} is in the build context`);
  });
});
