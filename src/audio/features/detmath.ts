/**
 * Transcendental functions from @stdlib (pure JavaScript ports of FreeBSD msun / fdlibm that use only
 * IEEE-754 arithmetic). `Math.log`, `Math.sin`, ... are allowed by the ECMAScript spec to differ between
 * engines and versions; the latents must be bit-identical on any machine, so every table and every
 * per-sample transcendental in the synthesis path goes through these instead.
 */
import stdlibLn from '@stdlib/math-base-special-ln';
import stdlibLog10 from '@stdlib/math-base-special-log10';
import stdlibExp from '@stdlib/math-base-special-exp';
import stdlibSinpi from '@stdlib/math-base-special-sinpi';
import stdlibCospi from '@stdlib/math-base-special-cospi';
import stdlibSin from '@stdlib/math-base-special-sin';

export const ln: (x: number) => number = stdlibLn;
export const log10: (x: number) => number = stdlibLog10;
export const exp: (x: number) => number = stdlibExp;
export const sin: (x: number) => number = stdlibSin;
/** sin(pi * x), exact at integers and half-integers. */
export const sinpi: (x: number) => number = stdlibSinpi;
/** cos(pi * x), exact at integers and half-integers. */
export const cospi: (x: number) => number = stdlibCospi;

/** numpy.rint: round half to even. */
export function rintHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; numpy rounds .5 to the even neighbour.
  if (Math.abs(x - Math.trunc(x)) === 0.5) return 2 * Math.round(x / 2);
  return r;
}
