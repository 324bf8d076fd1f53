// `rootless ps [--json]`: the running named sessions (src/parent/sessions.ts).
import { UsageError } from '../sys/errors.js';
import { writeStdout } from '../sys/stderr.js';
import type { SessionState } from '../parent/sessions.js';

export const PS_HELP = `Usage: rootless ps [--json]

List the running named sessions (\`rootless run --name NAME\`): name, the
launcher's pid, age, namespaces, network and port drivers.

  --json       one JSON array, with the state dir and the child's pid too
  -h, --help   show this help

Examples:
  rootless ps
  rootless ps --json | jq -r '.[].name'
`;

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export interface PsRow {
  name: string;
  pid: number | null;
  childPid: number | null;
  age: string;
  startedAt: number | null;
  namespaces: string[];
  net: string;
  portDriver: string;
  stateDir: string;
}

export function psRows(sessions: readonly SessionState[], now: number): PsRow[] {
  return sessions.map((s) => {
    const name = s.dir.slice(s.dir.lastIndexOf('/') + 1);
    if (s.state !== 'running') {
      return { name, pid: null, childPid: null, age: 'starting', startedAt: null, namespaces: [], net: '-', portDriver: '-', stateDir: s.dir };
    }
    const r = s.record;
    return {
      name, pid: r.pid, childPid: r.childPid, age: formatAge(now - r.startedAt), startedAt: r.startedAt,
      namespaces: r.namespaces, net: r.net, portDriver: r.portDriver, stateDir: s.dir,
    };
  });
}

export function formatTable(rows: readonly PsRow[]): string {
  const cells = [['NAME', 'PID', 'AGE', 'NAMESPACES', 'NET', 'PORTS']];
  for (const r of rows) cells.push([r.name, r.pid === null ? '-' : String(r.pid), r.age, r.namespaces.join(',') || '-', r.net, r.portDriver]);
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  return cells.map((row) => row.map((v, c) => (c === row.length - 1 ? v : v.padEnd(widths[c]!))).join('  ')).join('\n') + '\n';
}

export async function psCommand(argv: string[]): Promise<number> {
  let json = false;
  for (const a of argv) {
    if (a === '-h' || a === '--help') {
      writeStdout(PS_HELP);
      return 0;
    }
    if (a === '--json') json = true;
    else throw new UsageError(`rootless ps: unknown ${a.startsWith('-') ? 'flag' : 'argument'} ${a}`, { subject: a });
  }
  const { listSessions } = await import('../parent/sessions.js');
  const rows = psRows(listSessions(), Date.now());
  writeStdout(json ? `${JSON.stringify(rows, null, 2)}\n` : formatTable(rows));
  return 0;
}
