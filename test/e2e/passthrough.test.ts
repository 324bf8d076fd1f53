// End-to-end: whatever the caller passes (argv, environment, cwd, the
// command's path) reaches the target byte for byte, up to execve's own
// limits, in the ambient fast path and in the re-exec fallback (issue 9).
// The target reports what the kernel gave it: /proc/PID/cmdline on stdout
// and /proc/PID/environ on stderr, read from the shell's own pid.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { start } from '../helpers/rootless.js';
import { launcherUser, type TestUser } from '../helpers/user.js';
import type { ChildProcess } from 'node:child_process';

const who = launcherUser();
if (typeof who === 'string') test('pass-through environment', (t) => t.fail(who));
const U = who as TestUser;
const e2e = typeof who === 'string' ? test.skip : test;

/** `sh -c DUMP sh ARGS...` writes its argv and environment as the kernel gave them. */
const DUMP = 'cat /proc/$$/cmdline; cat /proc/$$/environ >&2; :';

interface Dump {
  code: number | null;
  /** The target's argv after `sh -c DUMP sh`. */
  args: Buffer[];
  env: Buffer[];
  stdout: Buffer;
  stderr: Buffer;
}

function split(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0) {
      out.push(buf.subarray(from, i));
      from = i + 1;
    }
  }
  return out;
}

function collectBytes(child: ChildProcess): Promise<{ code: number | null; stdout: Buffer; stderr: Buffer }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
  });
}

async function dump(args: string[], env: Record<string, string>, reexec: boolean): Promise<Dump> {
  const child = start(U, ['run', '--', 'sh', '-c', DUMP, 'sh', ...args], {
    env: { ...env, ...(reexec ? { ROOTLESS_DISABLE_AMBIENT_CAPS: '1' } : {}) },
  });
  const r = await collectBytes(child);
  const argv = split(r.stdout);
  return { ...r, args: argv.slice(4), env: split(r.stderr) };
}

/** execve's limit on argv + envp (strings, NULs and pointers): RLIMIT_STACK/4, at most 6 MiB. */
function execveLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max stack size'))!;
  const soft = line.split(/\s{2,}/)[1]!;
  const stack = soft === 'unlimited' ? Infinity : Number(soft);
  return Math.max(Math.min(stack / 4, 6 << 20), 128 << 10);
}

/** What a string costs in execve's budget. */
const cost = (s: string): number => Buffer.byteLength(s) + 1 + 8;

function assertArgs(t: import('ava').ExecutionContext, d: Dump, args: string[]): void {
  t.is(d.code, 0, d.stderr.subarray(0, 300).toString());
  t.is(d.args.length, args.length);
  t.true(d.args.every((a, i) => a.equals(Buffer.from(args[i]!))), 'every argument arrives unchanged');
}

for (const reexec of [false, true]) {
  const mode = reexec ? ' (re-exec fallback)' : '';

  e2e(`argv and environment at execve's limit reach the target${mode}`, async (t) => {
    // Room for what sits between the caller and the target: the wrapper's
    // interpreter and script path, node's entry path, `run --`, the
    // ROOTLESSKIT_* variables, and the test's own environment.
    const budget = execveLimit() - 16 * 1024;
    const args: string[] = [];
    const env: Record<string, string> = {};
    let used = 0;
    for (let i = 0; used + cost('a'.repeat(1000)) < budget / 2; i++) {
      const a = `${i}:`.padEnd(1000, 'a');
      args.push(a);
      used += cost(a);
    }
    for (let i = 0; ; i++) {
      const name = `BIG${i}`;
      const left = budget - used - name.length - 10;
      if (left < 16) break;
      const value = String(i).padEnd(Math.min(left, 100_000), 'v');
      env[name] = value;
      used += cost(`${name}=${value}`);
    }
    const d = await dump(args, env, reexec);
    assertArgs(t, d, args);
    for (const [k, v] of Object.entries(env)) {
      t.true(d.env.some((e) => e.equals(Buffer.from(`${k}=${v}`))), `${k} (${v.length} bytes) arrives unchanged`);
    }
  });

  e2e(`5,000 arguments of 200 bytes reach the target${mode}`, async (t) => {
    const args = Array.from({ length: 5000 }, (_, i) => `${i}-`.padEnd(200, 'x'));
    assertArgs(t, await dump(args, {}, reexec), args);
  });

  e2e(`one string of 128 KiB - 1 bytes, as argument and as variable, reaches the target${mode}`, async (t) => {
    // MAX_ARG_STRLEN is 128 KiB with the NUL.
    const arg = 'A'.repeat(128 * 1024 - 1);
    const value = 'V'.repeat(128 * 1024 - 1 - 'LONG='.length);
    const d = await dump([arg], { LONG: value }, reexec);
    assertArgs(t, d, [arg]);
    t.true(d.env.some((e) => e.equals(Buffer.from(`LONG=${value}`))), 'LONG arrives unchanged');
  });
}

e2e("the target's stdout and stderr stay blocking when they are pipes", async (t) => {
  // The launcher's node must not switch the shared pipes to O_NONBLOCK.
  const child = start(U, ['run', '--', 'sh', '-c', 'grep ^flags /proc/self/fdinfo/1 /proc/self/fdinfo/2']);
  const r = await collectBytes(child);
  t.is(r.code, 0, r.stderr.toString());
  const flags = [...r.stdout.toString().matchAll(/flags:\s+([0-7]+)/g)].map((m) => parseInt(m[1]!, 8));
  t.is(flags.length, 2, r.stdout.toString());
  for (const f of flags) t.is(f & 0o4000, 0, `O_NONBLOCK set: ${f.toString(8)}`);
});
