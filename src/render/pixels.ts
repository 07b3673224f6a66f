/**
 * Pool frames -> rgb24 bytes for ffmpeg: the network's uint8 NHWC `frames` output as it is (no
 * copy), or its float32 NCHW `image` (-1..1) mapped to 0..255 the way the graph's own uint8
 * output does (stylegan2-ada's gen_images: x * 127.5 + 128 in float32, clamped, truncated).
 */
import type { Frame } from '../synthesis/pool/pool.ts';
import type { RenderNetwork } from './resolve.ts';
import { RenderFailure } from './types.ts';

export function rgbBytes(frame: Frame, net: RenderNetwork, index: number): Uint8Array {
  const s = net.sidecar;
  const n = net.width * net.height * 3;
  for (const o of s.outputs) {
    const t = frame.outputs[o.name];
    if (!t) continue;
    if (o.role === 'frames' && t.type === 'uint8' && t.data.length === n) return t.data as Uint8Array;
    if (o.role === 'image' && t.type === 'float32' && t.data.length === n) {
      const rgb = imageToRgb(t.data as Float32Array, net.width, net.height);
      if (!rgb) throw new RenderFailure('synthesis', `frame ${index}: network "${net.id}" returned a picture with non-finite values`);
      return rgb;
    }
  }
  const got = Object.entries(frame.outputs).map(([k, t]) => `${k} ${t.type}[${t.dims.join(', ')}]`).join(', ');
  throw new RenderFailure('synthesis', `frame ${index}: network "${net.id}" returned no ${net.width}x${net.height} RGB picture (got ${got || 'nothing'})`);
}

/** null when a value is not finite: that frame failed, it is not black */
function imageToRgb(chw: Float32Array, width: number, height: number): Uint8Array | null {
  const plane = width * height;
  const out = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) {
      const v = Math.fround(Math.fround(chw[c * plane + p]! * 127.5) + 128);
      if (!Number.isFinite(v)) return null;
      out[p * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : Math.trunc(v);
    }
  }
  return out;
}
