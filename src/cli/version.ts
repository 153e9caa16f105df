// The version in package.json: one place to bump, read by `meridian --version` and the control plane.
import { readFileSync } from 'node:fs';

export function meridianVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
