// The node's copy of the certificate material it fetched (chain and private key), so that a node
// restarting while the control plane is away still serves TLS with its last known good certificates.
// Encrypted at rest: AES-256-GCM (NIST SP 800-38D) under a key derived with HKDF-SHA256 (RFC 5869)
// from the node's token, a fresh 96-bit IV per write, the certificate id as additional data (a file
// cannot be passed off as another certificate's). A file that does not decrypt (the token changed,
// the file was altered) is ignored: the node fetches the material again.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertificateMaterial } from '../../common/config/certificate.ts';
import { writeFileDurably } from '../../common/fs/durable-write.ts';

const FORMAT = 'meridian-tls-material/1';
export const MATERIAL_DIR = 'tls-certificates';

interface SealedFile {
  format: typeof FORMAT;
  iv: string;
  tag: string;
  data: string;
}

export class MaterialCache {
  readonly #dir: string;
  readonly #key: Buffer;

  constructor(stateDir: string, nodeToken: string) {
    this.#dir = join(stateDir, MATERIAL_DIR);
    this.#key = Buffer.from(hkdfSync('sha256', nodeToken, 'meridian-edge-tls-material', FORMAT, 32));
  }

  async save(material: CertificateMaterial): Promise<void> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(`${FORMAT}\n${material.id}`));
    const data = Buffer.concat([cipher.update(JSON.stringify(material), 'utf8'), cipher.final()]);
    const sealed: SealedFile = {
      format: FORMAT,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await writeFileDurably(this.#fileOf(material.id), JSON.stringify(sealed), 0o600);
  }

  /** The saved material of `id`, or null when there is none or it does not decrypt. */
  async load(id: string): Promise<CertificateMaterial | null> {
    let text: string;
    try {
      text = await readFile(this.#fileOf(id), 'utf8');
    } catch {
      return null;
    }
    try {
      const sealed = JSON.parse(text) as SealedFile;
      if (sealed.format !== FORMAT) return null;
      const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(sealed.iv, 'base64'));
      decipher.setAAD(Buffer.from(`${FORMAT}\n${id}`));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      const clear = Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]);
      const material = JSON.parse(clear.toString('utf8')) as CertificateMaterial;
      return material.id === id ? material : null;
    } catch {
      return null;
    }
  }

  async remove(id: string): Promise<void> {
    await rm(this.#fileOf(id), { force: true });
  }

  #fileOf(id: string): string {
    // Ids are the control plane's; hash any that would not make a plain file name.
    const name = /^[A-Za-z0-9_-]{1,100}$/.test(id) ? id : createHash('sha256').update(id).digest('hex');
    return join(this.#dir, `${name}.json`);
  }
}
