// "Did you mean ...?" for a mistyped command or flag: commander's rule
// (lib/suggestSimilar.js), so that the fast run parser (flags.ts, which
// must not load commander) and commander's commands suggest alike. The
// candidates at the smallest optimal-string-alignment distance, at most 2
// edits, and only when at least 40% of the longer word is unchanged.

const MAX_DISTANCE = 3; // exclusive

/** Optimal string alignment distance (Damerau-Levenshtein without repeated edits). */
export function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > MAX_DISTANCE) return Math.max(a.length, b.length);
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d[i] = [i];
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let j = 1; j <= b.length; j++) {
    for (let i = 1; i <= a.length; i++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidates to `word` (sorted), or none. */
export function similar(word: string, candidates: readonly string[]): string[] {
  let best = MAX_DISTANCE;
  let out: string[] = [];
  for (const c of new Set(candidates)) {
    if (c.length <= 1) continue; // no one-letter guesses
    const distance = editDistance(word, c);
    const length = Math.max(word.length, c.length);
    if ((length - distance) / length <= 0.4) continue;
    if (distance < best) {
      best = distance;
      out = [c];
    } else if (distance === best) {
      out.push(c);
    }
  }
  return out.sort((x, y) => x.localeCompare(y));
}

/**
 * " (did you mean X?)", " (did you mean one of X, Y?)" or "". `prefix` is
 * put before each suggestion (e.g. "--" for flags given without it).
 */
export function didYouMean(word: string, candidates: readonly string[], prefix = ''): string {
  const s = similar(word, candidates).map((c) => prefix + c);
  if (s.length === 0) return '';
  return s.length === 1 ? ` (did you mean ${s[0]}?)` : ` (did you mean one of ${s.join(', ')}?)`;
}
