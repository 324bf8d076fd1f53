// The layering rule of src/ (scripts/check-layers.mjs): imports point down
// only, no two folders import each other, no file cycle. The checker is
// tested on made-up graphs, then run on the real src/.
import test from 'ava';
import { fileURLToPath } from 'node:url';

// scripts/ is not compiled: load it from the repository (dist/test/unit -> ../../../).
type Checker = typeof import('../../scripts/check-layers.mjs');
const { checkGraph, checkLayers, folderOf } = (await import(new URL('../../../scripts/check-layers.mjs', import.meta.url).href)) as Checker;

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));
const edge = (from: string, to: string): { from: string; to: string } => ({ from, to });

test('folderOf: the top folder of src/, or "index" for src/index.ts', (t) => {
  t.is(folderOf('net/pasta/parent.ts'), 'net');
  t.is(folderOf('index.ts'), 'index');
});

test('an import of a higher layer is refused, naming both files', (t) => {
  const r = checkGraph({ edges: [edge('net/index.ts', 'cli/options.ts'), edge('cli/main.ts', 'parent/launcher.ts')] });
  t.deepEqual(r.upward, [edge('net/index.ts', 'cli/options.ts')]);
  t.deepEqual(r.violations, ['upward import: net/index.ts -> cli/options.ts (net may not import cli)']);
});

test('an import between two folders of one layer is refused (net and port, parent and child)', (t) => {
  const r = checkGraph({ edges: [edge('port/index.ts', 'net/index.ts'), edge('parent/exec.ts', 'child/command.ts')] });
  t.is(r.sideways.length, 2);
  t.is(r.violations.length, 2);
});

test('folders that import each other are a violation, whatever the ranks say', (t) => {
  const r = checkGraph({ edges: [edge('a/x.ts', 'b/y.ts'), edge('b/z.ts', 'a/w.ts')] }, { a: 0, b: 0 });
  t.deepEqual(r.folderPairs, [['a', 'b']]);
  t.true(r.violations.includes('folders import each other: a <-> b'));
});

test('a file cycle is found, also through a third file and within one folder', (t) => {
  const r = checkGraph({
    edges: [edge('net/index.ts', 'net/pasta/parent.ts'), edge('net/pasta/parent.ts', 'net/session.ts'), edge('net/session.ts', 'net/index.ts'), edge('net/cidr.ts', 'sys/errors.ts')],
  });
  t.deepEqual(r.fileCycles, [['net/index.ts', 'net/pasta/parent.ts', 'net/session.ts']]);
  t.deepEqual(r.violations, ['file cycle: net/index.ts -> net/pasta/parent.ts -> net/session.ts']);
  t.deepEqual(checkGraph({ edges: [edge('sys/a.ts', 'sys/a.ts')] }).fileCycles, [['sys/a.ts']]);
});

test('a folder the rule does not rank is reported', (t) => {
  t.deepEqual(checkGraph({ edges: [edge('util/x.ts', 'sys/errors.ts')] }).violations, ['unranked folder: util/x.ts (add its folder to LAYERS in scripts/check-layers.mjs)']);
});

test('src/ keeps the rule', (t) => {
  const r = checkLayers(SRC);
  t.deepEqual(r.violations, []);
  t.true(r.largest.lines > 0);
});
