declare module 'fft.js' {
  type Buf = number[] | Float64Array;
  export default class FFT {
    constructor(size: number);
    size: number;
    table: number[];
    createComplexArray(): number[];
    transform(out: Buf, data: Buf): void;
    realTransform(out: Buf, data: Buf): void;
    completeSpectrum(spectrum: Buf): void;
    inverseTransform(out: Buf, data: Buf): void;
  }
}
