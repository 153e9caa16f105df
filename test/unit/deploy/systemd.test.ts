// The systemd units in docs/deploy/: a dedicated user, state and cache folders systemd makes, secrets
// from LoadCredential or an EnvironmentFile, the hardening options, a restart policy, the one
// capability that binds :53/:80/:443, and command lines whose flags the CLI knows. Where
// systemd-analyze is installed, `systemd-analyze verify` must accept them too.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CONTROL_HELP } from '../../../src/cli/commands/control.ts';
import { DNS_HELP } from '../../../src/cli/commands/dns.ts';
import { EDGE_HELP } from '../../../src/cli/commands/edge.ts';

const DIR = join(import.meta.dirname, '..', '..', '..', 'docs', 'deploy');
const UNITS = {
  'meridian-control.service': { verb: 'control', help: CONTROL_HELP, bindsLowPorts: false },
  'meridian-edge@.service': { verb: 'edge', help: EDGE_HELP, bindsLowPorts: true },
  'meridian-dns.service': { verb: 'dns', help: DNS_HELP, bindsLowPorts: true },
};

/** Directive → values (a directive may repeat), from the [Service] section. */
function serviceSection(file: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  let section = '';
  for (const raw of readFileSync(join(DIR, file), 'utf8').split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || line === '') continue;
    if (line.startsWith('[')) section = line;
    else if (section === '[Service]') {
      const at = line.indexOf('=');
      const key = line.slice(0, at);
      directives.set(key, [...(directives.get(key) ?? []), line.slice(at + 1)]);
    }
  }
  return directives;
}

describe('systemd units', () => {
  for (const [file, unit] of Object.entries(UNITS)) {
    it(`${file}: a dedicated user, hardening, restarts, state directories and secrets from files`, () => {
      const s = serviceSection(file);
      const one = (key: string) => s.get(key)?.[0];
      assert.equal(one('User'), 'meridian');
      assert.equal(one('NoNewPrivileges'), 'yes');
      assert.equal(one('ProtectSystem'), 'strict');
      assert.equal(one('PrivateTmp'), 'yes');
      assert.match(one('Restart') ?? '', /^(on-failure|always)$/);
      assert.ok(s.has('StateDirectory'), 'StateDirectory');
      assert.ok(s.has('LoadCredential') || s.has('EnvironmentFile'), 'LoadCredential or EnvironmentFile');
      if (unit.bindsLowPorts) {
        assert.equal(one('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
        assert.equal(one('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
      } else {
        assert.equal(one('CapabilityBoundingSet'), '');
      }
      assert.ok(!s.has('MemoryDenyWriteExecute'), "V8's JIT needs W+X pages");
    });

    it(`${file}: ExecStart runs \`meridian ${unit.verb}\` with flags it knows`, () => {
      const exec = serviceSection(file).get('ExecStart')?.[0] ?? '';
      const words = exec.split(/\s+/);
      assert.deepEqual(words.slice(0, 3), ['/usr/bin/node', '/opt/meridian/src/cli/main.ts', unit.verb]);
      for (const flag of words.filter((w) => w.startsWith('--')))
        assert.ok(unit.help.includes(`  ${flag} `), `meridian ${unit.verb} knows ${flag}`);
      // The flags in the env-file examples of the header comment, too.
      const text = readFileSync(join(DIR, file), 'utf8');
      for (const example of text.matchAll(/^#\s+MERIDIAN_\w+_FLAGS=(.*)$/gm)) {
        for (const flag of (example[1] ?? '').split(/\s+/).filter((w) => w.startsWith('--')))
          assert.ok(unit.help.includes(`  ${flag} `), `meridian ${unit.verb} knows ${flag} (example)`);
      }
    });
  }

  it('the master key reaches the control plane through LoadCredential, not the environment', () => {
    const s = serviceSection('meridian-control.service');
    assert.match(
      s.get('LoadCredential')?.[0] ?? '',
      /^master-key:\/etc\/meridian\/credentials\/master\.key$/,
    );
    assert.match(s.get('ExecStart')?.[0] ?? '', /--master-key-file %d\/master-key/);
  });

  it('systemd-analyze verify accepts them (where systemd-analyze is installed)', (t) => {
    const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      t.skip(`no systemd-analyze: ${String(probe.error ?? probe.stderr).trim()}`);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'meridian-units-'));
    try {
      copyFileSync(join(DIR, 'meridian-control.service'), join(dir, 'meridian-control.service'));
      copyFileSync(join(DIR, 'meridian-dns.service'), join(dir, 'meridian-dns.service'));
      copyFileSync(join(DIR, 'meridian-edge@.service'), join(dir, 'meridian-edge@fra-1.service'));
      const run = spawnSync(
        'systemd-analyze',
        [
          'verify',
          '--man=no',
          ...['control', 'edge@fra-1', 'dns'].map((u) => join(dir, `meridian-${u}.service`)),
        ],
        { encoding: 'utf8' },
      );
      // Only the unit files are judged: this machine need not have /usr/bin/node or /opt/meridian.
      const problems = `${run.stdout}${run.stderr}`
        .split('\n')
        .filter((l) => l.trim() !== '' && !/not executable|No such file|Failed to prepare/.test(l));
      assert.deepEqual(problems, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
