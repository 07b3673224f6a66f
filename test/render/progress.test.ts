/** Progress: fps over the last seconds (a pause shows at once), ETA at that rate, stages and counts. */
import { describe, expect, it } from 'vitest';
import { ProgressMeter } from '../../src/render/progress.ts';
import type { RenderProgress } from '../../src/render/types.ts';

describe('ProgressMeter', () => {
  it('reports frames done of the total, recent fps and the time left at that rate', () => {
    let t = 0;
    const seen: RenderProgress[] = [];
    const m = new ProgressMeter((p) => seen.push(p), () => t);
    m.stage('analysing');
    expect(seen.at(-1)).toEqual({ stage: 'analysing', framesDone: 0, framesTotal: null, fps: null, etaSeconds: null });
    m.stage('rendering', 1000, 100); // resumed at frame 100
    for (let i = 0; i < 100; i++) {
      t += 20; // 50 fps
      m.frame();
    }
    expect(seen.at(-1)).toMatchObject({ stage: 'rendering', framesDone: 200, framesTotal: 1000 });
    expect(seen.at(-1)!.fps).toBeCloseTo(50, 6);
    expect(seen.at(-1)!.etaSeconds).toBeCloseTo(800 / 50, 6);
    // slower for more than the window: the rate follows within it
    for (let i = 0; i < 100; i++) {
      t += 100; // 10 fps for 10 s
      m.frame();
    }
    expect(seen.at(-1)!.fps).toBeCloseTo(10, 6);
    expect(seen.at(-1)!.etaSeconds).toBeCloseTo(700 / 10, 6);
    m.stage('done');
    expect(seen.at(-1)).toMatchObject({ stage: 'done', framesDone: 300, framesTotal: 1000 });
  });
});
