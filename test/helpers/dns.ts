// Helpers for the GeoDNS tests: start `meridian dns` as a real process (through bin/meridian.mjs),
// ask it questions with a real DNS client (kdig, from Debian's knot-dnsutils), and read the answers
// from kdig's RFC 8427 JSON output.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'meridian.mjs');

export interface DnsProc {
  readonly child: ChildProcess;
  readonly port: number;
  readonly adminPort: number | null;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `meridian dns --listen 127.0.0.1:0 ...args` and waits for its "dns listening" line. */
export async function startDnsProcess(args: string[], timeoutMs = 20_000): Promise<DnsProc> {
  const child = spawn(process.execPath, [BIN, 'dns', '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let errText = '';
  child.stderr?.on('data', (d: Buffer) => (errText += d.toString()));
  child.stdout?.resume();
  const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
  const { port, adminPort } = await new Promise<{ port: number; adminPort: number | null }>(
    (resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`meridian dns not ready after ${timeoutMs} ms\n${errText}`)),
        timeoutMs,
      );
      lines.on('line', (line) => {
        try {
          const entry = JSON.parse(line) as { msg?: string; address?: string; admin?: string };
          if (entry.msg !== 'dns listening') return;
          clearTimeout(timer);
          resolve({
            port: Number(entry.address?.split(':').pop()),
            adminPort: entry.admin === undefined ? null : Number(entry.admin.split(':').pop()),
          });
        } catch {
          // not a log line
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`meridian dns exited with ${code} before it listened\n${errText}`));
      });
    },
  );
  return {
    child,
    port,
    adminPort,
    stderr: () => errText,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

export interface ResourceRecord {
  NAME: string;
  TYPE: number;
  TYPEname: string;
  TTL: number;
  RDATAHEX: string;
  rdataA?: string;
  rdataAAAA?: string;
  rdataNS?: string;
  rdataSOA?: string;
}

/** kdig's JSON (RFC 8427) for one response. */
export interface KdigAnswer {
  ID: number;
  AA: number;
  TC: number;
  RD: number;
  RA: number;
  RCODE: number;
  QNAME: string;
  ANCOUNT: number;
  answerRRs?: ResourceRecord[];
  authorityRRs?: ResourceRecord[];
  additionalRRs?: ResourceRecord[];
}

/** Runs `kdig @127.0.0.1 -p PORT ...args +json` (no retries, 2 s timeout) and parses the response. */
export function kdig(port: number, args: string[]): Promise<KdigAnswer> {
  return new Promise((resolve, reject) => {
    execFile(
      'kdig',
      [`@127.0.0.1`, '-p', String(port), '+retry=0', '+time=2', '+json', ...args],
      { timeout: 10_000 },
      (err, stdout, stderr) => {
        if (err !== null) {
          reject(new Error(`kdig ${args.join(' ')}: ${err.message}\n${stderr}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout) as KdigAnswer);
        } catch {
          reject(new Error(`kdig ${args.join(' ')}: no JSON answer\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

/** The A or AAAA addresses of an answer, in answer order. */
export function addressesOf(answer: KdigAnswer): string[] {
  return (answer.answerRRs ?? [])
    .map((rr) => rr.rdataA ?? rr.rdataAAAA)
    .filter((a): a is string => a !== undefined);
}

/** The EDNS Client Subnet option of the answer's OPT record, decoded from its hex. */
export function clientSubnetOf(
  answer: KdigAnswer,
): { family: number; source: number; scope: number; address: string } | null {
  const opt = (answer.additionalRRs ?? []).find((rr) => rr.TYPE === 41);
  if (opt === undefined) return null;
  const data = Buffer.from(opt.RDATAHEX, 'hex');
  for (let i = 0; i + 4 <= data.length;) {
    const code = data.readUInt16BE(i);
    const length = data.readUInt16BE(i + 2);
    if (code === 8) {
      const body = data.subarray(i + 4, i + 4 + length);
      return {
        family: body.readUInt16BE(0),
        source: body[2] as number,
        scope: body[3] as number,
        address: body.subarray(4).toString('hex'),
      };
    }
    i += 4 + length;
  }
  return null;
}

/** Polls `check` every 100 ms until it returns true, or fails after `ms`; returns the time it took. */
export async function eventually(
  check: () => Promise<boolean>,
  ms: number,
  what = 'condition',
): Promise<number> {
  const started = Date.now();
  let last: unknown = null;
  while (Date.now() - started < ms) {
    try {
      if (await check()) return Date.now() - started;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${ms} ms${last === null ? '' : ` (last error: ${String(last)})`}`);
}
