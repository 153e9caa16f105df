// Standalone certificates: --tls-cert FILE (a PEM chain, leaf first) and --tls-key FILE become the
// store's default certificate, reloaded on SIGHUP (the CLI calls reload()) and when either file
// changes. The folder is watched rather than the files: editors and tools like certbot replace a
// file by renaming a new one over it, which ends a watch on the file itself. Events are debounced
// (a cert and key written one after the other are one reload). A pair that does not load (half
// written, unparsable, key not the leaf's) keeps the old certificate and logs one line.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from '../../common/log.ts';
import type { CertStore } from '../server/cert-store.ts';

export interface StandaloneSourceOptions {
  certFile: string;
  keyFile: string;
  store: CertStore;
  log: Logger;
  /** Quiet time after a change before reloading. Default 250 ms. */
  debounceMs?: number;
}

export type ReloadResult = 'reloaded' | 'unchanged' | 'failed';

export class StandaloneSource {
  readonly #options: StandaloneSourceOptions;
  readonly #certFile: string;
  readonly #keyFile: string;
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | null = null;
  #digest = '';
  #reloading: Promise<ReloadResult> | null = null;
  #again = false;
  reloads = 0;
  failures = 0;

  constructor(options: StandaloneSourceOptions) {
    this.#options = options;
    this.#certFile = resolve(options.certFile);
    this.#keyFile = resolve(options.keyFile);
  }

  /** Loads the pair (throws when it cannot serve: a node must not start without its certificate) and starts watching. */
  async start(): Promise<void> {
    const files = `--tls-cert ${this.#certFile} / --tls-key ${this.#keyFile}`;
    try {
      const { cert, key } = await this.#read();
      const pair = this.#options.store.setDefault(cert, key);
      this.#digest = digestOf(cert, key);
      this.#options.log.info('tls certificate loaded', this.#describe(pair));
    } catch (err) {
      // The first line of the reason (OpenSSL's or the file system's); never the files' content.
      const reason = ((err as Error).message.split('\n')[0] ?? '').slice(0, 200);
      throw new Error(`${files}: ${reason}`, { cause: err });
    }
    for (const dir of new Set([dirname(this.#certFile), dirname(this.#keyFile)])) this.#watch(dir);
  }

  /** Reads the files again and swaps the certificate in if they changed and load; never throws. */
  reload(why: string): Promise<ReloadResult> {
    if (this.#reloading !== null) {
      this.#again = true; // a change during a reload: read once more after it
      return this.#reloading;
    }
    this.#reloading = this.#reloadOnce(why).finally(() => {
      this.#reloading = null;
      if (this.#again) {
        this.#again = false;
        void this.reload(why);
      }
    });
    return this.#reloading;
  }

  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
    this.#watchers.length = 0;
  }

  async #reloadOnce(why: string): Promise<ReloadResult> {
    let files: { cert: string; key: string };
    try {
      files = await this.#read();
    } catch (err) {
      this.failures++;
      this.#options.log.error('tls certificate not reloaded: keeping the old one', { why, err });
      return 'failed';
    }
    const digest = digestOf(files.cert, files.key);
    if (digest === this.#digest) return 'unchanged';
    try {
      const pair = this.#options.store.setDefault(files.cert, files.key);
      this.#digest = digest;
      this.reloads++;
      this.#options.log.info('tls certificate reloaded', { why, ...this.#describe(pair) });
      return 'reloaded';
    } catch (err) {
      this.failures++;
      this.#options.log.error(
        `tls certificate not reloaded: keeping the old one: ${(err as Error).message}`,
        {
          why,
          certFile: this.#certFile,
          keyFile: this.#keyFile,
        },
      );
      return 'failed';
    }
  }

  #watch(dir: string): void {
    const names = new Set([basename(this.#certFile), basename(this.#keyFile)]);
    const watcher = watch(dir, { persistent: false }, (_event, filename) => {
      // Some platforms give no name: reload then too (reading unchanged files is a no-op).
      if (filename !== null && !names.has(String(filename))) return;
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.#timer = null;
        void this.reload('file change');
      }, this.#options.debounceMs ?? 250);
    });
    watcher.on('error', (err) =>
      this.#options.log.warn('cannot watch the tls certificate folder', { dir, err }),
    );
    this.#watchers.push(watcher);
  }

  async #read(): Promise<{ cert: string; key: string }> {
    const [cert, key] = await Promise.all([
      readFile(this.#certFile, 'utf8'),
      readFile(this.#keyFile, 'utf8'),
    ]);
    return { cert, key };
  }

  #describe(pair: { fingerprint256: string; hosts: string[]; notAfterMs: number }): Record<string, unknown> {
    return {
      certFile: this.#certFile,
      fingerprint256: pair.fingerprint256,
      hosts: pair.hosts,
      expiresOn: new Date(pair.notAfterMs).toISOString(),
    };
  }
}

function digestOf(cert: string, key: string): string {
  return createHash('sha256').update(cert).update('\0').update(key).digest('hex');
}
