/**
 * A live session's frames beside a render on one CPU thread worker (the bundled demo network, the
 * embedded default's maxBatch 4 and pipelineDepth 2): this pool against a baseline pool in the same
 * run, each with its own worker, both loaded once and measured in turns (`--seconds` each, the order
 * alternating between rounds) so the machine's load falls on both alike:
 *
 * - render alone: frames/s of a render's stream (12 frames ahead, as a render of one segment at a
 *   time keeps) with no live session, and the ratio this / baseline;
 * - live beside the render: a session's frames (30 fps, at most 2 in synthesis, as the session's
 *   pacer) while the render runs; per live frame, the render batches answered between its submit
 *   and its pixels (counted: the one worker answers in the order it runs), and its wait in ms and
 *   in batch times (one batch time: 4 frames at the render-alone rate of the same pool and round);
 *   the render's frames/s meanwhile. Ratios: the median over rounds of this / baseline.
 *
 *   node --import tsx test/bench/live-beside-render.ts [--baseline PATH/src/synthesis/pool/pool.ts]
 *        [--rounds 8] [--seconds 2] [--fps 30]
 *
 * --baseline: the pool module of another tree (`git archive main src config package.json | tar -x
 * -C /tmp/base` with node_modules linked into /tmp/base), imported as it is, its worker entry included; its live frames go without `holdLive` if it has none. Without
 * it the baseline is this pool with no hold taken (what a live frame met before sessions held the
 * pool; its render-alone path is this code, so that ratio says nothing then).
 * The last line of output is one JSON object.
 */
import pino from 'pino';
import type { FrameRequest, PoolNetwork, SynthesisPool as Pool } from '../../src/synthesis/pool/pool.ts';
import { SynthesisPool } from '../../src/synthesis/pool/pool.ts';
import { BUNDLED_NETWORKS_DIR, NetworkCatalogue, poolNetwork } from '../../src/synthesis/networks/catalogue.ts';
import { FRAMES_AHEAD_PER_SEGMENT } from '../../src/render/limits.ts';
import { feedSet } from './pool-feeds.ts';

const log = pino({ level: process.env.GANCE_BENCH_LOG ?? 'warn' });

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const rounds = Number(arg('rounds', '8'));
const seconds = Number(arg('seconds', '2'));
const liveFps = Number(arg('fps', '30'));
const baselinePath = process.argv.includes('--baseline') ? arg('baseline', '') : null;
const MAX_BATCH = 4;
const LIVE_IN_FLIGHT = 2;

type PoolClass = new (o: ConstructorParameters<typeof SynthesisPool>[0]) => Pool;
interface Variant {
  name: string;
  Pool: PoolClass;
  /** takes the live hold while the session runs */
  hold: boolean;
}


async function startPool(v: Variant, net: PoolNetwork): Promise<Pool> {
  const pool = new v.Pool({ workers: [{ id: 't0', providers: [{ name: 'cpu' }], isolation: 'thread', intraOpThreads: 1 }], log, maxBatch: MAX_BATCH, pipelineDepth: 2, warmupRuns: 2 });
  await pool.load(net);
  pool.activate(net.id);
  for await (const _ of pool.stream(feedSet(net, 8, 5))) void _;
  return pool;
}

/** Keeps a render's window of frames in the pool until `stop`; counts frames and batches as answered. */
function renderLoad(pool: Pool, feeds: FrameRequest[], stop: { now: boolean }) {
  const window = FRAMES_AHEAD_PER_SEGMENT;
  const tally = { frames: 0, batches: 0, rest: 0 };
  const run = (async () => {
    const pending: Array<Promise<unknown>> = [];
    let i = 0;
    while (!stop.now || pending.length > 0) {
      while (!stop.now && pending.length < window) {
        pending.push(
          pool.submit(feeds[i++ % feeds.length]!).then((f) => {
            tally.frames++;
            // one batch's frames are answered together, before any other frame
            if (tally.rest === 0) {
              tally.batches++;
              tally.rest = f.batchSize - 1;
            } else tally.rest--;
          }),
        );
      }
      await pending.shift();
    }
  })();
  return { tally, run };
}

async function renderAlone(pool: Pool, feeds: FrameRequest[]): Promise<number> {
  const stop = { now: false };
  const { tally, run } = renderLoad(pool, feeds, stop);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const frames = tally.frames;
  const dt = (performance.now() - t0) / 1000;
  stop.now = true;
  await run;
  return frames / dt;
}

interface LiveFigure {
  liveFrames: number;
  /** render batches answered while each live frame waited: how many frames waited for 0, 1, 2, ... */
  batchesWaited: Record<number, number>;
  maxBatchesWaited: number;
  waitMs: { p50: number; p95: number; max: number };
  renderFps: number;
  /** each live frame's wait, ms */
  waits: number[];
}

async function liveBeside(v: Variant, pool: Pool, feeds: FrameRequest[], liveFeeds: FrameRequest[]): Promise<LiveFigure> {
  {
    const release = v.hold && typeof pool.holdLive === 'function' ? pool.holdLive() : undefined;
    const stop = { now: false };
    const { tally, run } = renderLoad(pool, feeds, stop);
    const waited: number[] = [];
    const waitMs: number[] = [];
    let inFlight = 0;
    let k = 0;
    const live: Array<Promise<unknown>> = [];
    const t0 = performance.now();
    const framesAt0 = tally.frames;
    // the session's pacing: a frame each 1/fps; past LIVE_IN_FLIGHT in synthesis it is dropped
    for (let n = 1; performance.now() - t0 < seconds * 1000; n++) {
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + (n * 1000) / liveFps - performance.now())));
      if (inFlight >= LIVE_IN_FLIGHT) continue;
      inFlight++;
      const at = performance.now();
      const batchesAt = tally.batches;
      live.push(
        pool.submit(liveFeeds[k++ % liveFeeds.length]!).then(() => {
          inFlight--;
          waitMs.push(performance.now() - at);
          waited.push(tally.batches - batchesAt);
        }),
      );
    }
    const renderFps = (tally.frames - framesAt0) / ((performance.now() - t0) / 1000);
    stop.now = true;
    await Promise.all([run, ...live]);
    release?.();
    const hist: Record<number, number> = {};
    for (const w of waited) hist[w] = (hist[w] ?? 0) + 1;
    const q = (p: number) => {
      const s = [...waitMs].sort((a, b) => a - b);
      return +s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(1);
    };
    return { liveFrames: waited.length, batchesWaited: hist, maxBatchesWaited: Math.max(...waited), waitMs: { p50: q(0.5), p95: q(0.95), max: q(1) }, renderFps: +renderFps.toFixed(1), waits: waitMs };
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const catalogue = new NetworkCatalogue({ dirs: [], bundledDir: BUNDLED_NETWORKS_DIR, log });
catalogue.scan();
const entry = catalogue.get('demo-64');
if (!entry) throw new Error(`demo-64 not found in ${BUNDLED_NETWORKS_DIR}`);
const net = poolNetwork(entry, 'frames');
const BaselinePool = baselinePath ? ((await import(baselinePath)) as { SynthesisPool: PoolClass }).SynthesisPool : SynthesisPool;
const before: Variant = { name: baselinePath ? `baseline (${baselinePath})` : 'this pool, no live hold', Pool: BaselinePool, hold: false };
const after: Variant = { name: 'this pool, live session holding it', Pool: SynthesisPool, hold: true };

const pools = { before: await startPool(before, net), after: await startPool(after, net) };
const feeds = feedSet(net, 16, 7);
const liveFeeds = feedSet(net, 8, 9).map((r) => ({ ...r, live: true }));
const alone = { before: [] as number[], after: [] as number[] };
const beside = { before: [] as LiveFigure[], after: [] as LiveFigure[] };
/** each live frame's wait over the batch time of its own pool in the same round */
const inBatchTimes = { before: [] as number[], after: [] as number[] };
try {
  for (let r = 0; r < rounds; r++) {
    // the order alternates between rounds, so a drift in the machine's load favours neither
    const order = r % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    for (const which of order) alone[which].push(await renderAlone(pools[which], feeds));
    for (const which of order) {
      const fig = await liveBeside(which === 'before' ? before : after, pools[which], feeds, liveFeeds);
      beside[which].push(fig);
      const batchMs = (1000 * MAX_BATCH) / alone[which].at(-1)!;
      inBatchTimes[which].push(...fig.waits.map((w) => w / batchMs));
    }
    const fmt = (which: 'before' | 'after') => {
      const { waits: _, ...fig } = beside[which].at(-1)!;
      return `render alone ${alone[which].at(-1)!.toFixed(1)} fps; live beside render ${JSON.stringify(fig)}`;
    };
    console.log(`round ${r + 1}: before: ${fmt('before')}\n         after: ${fmt('after')}`);
  }
} finally {
  await Promise.all([pools.before.close(), pools.after.close()]);
}

const quantile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

function summary(which: 'before' | 'after') {
  const figs = beside[which];
  const hist: Record<number, number> = {};
  for (const f of figs) for (const [k, n] of Object.entries(f.batchesWaited)) hist[Number(k)] = (hist[Number(k)] ?? 0) + n;
  const waits = figs.flatMap((f) => f.waits);
  return {
    renderAloneFps: +median(alone[which]).toFixed(1),
    liveFrames: waits.length,
    batchesWaited: hist,
    maxBatchesWaited: Math.max(...figs.map((f) => f.maxBatchesWaited)),
    liveWaitMs: { p50: +quantile(waits, 0.5).toFixed(1), p95: +quantile(waits, 0.95).toFixed(1) },
    liveWaitInBatchTimes: { p50: +quantile(inBatchTimes[which], 0.5).toFixed(2), p95: +quantile(inBatchTimes[which], 0.95).toFixed(2) },
    renderFpsBesideLive: +median(figs.map((f) => f.renderFps)).toFixed(1),
  };
}
const pairRatio = (xs: { before: number[]; after: number[] }) => +median(xs.after.map((a, i) => a / xs.before[i]!)).toFixed(3);
const b = summary('before');
const a = summary('after');
console.log(
  JSON.stringify({
    bench: 'live-beside-render',
    network: 'demo-64',
    worker: 'one CPU thread worker per pool, 1 intra-op thread',
    maxBatch: MAX_BATCH,
    pipelineDepth: 2,
    rounds,
    seconds,
    liveFps,
    before: { variant: before.name, ...b },
    after: { variant: after.name, ...a },
    // the median over rounds of after / before, each round's two figures measured one after the other
    renderAloneFpsRatio: pairRatio(alone),
    renderFpsBesideLiveRatio: pairRatio({ before: beside.before.map((f) => f.renderFps), after: beside.after.map((f) => f.renderFps) }),
  }),
);
