// A set of sequence numbers as a bitmap that grows with the largest one: what a connection has
// seen of its room (duplicates), and which seqs of a room were acknowledged (loss by seq). A
// room's seqs are dense from 1, so a million of them take 125 KB; bitmaps of several threads
// are merged with a bitwise OR after crossing postMessage as plain Uint8Arrays.

export class SeqSet {
  constructor(public bits: Uint8Array = new Uint8Array(64)) {}

  /** Adds seq (> 0); false if it was already there. Seq 0 (unsequenced) is never kept. */
  add(seq: number): boolean {
    if (seq <= 0) return true;
    const byte = seq >> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.bits.length * 2));
      grown.set(this.bits);
      this.bits = grown;
    }
    const bit = 1 << (seq & 7);
    if (this.bits[byte]! & bit) return false;
    this.bits[byte]! |= bit;
    return true;
  }

  has(seq: number): boolean {
    const byte = seq >> 3;
    return seq > 0 && byte < this.bits.length && (this.bits[byte]! & (1 << (seq & 7))) !== 0;
  }

  /** The members of `other` that are not in this set. */
  missingOf(other: Uint8Array): SeqSet {
    const out = new Uint8Array(other.length);
    for (let i = 0; i < other.length; i++) out[i] = other[i]! & ~(this.bits[i] ?? 0);
    return new SeqSet(out);
  }

  /** Adds every member of `other`. */
  addAll(other: Uint8Array): void {
    if (other.length > this.bits.length) {
      const grown = new Uint8Array(other.length);
      grown.set(this.bits);
      this.bits = grown;
    }
    for (let i = 0; i < other.length; i++) this.bits[i]! |= other[i]!;
  }

  get size(): number {
    let n = 0;
    for (let i = 0; i < this.bits.length; i++) n += popcount(this.bits[i]!);
    return n;
  }
}

function popcount(b: number): number {
  b = b - ((b >> 1) & 0x55);
  b = (b & 0x33) + ((b >> 2) & 0x33);
  return (b + (b >> 4)) & 0x0f;
}
