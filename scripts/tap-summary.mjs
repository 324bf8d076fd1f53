// Passes TAP (ava --tap) through unchanged and ends with one line:
// "N passed, N failed, N skipped". Exits 0; the caller keeps the test
// runner's own exit status.
import { createInterface } from 'node:readline';

let passed = 0;
let failed = 0;
let skipped = 0;
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  process.stdout.write(`${line}\n`);
  const m = /^(not ok|ok)\b/.exec(line);
  if (!m) return;
  // A TAP directive stands after " # " at the end of the test line.
  if (/\s#\s*(SKIP|TODO)\b/i.test(line)) skipped++;
  else if (m[1] === 'ok') passed++;
  else failed++;
});
rl.on('close', () => {
  process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
});
