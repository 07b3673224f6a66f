/**
 * A request's Range header judged against a file of known size, as RFC 9110 14.1-14.2 says, before
 * @fastify/send sees it. send gets several cases wrong on its own: it answers 416 to a range set
 * that is invalid (`bytes=5-2`: last before first), which must be ignored (200, the whole file);
 * it answers 416 to a suffix longer than the file (`bytes=-1000` of 100 bytes), which is the
 * whole file as a 206; and it takes the unit only in lower case (`Bytes=0-1` was ignored).
 */

/** What to answer: the whole file (`ignore`), 416 (`unsatisfiable`), or one range of it (inclusive). */
export type RangePlan = { kind: 'ignore' } | { kind: 'unsatisfiable' } | { kind: 'range'; start: number; end: number };

const INT_RANGE = /^(\d+)-(\d*)$/;
const SUFFIX_RANGE = /^-(\d+)$/;

/**
 * `header`: the Range field value; `size`: the file's length in bytes. A ranges-specifier whose unit
 * is not bytes, or that does not parse, or that holds an invalid range-spec (last-pos before
 * first-pos) is ignored (14.2: a server MAY ignore an invalid one; the whole file is a correct
 * answer). A valid one with no satisfiable range is 416. Satisfiable ranges are coalesced; one left
 * is served as a 206, several are answered with the whole file (a server MAY ignore Range:
 * multipart/byteranges is not offered).
 */
export function planRange(header: string, size: number): RangePlan {
  const eq = header.indexOf('=');
  // the unit is a token, compared case-insensitively (14.1); anything but bytes is not ours
  if (eq < 0 || header.slice(0, eq).toLowerCase() !== 'bytes') return { kind: 'ignore' };
  const specs: Array<{ first: bigint; last: bigint | null } | { suffix: bigint }> = [];
  // a list (5.6.1): OWS around the commas, empty elements allowed and skipped
  for (const raw of header.slice(eq + 1).split(',')) {
    const el = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    if (el === '') continue;
    const int = INT_RANGE.exec(el);
    if (int) {
      // digits of any length: BigInt compares them exactly
      const first = BigInt(int[1]!);
      const last = int[2] === '' ? null : BigInt(int[2]!);
      if (last !== null && last < first) return { kind: 'ignore' };
      specs.push({ first, last });
      continue;
    }
    const suffix = SUFFIX_RANGE.exec(el);
    if (!suffix) return { kind: 'ignore' };
    specs.push({ suffix: BigInt(suffix[1]!) });
  }
  if (specs.length === 0) return { kind: 'ignore' };

  const len = BigInt(size);
  const ranges: Array<{ start: bigint; end: bigint }> = [];
  for (const s of specs) {
    if ('suffix' in s) {
      // a non-zero suffix is satisfiable, the whole file when it is longer (14.1.3)
      if (s.suffix === 0n) continue;
      if (len === 0n) return { kind: 'ignore' }; // nothing to send but the empty file itself
      ranges.push({ start: s.suffix >= len ? 0n : len - s.suffix, end: len - 1n });
    } else if (s.first < len) {
      ranges.push({ start: s.first, end: s.last === null || s.last >= len ? len - 1n : s.last });
    }
  }
  if (ranges.length === 0) return { kind: 'unsatisfiable' };
  ranges.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const merged = [ranges[0]!];
  for (const r of ranges.slice(1)) {
    const cur = merged[merged.length - 1]!;
    if (r.start <= cur.end + 1n) {
      if (r.end > cur.end) cur.end = r.end;
    } else merged.push(r);
  }
  if (merged.length > 1) return { kind: 'ignore' };
  return { kind: 'range', start: Number(merged[0]!.start), end: Number(merged[0]!.end) };
}

/**
 * The Range header to hand @fastify/send for `plan`, in the one form it reads right: undefined
 * (no header: the whole file), `bytes=SIZE-` (which it answers 416 with `Content-Range: bytes
 * *\/SIZE`) or `bytes=START-END`. send still judges If-Range (a stale one: the whole file).
 */
export function rangeForSend(plan: RangePlan, size: number): string | undefined {
  if (plan.kind === 'ignore') return undefined;
  if (plan.kind === 'unsatisfiable') return `bytes=${size}-`;
  return `bytes=${plan.start}-${plan.end}`;
}
