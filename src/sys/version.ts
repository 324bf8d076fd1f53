// The package's version, read lazily from package.json: dist/src/sys/
// version.js -> ../../../package.json, and the bundles dist/src/{cli,child}/
// *.cjs sit at the same depth.
import { readFileSync } from 'node:fs';

let cachedVersion: string | undefined;

export function packageVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
        version?: unknown;
      };
      cachedVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}
