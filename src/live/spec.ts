/**
 * What a live session is started and changed with (the REST body, the WebSocket's patch message,
 * the CLI's options): one schema each, every number bounded, so the API, the WebSocket and the
 * CLI refuse the same things.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { DiscriminatedUnion, firstProblem } from '../api/union.ts';
import { rangeOrderProblem } from '../latents/config.ts';

const NetworkId = Type.String({ minLength: 1, maxLength: 255 });

/** An ALSA capture device the API may open: no PCM that reaches files (file, tee, shm, plug's SLAVE), no quotes or slashes. */
export const ALSA_DEVICE = '^([A-Za-z0-9_]+|(hw|plughw|sysdefault|default|dsnoop|front):[A-Za-z0-9_=,.-]+)$';

export const LiveAudio = DiscriminatedUnion(
  'kind',
  [
    Type.Object(
      {
        kind: Type.Literal('file'),
        path: Type.String({ minLength: 1, maxLength: 4096, description: 'an audio file (or a named pipe) under the daemon\'s render.mediaRoot, relative to it, played at real time (gance live in its own process: any file)' }),
        loop: Type.Optional(Type.Boolean({ description: 'start again at the end (default); false: the session ends with the file' })),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        kind: Type.Literal('alsa'),
        // ALSA reads a device string as a PCM with arguments: file:FILE=PATH, tee, shm and plug:SLAVE
        // write or open files (file:FILE= truncated any file the daemon could write). A name alone
        // (default, one of asound.conf) or card and device arguments to the PCMs that take only those.
        device: Type.String({
          minLength: 1,
          maxLength: 255,
          pattern: ALSA_DEVICE,
          description: 'ALSA capture device: a PCM name (default, one defined in asound.conf) or hw, plughw, sysdefault, default, dsnoop, front with card/device arguments, e.g. hw:1,0 or plughw:CARD=USB,DEV=0',
        }),
        sampleRate: Type.Optional(Type.Integer({ minimum: 8000, maximum: 384000 })),
        channels: Type.Optional(Type.Integer({ minimum: 1, maximum: 32 })),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        kind: Type.Literal('push'),
        format: Type.Optional(Type.Union([Type.Literal('s16le'), Type.Literal('f32le')], { description: 'default s16le' })),
        sampleRate: Type.Optional(Type.Integer({ minimum: 8000, maximum: 384000, description: 'default 48000' })),
        channels: Type.Optional(Type.Integer({ minimum: 1, maximum: 32, description: 'default 2' })),
      },
      { additionalProperties: false, description: 'raw interleaved PCM sent as binary messages on the session WebSocket' },
    ),
  ],
  { description: 'where the music comes from' },
);
export type LiveAudio = Static<typeof LiveAudio>;

/** Pushed PCM's format with its defaults (a union's members cannot carry schema defaults). */
export function pushFormat(a: Extract<LiveAudio, { kind: 'push' }>): { format: 's16le' | 'f32le'; sampleRate: number; channels: number } {
  return { format: a.format ?? 's16le', sampleRate: a.sampleRate ?? 48000, channels: a.channels ?? 2 };
}

const CameraSize = Type.String({ pattern: '^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$', description: 'WIDTHxHEIGHT the camera delivers' });

export const Camera = DiscriminatedUnion(
  'kind',
  [
    Type.Object(
      {
        kind: Type.Literal('v4l2'),
        // no ".." segment: /dev/../etc/passwd matched the characters and ffmpeg opened it as a camera
        device: Type.String({ pattern: '^/dev/(?!(.*/)?\\.\\.(/|$))[A-Za-z0-9_./-]+$', maxLength: 255, description: 'a V4L2 capture device under /dev, e.g. /dev/video0' }),
        inputFormat: Type.Optional(Type.String({ pattern: '^[a-z0-9_]{1,32}$', description: 'the device format ffmpeg asks for (-input_format), e.g. mjpeg or yuyv422' })),
        size: Type.Optional(CameraSize),
        fps: Type.Optional(Type.Integer({ minimum: 1, maximum: 120 })),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        kind: Type.Literal('testsrc'),
        pattern: Type.Optional(Type.Union([Type.Literal('testsrc'), Type.Literal('testsrc2'), Type.Literal('smptebars'), Type.Literal('rgbtestsrc')], { description: 'default testsrc' })),
        size: Type.Optional(CameraSize),
        fps: Type.Optional(Type.Integer({ minimum: 1, maximum: 120 })),
      },
      { additionalProperties: false, description: "ffmpeg's generated test pattern in place of a camera (lining up a projector; the tests)" },
    ),
  ],
  { description: 'a live picture behind the canvas, scaled and cropped to fill it; a missing or busy device is reported in the session error and the colour shows until it comes' },
);
export type Camera = Static<typeof Camera>;

export const Framing = Type.Object(
  {
    width: Type.Integer({ minimum: 16, maximum: 7680, description: 'output canvas width, px' }),
    height: Type.Integer({ minimum: 16, maximum: 4320, description: 'output canvas height, px' }),
    frame: Type.Object(
      {
        width: Type.Integer({ minimum: 8, maximum: 7680 }),
        height: Type.Integer({ minimum: 8, maximum: 4320 }),
        x: Type.Integer({ minimum: 0, maximum: 7680 }),
        y: Type.Integer({ minimum: 0, maximum: 4320 }),
      },
      { additionalProperties: false, description: 'the synthesized picture scaled to this size at this position on the canvas' },
    ),
    color: Type.Optional(Type.String({ pattern: '^#[0-9a-fA-F]{6}$', description: 'canvas colour around the picture (default #000000)' })),
    camera: Type.Optional(Camera),
    transitionMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60000, description: 'a new size or position of the picture is reached over this long, eased in and out, on the music clock (default 500; 0 jumps)' })),
  },
  { additionalProperties: false },
);
export type Framing = Static<typeof Framing>;

/** The framing's own rule the schema cannot say: the picture lies inside the canvas. */
export function framingProblem(f: Framing | null | undefined): string | null {
  if (!f) return null;
  if (f.frame.x + f.frame.width > f.width || f.frame.y + f.frame.height > f.height) {
    return `framing: the picture (${f.frame.width}x${f.frame.height} at ${f.frame.x},${f.frame.y}) does not fit on the ${f.width}x${f.height} canvas`;
  }
  return null;
}

/** What may change while the session runs; every field optional. */
const changeable = {
  networks: Type.Optional(Type.Array(NetworkId, { minItems: 1, maxItems: 16, description: 'the network set; loads in the background, the previous set showing meanwhile' })),
  fps: Type.Optional(Type.Integer({ minimum: 1, maximum: 120, description: 'target frames per second (restarts the audio analysis: a gap of a few frames)' })),
  alpha: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'blend: (1 - alpha) noise + alpha spectrogram' })),
  blendDepth: Type.Optional(Type.Integer({ minimum: 0, maximum: 64 })),
  amplitudeRange: Type.Optional(Type.Tuple([Type.Number({ minimum: -1000, maximum: 1000 }), Type.Number({ minimum: -1000, maximum: 1000 })], { description: 'spectrogram [min, max] range, min <= max (400 the other way round)' })),
  networkOverride: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 15 }), Type.Null()], { description: 'pin one network of the set, or null to follow the music' })),
  pulse: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'reactive gain: percussive pulse' })),
  motion: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'reactive gain: harmonic motion' })),
  chroma: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'reactive gain: chroma' })),
  framing: Type.Optional(Type.Union([Framing, Type.Null()], { description: 'an output canvas with the picture placed on it (null: the picture as it is); the picture glides to a new place or size over transitionMs; a new canvas size restarts the JPEG encoder (a few frames dropped, cause encode)' })),
};

// an empty patch changes nothing: refused (400) as the thermal zone and render GPU patches refuse theirs,
// so a client that lost its fields on the way hears about it instead of getting a 200
export const LivePatch = Type.Object(changeable, { additionalProperties: false, minProperties: 1 });
export type LivePatch = Static<typeof LivePatch>;

export const LiveStart = Type.Object(
  {
    audio: LiveAudio,
    networks: Type.Array(NetworkId, { minItems: 1, maxItems: 16 }),
    fps: Type.Integer({ minimum: 1, maximum: 120, default: 30, description: 'target frames per second (whole: the analysis samples 512 x fps Hz)' }),
    ...Object.fromEntries(Object.entries(changeable).filter(([k]) => k !== 'networks' && k !== 'fps')),
    projectionFile: Type.Optional(
      Type.String({ minLength: 1, maxLength: 4096, description: 'a GANce projection file (HDF5) under the daemon\'s render.mediaRoot: its w latents blended with the audio (projection-file-blend) feed networks with a w input; without it the networks take z' }),
    ),
    lookaheadFrames: Type.Optional(Type.Union([Type.Literal(3), Type.Literal(0)], { description: 'analysis look-ahead: 3 frames (GANce smoothing window 7) or 0 (no smoothing, lowest latency); default synthesis.latents.streaming' })),
    maxInFlight: Type.Integer({ minimum: 1, maximum: 16, default: 2, description: 'frames in synthesis at once; past that, new latents replace the waiting one (dropped, cause "behind")' }),
    maxClients: Type.Integer({ minimum: 1, maximum: 1000, default: 32, description: 'MJPEG and WebSocket clients at once (409 past that)' }),
    outputs: Type.Optional(
      Type.Array(
        Type.Object({ target: Type.String({ minLength: 1, maxLength: 4096, description: 'a file (.mkv, .ts, .mp4; for the daemon a name under its render.outputRoot, not there yet) or a stream URL (udp://, srt://, tcp://, rtmp://, rtmps://); H.264 with the session audio (AAC), the frames on the audio clock' }) }, { additionalProperties: false }),
        { maxItems: 4, description: 'ffmpeg outputs of the frames for the session\'s length' },
      ),
    ),
    jpegQuality: Type.Integer({ minimum: 2, maximum: 31, default: 5, description: 'ffmpeg mjpeg -q:v (2 best, 31 smallest)' }),
  },
  { additionalProperties: false },
);
export type LiveStart = Static<typeof LiveStart> & Omit<LivePatch, 'networks' | 'fps'>;

/**
 * What a client sends on the session WebSocket (text messages; binary ones are PCM for audio kind
 * push). The patch is the PATCH route's body schema itself, so the two refuse the same things.
 */
export const WsClientMessage = DiscriminatedUnion(
  'type',
  [
    // unknown keys are refused as the REST bodies refuse them: {"type": "get", "patch": {...}} did nothing, silently
    Type.Object({ type: Type.Literal('patch'), patch: LivePatch }, { additionalProperties: false, description: 'change the session, as PATCH /v1/live/{id}; answered with "patched" or "error"' }),
    Type.Object({ type: Type.Literal('get') }, { additionalProperties: false, description: 'answered with "state"' }),
    Type.Object({ type: Type.Literal('subscribe') }, { additionalProperties: false, description: 'frames follow as binary messages: a 4-byte big-endian header length, a JSON header {seq, network, width, height, at, placement}, the JPEG' }),
    Type.Object({ type: Type.Literal('paint'), seq: Type.Integer({ minimum: 0, description: 'the frame a page painted (its arrival is the paint time of the latency figures)' }) }, { additionalProperties: false }),
  ],
  { description: 'a control message (JSON text, at most 64 KiB)' },
);
export type WsClientMessage = Static<typeof WsClientMessage>;
export const WS_MESSAGE_TYPES = WsClientMessage.anyOf.map((m) => m.properties.type.const);

export const checkPatch = TypeCompiler.Compile(LivePatch);

/** The first problem of a patch that does not pass, as "/field message". */
export function patchProblem(patch: unknown): string | null {
  if (checkPatch.Check(patch)) return rangeProblem(patch);
  const e = firstProblem(checkPatch.Errors(patch));
  return `${e?.path || '/'} ${e?.message ?? 'is invalid'}`;
}

/** The start's or a patch's amplitudeRange given the other way round (the schema cannot say it), as "/amplitudeRange why"; or null. */
export function rangeProblem(p: Pick<LivePatch, 'amplitudeRange'>): string | null {
  const why = rangeOrderProblem(p.amplitudeRange);
  return why === null ? null : `/amplitudeRange ${why}`;
}
