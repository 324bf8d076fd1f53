// Who the end-to-end tests run the launcher as. The product is rootless:
// it must run as an unprivileged user with sub-id ranges. When the suite
// itself runs as root (CI does), the launcher is started as the test user
// made by scripts/setup-test-env.sh; run as a normal user, the suite uses
// that user itself (who then needs /etc/subuid and /etc/subgid entries).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** Set when the launcher must be started with setuid/setgid (we are root). */
  switchTo: { uid: number; gid: number } | undefined;
}

export const TEST_USER_NAME = process.env.ROOTLESS_TEST_USER ?? 'rootless-test';
export const NOSUB_USER_NAME = process.env.ROOTLESS_TEST_NOSUB_USER ?? 'rootless-nosub';

function passwd(name: string): { uid: number; gid: number; home: string } | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7) return { uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
  }
  return undefined;
}

/** The user the launcher runs as, or a string saying why there is none. */
export function launcherUser(name = TEST_USER_NAME): TestUser | string {
  const me = process.getuid!();
  if (me === 0) {
    const pw = passwd(name);
    if (!pw) return `user ${name} does not exist: run scripts/setup-test-env.sh as root first`;
    return { name, ...pw, switchTo: { uid: pw.uid, gid: pw.gid } };
  }
  const myName = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
  const pw = passwd(myName);
  return { name: myName, uid: me, gid: process.getgid!(), home: pw?.home ?? '/tmp', switchTo: undefined };
}

/** The user's first sub-uid/sub-gid range from the files, if any. */
export function subIdRange(file: '/etc/subuid' | '/etc/subgid', user: TestUser): { start: number; count: number } | undefined {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if ((owner === user.name || owner === String(user.uid)) && start && count) return { start: Number(start), count: Number(count) };
  }
  return undefined;
}
