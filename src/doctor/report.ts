// The report: one line per check (and its fix, indented), or one JSON document.
import type { Check } from './types.js';

export interface DoctorReport {
  ok: boolean;
  checks: Check[];
}

export function report(checks: Check[]): DoctorReport {
  return { ok: !checks.some((c) => c.status === 'fail'), checks };
}

export function reportJson(r: DoctorReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

export function reportText(r: DoctorReport, who: string): string {
  const width = Math.max(...r.checks.map((c) => c.name.length));
  const out = [`rootless doctor: checking this machine for ${who}`];
  for (const c of r.checks) {
    out.push(`${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${c.message}`);
    if (c.status !== 'ok' && c.fix !== undefined) {
      const pad = ' '.repeat(6 + width + 2);
      const [first, ...rest] = c.fix.split('\n');
      out.push(`${pad}fix: ${first}`, ...rest.map((l) => `${pad}     ${l}`));
    }
  }
  const fails = r.checks.filter((c) => c.status === 'fail').length;
  const warns = r.checks.filter((c) => c.status === 'warn').length;
  out.push(
    r.ok
      ? `ready: nothing required fails${warns > 0 ? ` (${warns} warning${warns === 1 ? '' : 's'}: optional features)` : ''}`
      : `not ready: ${fails} check${fails === 1 ? '' : 's'} failed; run the fixes above, then rootless doctor again`,
  );
  return `${out.join('\n')}\n`;
}
