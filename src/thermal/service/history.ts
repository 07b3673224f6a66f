/** Fixed-size ring of recent samples for plotting; oldest dropped first. */
export class Ring<T extends { t: number }> {
  private readonly buf: (T | undefined)[];
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new Error(`ring capacity must be >= 1, got ${capacity}`);
    this.buf = new Array(capacity);
  }

  push(item: T): void {
    this.buf[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    this.size = Math.min(this.capacity, this.size + 1);
  }

  get length(): number {
    return this.size;
  }

  /** items with t >= since, oldest first */
  since(since: number): T[] {
    const out: T[] = [];
    for (let k = 0; k < this.size; k++) {
      const item = this.buf[(this.next - this.size + k + this.capacity) % this.capacity]!;
      if (item.t >= since) out.push(item);
    }
    return out;
  }
}
