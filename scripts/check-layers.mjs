#!/usr/bin/env node
// The layering rule of src/, checked from the imports (static, type-only,
// re-exports and dynamic import()s alike):
//
//   index      src/index.ts (the Node API)
//   cli        flags -> a LaunchPlan; other subcommands
//   doctor     `rootless doctor`: checks of the host
//   parent     child      the two processes; neither imports the other
//   api                   the REST API (serves a port driver)
//   net        port       drivers, both halves; neither imports the other
//   protocol              what crosses the pipe between parent and child
//   sys                   the OS: addon, errors, logger type, state dir
//
// A file may import its own folder and folders of a LOWER rank only. So no
// two folders import each other, and only cli/ and src/index.ts import
// cli/. Cycles between files are refused too (they make load order matter).
//
//   node scripts/check-layers.mjs [--json] [SRC_DIR]
//
// exits 1 and names each offending import when the rule is broken.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Rank of each top-level folder of src/ ("index" is src/index.ts). */
export const LAYERS = Object.freeze({
  sys: 0,
  protocol: 1,
  net: 2,
  port: 2,
  api: 3,
  parent: 4,
  child: 4,
  doctor: 5,
  cli: 6,
  session: 6,
  index: 7,
});

/** "net/pasta/parent.ts" -> "net"; "index.ts" -> "index". */
export function folderOf(file) {
  const i = file.indexOf('/');
  return i < 0 ? file.replace(/\.ts$/, '') : file.slice(0, i);
}

/** Relative .ts paths (POSIX separators) of every .ts file under dir. */
function listSources(dir, base = dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listSources(p, base));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(relative(base, p).split(sep).join('/'));
  }
  return out;
}

/**
 * The import graph of srcDir: { files: {file: lines}, edges: [{from, to}] },
 * files relative to srcDir. Only relative specifiers count (packages and
 * node: modules are outside the rule); "./x.js" resolves to "x.ts".
 */
export function readImports(srcDir) {
  const require = createRequire(import.meta.url);
  const ts = require('typescript');
  const files = {};
  const edges = [];
  for (const file of listSources(srcDir)) {
    const text = readFileSync(join(srcDir, file), 'utf8');
    files[file] = text.split('\n').length;
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!fileName.startsWith('./') && !fileName.startsWith('../')) continue;
      const abs = resolve(dirname(join(srcDir, file)), fileName.replace(/\.js$/, '.ts'));
      const to = relative(srcDir, abs).split(sep).join('/');
      // Outside src/ (the addon's .node file): not a layer.
      if (to.startsWith('../')) continue;
      edges.push({ from: file, to });
    }
  }
  return { files, edges };
}

/** Strongly connected components with more than one file (or a self-import). */
function fileCycles(edges) {
  const next = new Map();
  for (const { from, to } of edges) {
    if (!next.has(from)) next.set(from, new Set());
    if (!next.has(to)) next.set(to, new Set());
    next.get(from).add(to);
  }
  // Tarjan, iterative (the graph is small, but recursion depth is not ours to bound).
  let counter = 0;
  const index = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const cycles = [];
  for (const start of next.keys()) {
    if (index.has(start)) continue;
    const work = [[start, [...next.get(start)], 0]];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const [v, succ] = frame;
      if (frame[2] < succ.length) {
        const w = succ[frame[2]++];
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          work.push([w, [...next.get(w)], 0]);
        } else if (onStack.has(w)) {
          low.set(v, Math.min(low.get(v), index.get(w)));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent), low.get(v)));
      }
      if (low.get(v) === index.get(v)) {
        const scc = [];
        let w;
        do {
          w = stack.pop();
          onStack.delete(w);
          scc.push(w);
        } while (w !== v);
        if (scc.length > 1 || next.get(v).has(v)) cycles.push(scc.sort());
      }
    }
  }
  return cycles.sort((a, b) => a[0].localeCompare(b[0]));
}

/**
 * The rule applied to a graph. Returns the numbers and every violation:
 *   upward:   an import of a higher-ranked folder
 *   sideways: an import of another folder of the same rank
 *   unknown:  a file in a folder that LAYERS does not rank
 *   folderPairs: folders that import each other (counted both ways: a metric)
 *   fileCycles:  sets of files that import each other, directly or not
 */
export function checkGraph({ files = {}, edges }, layers = LAYERS) {
  const upward = [];
  const sideways = [];
  const unknown = new Set();
  const folderEdges = new Set();
  for (const e of edges) {
    const a = folderOf(e.from);
    const b = folderOf(e.to);
    for (const [f, file] of [[a, e.from], [b, e.to]]) if (!(f in layers)) unknown.add(file);
    if (a === b || !(a in layers) || !(b in layers)) continue;
    folderEdges.add(`${a}\0${b}`);
    if (layers[b] > layers[a]) upward.push(e);
    else if (layers[b] === layers[a]) sideways.push(e);
  }
  const folderPairs = [];
  for (const key of folderEdges) {
    const [a, b] = key.split('\0');
    if (a < b && folderEdges.has(`${b}\0${a}`)) folderPairs.push([a, b]);
  }
  const cycles = fileCycles(edges);
  let largest = { file: '', lines: 0 };
  for (const [file, lines] of Object.entries(files)) if (lines > largest.lines) largest = { file, lines };
  const violations = [
    ...upward.map((e) => `upward import: ${e.from} -> ${e.to} (${folderOf(e.from)} may not import ${folderOf(e.to)})`),
    ...sideways.map((e) => `sideways import: ${e.from} -> ${e.to} (${folderOf(e.from)} and ${folderOf(e.to)} are one layer)`),
    ...[...unknown].sort().map((f) => `unranked folder: ${f} (add its folder to LAYERS in scripts/check-layers.mjs)`),
    ...folderPairs.map(([a, b]) => `folders import each other: ${a} <-> ${b}`),
    ...cycles.map((c) => `file cycle: ${c.join(' -> ')}`),
  ];
  return { upward, sideways, folderPairs, fileCycles: cycles, largest, violations };
}

export function checkLayers(srcDir) {
  return checkGraph(readImports(srcDir));
}

const self = fileURLToPath(import.meta.url);
if (process.argv[1] !== undefined && resolve(process.argv[1]) === self) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const srcDir = args.find((a) => !a.startsWith('--')) ?? join(dirname(self), '..', 'src');
  const r = checkLayers(srcDir);
  if (json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  } else {
    for (const v of r.violations) process.stdout.write(`${v}\n`);
    process.stdout.write(
      `upward imports: ${r.upward.length}, sideways imports: ${r.sideways.length}, folder pairs importing each other: ${r.folderPairs.length}, ` +
        `file cycles: ${r.fileCycles.length}, largest file: ${r.largest.file} (${r.largest.lines} lines)\n`,
    );
  }
  process.exitCode = r.violations.length > 0 ? 1 : 0;
}
