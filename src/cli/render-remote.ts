/**
 * `gance render ... --remote URL`: the same render, done by a running daemon. The audio files are
 * uploaded, progress is followed over SSE, and the finished mp4 is downloaded to --out (under a
 * temporary name, put in place once complete without replacing a file that appeared at --out
 * meanwhile, as a local render does: src/render/publish.ts). A render that failed only because its
 * name on the daemon was taken has its finished video kept there; it is downloaded beside --out
 * under a kept name, said, and the command still fails. Ctrl-C cancels the render on the daemon
 * (a second one quits at once).
 */
import { createWriteStream, openAsBlob } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { keptName, place } from '../render/publish.ts';
import type { RenderJobView } from '../render/view.ts';
import type { RenderProgress, RenderStage } from '../render/types.ts';
import type { RenderSpec } from '../render/spec.ts';
import { call, daemonFetch, sseEvents, tokenHint } from './daemon-api.ts';

export interface RemoteRenderOptions {
  url: string;
  audio: string[];
  /** the render without audio and output path (the daemon names its output) */
  spec: Omit<RenderSpec, 'audio' | 'output'> & { output: Omit<RenderSpec['output'], 'path'> };
  /** where the finished mp4 goes; null: leave it on the daemon */
  out: string | null;
  /** replace a file at `out` (--force); without it one that appeared there meanwhile stays, the video kept beside it */
  replace?: boolean;
  onProgress?: (p: RenderProgress) => void;
  onQueued?: (job: RenderJobView) => void;
  /** once, when the daemon says what synthesizes the render (its networks loaded), or at its end */
  onSynthesis?: (s: NonNullable<RenderJobView['synthesis']>) => void;
  signal?: AbortSignal;
}

export async function renderRemote(o: RemoteRenderOptions): Promise<RenderJobView> {
  const form = new FormData();
  form.append('spec', JSON.stringify(o.spec));
  for (const a of o.audio) form.append('audio', await openAsBlob(a), basename(a));
  // an upload of a long track takes as long as the link needs
  const job = await call<RenderJobView>(o.url, '/v1/renders', { method: 'POST', body: form }, 3_600_000, '--remote');
  o.onQueued?.(job);
  const onAbort = () => void call(o.url, `/v1/renders/${job.id}`, { method: 'DELETE' }, undefined, '--remote').catch(() => {});
  o.signal?.addEventListener('abort', onAbort, { once: true });
  // Ctrl-C during the upload: the render has only just got an id to cancel by, and a listener added now would never hear it
  if (o.signal?.aborted) onAbort();
  try {
    // not aborted with the signal: the cancel comes back as the stream's end, so the user sees it done
    let told = false;
    const tell = (j: RenderJobView) => {
      if (told || j.synthesis === null) return;
      told = true;
      o.onSynthesis?.(j.synthesis);
    };
    const final = await follow(o.url, job.id, (p, j) => {
      o.onProgress?.(p);
      tell(j);
    });
    tell(final);
    if (final.state !== 'done') {
      const failure = `render ${job.id} ${final.state}${final.reason ? ` (${final.reason})` : ''}: ${final.error ?? ''}`;
      // failed only because its name on the daemon was taken at the end: the daemon kept the finished
      // video (hours of GPU time), so it comes here too, beside --out, and the render still fails
      if (final.state === 'failed' && final.output !== null && final.outputUrl && o.out) {
        const href = new URL(final.outputUrl, o.url).href;
        const saved = await downloadKept(new URL(href), o.url, o.out).catch((err: unknown) => {
          throw new Error(`${failure}; its finished video could not be downloaded (${(err as Error).message}): it is on the daemon, GET ${href}`);
        });
        throw new Error(`${failure}; its finished video was downloaded beside --out as ${saved}`);
      }
      throw new Error(failure);
    }
    if (o.out && final.outputUrl) await download(new URL(final.outputUrl, o.url), o.url, o.out, o.replace ?? false);
    return final;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * The API token, as call() sends it: a daemon with server.auth.read: token refuses the event stream
 * and the download without it (401), after it accepted the upload that call() made with it.
 */
async function tokenHeaders(): Promise<Record<string, string>> {
  // loaded here, not at the top: --help loads command definitions only (test/cli/startup.test.ts)
  const { clientAuthHeaders } = await import('../api/client-token.ts');
  return clientAuthHeaders();
}

/** The status and what the daemon said about it, as call() reports a refusal. */
async function failure(res: Response): Promise<string> {
  const body = (await res.json().catch(() => ({}))) as { message?: unknown };
  return `${`${res.status} ${typeof body.message === 'string' ? body.message : res.statusText}`.trim()}${tokenHint(res.status)}`;
}

/** Progress until the end event; the final state of the render. */
export async function follow(url: string, id: string, onProgress?: (p: RenderProgress, job: RenderJobView) => void, signal?: AbortSignal): Promise<RenderJobView> {
  const res = await daemonFetch(new URL(`/v1/renders/${id}/events`, url), { headers: await tokenHeaders(), ...(signal ? { signal } : {}) });
  if (!res.ok || !res.body) throw new Error(`GET /v1/renders/${id}/events: ${await failure(res)}`);
  for await (const e of sseEvents(res.body)) {
    const job = JSON.parse(e.data) as RenderJobView;
    if (e.event === 'end') return job;
    onProgress?.({ stage: job.stage as RenderStage, framesDone: job.framesDone, framesTotal: job.framesTotal, fps: job.fps, etaSeconds: job.etaSeconds }, job);
  }
  throw new Error(`the daemon closed the event stream of render ${id} before it ended`);
}

/** The file at `url`, complete, under a temporary name beside `out`. */
async function fetchBeside(url: URL, daemon: string, out: string): Promise<string> {
  const href = url.href;
  // the token goes to the daemon only, whatever address its outputUrl names
  const res = await daemonFetch(url, { headers: url.origin === new URL(daemon).origin ? await tokenHeaders() : {} });
  if (!res.ok || !res.body) throw new Error(`GET ${href}: ${await failure(res)}`);
  const tmp = `${out}.download-${process.pid}`;
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(tmp));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return tmp;
}

/** `tmp` under a free kept name beside `out` (song.kept-1a2b3c4d.mp4), never replacing a file; null when none was free. */
async function keepBeside(tmp: string, out: string): Promise<string | null> {
  for (let k = 0; k < 5; k++) {
    const name = keptName(out);
    if (await place(tmp, name, { replace: false, folder: false })) return name;
  }
  return null;
}

async function download(url: URL, daemon: string, out: string, replace: boolean): Promise<void> {
  const tmp = await fetchBeside(url, daemon, out);
  try {
    if (await place(tmp, out, { replace, folder: false })) return;
    // checked free before the upload: whoever put a file there since owns it; the video is kept beside it
    const kept = await keepBeside(tmp, out);
    const keptText = kept === null ? 'the downloaded video could not be kept' : `the video was kept as ${kept}`;
    throw new Error(`--out ${out}: something was put there while the render ran; it was left as it is and ${keptText}`);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * A failed render's kept video, downloaded as a finished one is, but under a kept name beside
 * `out`: --out itself is for a render that succeeded.
 */
async function downloadKept(url: URL, daemon: string, out: string): Promise<string> {
  const tmp = await fetchBeside(url, daemon, out);
  try {
    const kept = await keepBeside(tmp, out);
    if (kept === null) throw new Error(`no free name beside ${out}`);
    return kept;
  } finally {
    await rm(tmp, { force: true });
  }
}
