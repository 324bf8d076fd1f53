// The native contract (src/sys/native.ts): the addon as built exports
// exactly the names NativeAddon declares, each of the declared kind. An
// export added to addon/*.cc, or removed, without the declaration fails
// here (and at load: loadAddon checks the same).
import test from 'ava';
import loadBinding from 'node-gyp-build';
import { AddonMissingError, exportMismatches, loadAddon, packageRoot } from '../../src/sys/addon.js';
import { NATIVE_EXPORTS } from '../../src/sys/native.js';

const raw = loadBinding(packageRoot()) as Record<string, unknown>;

test('the addon exports exactly the declared names', (t) => {
  t.deepEqual(Object.keys(raw).sort(), Object.keys(NATIVE_EXPORTS).sort());
});

test('each export is of the declared kind (function, number, object)', (t) => {
  for (const [name, kind] of Object.entries(NATIVE_EXPORTS)) {
    const value = raw[name];
    t.is(value === null ? 'null' : typeof value, kind, name);
  }
  t.deepEqual(exportMismatches(raw, NATIVE_EXPORTS), []);
});

test('a missing, an undeclared and a mistyped export are each named', (t) => {
  const { close: _close, ...withoutClose } = raw;
  const changed = { ...withoutClose, extraExport: () => 0, mountFlags: 7 };
  t.deepEqual(exportMismatches(changed, NATIVE_EXPORTS).sort(), [
    'close missing',
    'extraExport not declared',
    'mountFlags is number, declared object',
  ]);
});

test('loading refuses an addon that does not match the declaration, in one line', (t) => {
  const err = t.throws(() => loadAddon({ ...NATIVE_EXPORTS, relayPause: 'function' as const }), { instanceOf: AddonMissingError });
  t.regex(err?.message ?? '', /does not match this version of rootless \(relayPause missing\): rebuild it/);
  t.false(err?.message.includes('\n'));
});
