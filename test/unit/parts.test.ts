// The session part runner (src/parent/parts.ts) with fake parts: phases in
// order, stop in reverse, and a failure in the middle stopping exactly
// what had started. The real parts are tested end to end (every e2e test
// runs them).
import test from 'ava';
import { PartRunner, PHASES, type Phase, type SessionPart } from '../../src/parent/parts.js';

type Log = string[];

/** A part that records its hooks; `fail` names the hook that throws. */
function fake(name: string, opts: { hooks?: readonly (Phase | 'targetStarted')[]; fail?: Phase | 'stop' } = {}): SessionPart<Log> {
  const part: SessionPart<Log> = { name };
  for (const phase of opts.hooks ?? PHASES) {
    if (phase === 'targetStarted') {
      part.targetStarted = (l) => void l.push(`${name}.targetStarted`);
      continue;
    }
    part[phase] = async (l: Log) => {
      await Promise.resolve();
      if (opts.fail === phase) throw new Error(`${name} failed in ${phase}`);
      l.push(`${name}.${phase}`);
    };
  }
  part.stop = async (l: Log) => {
    await Promise.resolve();
    l.push(`${name}.stop`);
    if (opts.fail === 'stop') throw new Error(`${name} failed to stop`);
  };
  return part;
}

test('each phase runs the parts in order; the target start reaches every part; stop runs in reverse', async (t) => {
  const log: Log = [];
  const runner = new PartRunner([fake('a'), fake('b', { hooks: ['afterClone', 'childReady', 'targetStarted'] }), fake('c')], log, () => t.fail());
  for (const phase of PHASES) await runner.run(phase);
  runner.targetStarted();
  await runner.stop();
  t.deepEqual(log, [
    'a.beforeClone', 'c.beforeClone',
    'a.afterClone', 'b.afterClone', 'c.afterClone',
    'a.mapped', 'c.mapped',
    'a.childReady', 'b.childReady', 'c.childReady',
    'b.targetStarted',
    'c.stop', 'b.stop', 'a.stop',
  ]);
});

test('a part that fails to start: the parts started before it stop, in reverse; it and the later ones do not', async (t) => {
  const log: Log = [];
  const runner = new PartRunner([fake('a'), fake('b'), fake('c', { fail: 'beforeClone' }), fake('d')], log, () => t.fail());
  await t.throwsAsync(runner.run('beforeClone'), { message: 'c failed in beforeClone' });
  await runner.stop();
  t.deepEqual(log, ['a.beforeClone', 'b.beforeClone', 'b.stop', 'a.stop']);
});

test('a part that fails in a later phase stops too (an earlier hook of it completed), and one that had not started does not', async (t) => {
  const log: Log = [];
  const late = fake('late', { hooks: ['childReady'] });
  const runner = new PartRunner([fake('a'), fake('b', { fail: 'mapped' }), late], log, () => t.fail());
  await runner.run('beforeClone');
  await runner.run('afterClone');
  await t.throwsAsync(runner.run('mapped'), { message: 'b failed in mapped' });
  await runner.stop();
  t.deepEqual(log, ['a.beforeClone', 'b.beforeClone', 'a.afterClone', 'b.afterClone', 'a.mapped', 'b.stop', 'a.stop']);
});

test('a stop that throws is reported and the others still stop; stop is idempotent; no phase after it', async (t) => {
  const log: Log = [];
  const failed: string[] = [];
  const runner = new PartRunner([fake('a'), fake('b', { fail: 'stop' }), fake('c')], log, (part, err) => failed.push(`${part}: ${(err as Error).message}`));
  await runner.run('beforeClone');
  await Promise.all([runner.stop(), runner.stop()]);
  await runner.stop();
  t.deepEqual(log, ['a.beforeClone', 'b.beforeClone', 'c.beforeClone', 'c.stop', 'b.stop', 'a.stop']);
  t.deepEqual(failed, ['b: b failed to stop']);
  await t.throwsAsync(runner.run('afterClone'), { message: /after the session's parts stopped/ });
});
