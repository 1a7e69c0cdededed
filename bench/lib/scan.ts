// A MessagePack reader that extracts only what the load generator measures from a BATCH (room
// id, shed count, and each item's s, k, t, a) and skips everything else without decoding it:
// strings are never turned into JS strings but the room id. At hundreds of thousands of items
// per second this keeps the load generator from being the bottleneck (a full decode with
// msgpackr spends most of its time on the texts and names).

export interface ScannedItem {
  s: number;
  k: number;
  t: number;
  a: number;
}

export interface ScannedBatch {
  room: string;
  shed: number;
  items: ScannedItem[];
}

class Cursor {
  pos = 0;
  constructor(readonly b: Buffer) {}

  byte(): number {
    return this.b[this.pos++]!;
  }

  /** Reads any number; null (and skips the value) if it is not one. */
  num(): number | null {
    const b = this.b;
    const t = b[this.pos]!;
    if (t <= 0x7f) return (this.pos++, t);
    if (t >= 0xe0) return (this.pos++, t - 0x100);
    this.pos++;
    let v: number;
    switch (t) {
      case 0xcc: v = b.readUInt8(this.pos); this.pos += 1; return v;
      case 0xcd: v = b.readUInt16BE(this.pos); this.pos += 2; return v;
      case 0xce: v = b.readUInt32BE(this.pos); this.pos += 4; return v;
      case 0xcf: v = Number(b.readBigUInt64BE(this.pos)); this.pos += 8; return v;
      case 0xd0: v = b.readInt8(this.pos); this.pos += 1; return v;
      case 0xd1: v = b.readInt16BE(this.pos); this.pos += 2; return v;
      case 0xd2: v = b.readInt32BE(this.pos); this.pos += 4; return v;
      case 0xd3: v = Number(b.readBigInt64BE(this.pos)); this.pos += 8; return v;
      case 0xca: v = b.readFloatBE(this.pos); this.pos += 4; return v;
      case 0xcb: v = b.readDoubleBE(this.pos); this.pos += 8; return v;
      default:
        this.pos--;
        this.skip();
        return null;
    }
  }

  /** The length of a str at the cursor (and moves past its header); -1 if it is not a str. */
  strLen(): number {
    const b = this.b;
    const t = b[this.pos]!;
    if ((t & 0xe0) === 0xa0) return (this.pos++, t & 0x1f);
    if (t === 0xd9) return (this.pos += 2, b[this.pos - 1]!);
    if (t === 0xda) return (this.pos += 3, b.readUInt16BE(this.pos - 2));
    if (t === 0xdb) return (this.pos += 5, b.readUInt32BE(this.pos - 4));
    return -1;
  }

  str(): string {
    const n = this.strLen();
    if (n < 0) return (this.skip(), '');
    this.pos += n;
    return this.b.toString('utf8', this.pos - n, this.pos);
  }

  /** A one-byte map key (our keys are single ASCII letters); 0 for anything else, skipped. */
  key(): number {
    const t = this.b[this.pos]!;
    if (t === 0xa1) return (this.pos += 2, this.b[this.pos - 1]!);
    this.skip();
    return 0;
  }

  mapLen(): number {
    const t = this.byte();
    if ((t & 0xf0) === 0x80) return t & 0x0f;
    if (t === 0xde) return (this.pos += 2, this.b.readUInt16BE(this.pos - 2));
    if (t === 0xdf) return (this.pos += 4, this.b.readUInt32BE(this.pos - 4));
    throw new Error(`expected a map, got 0x${t.toString(16)}`);
  }

  arrayLen(): number {
    const t = this.byte();
    if ((t & 0xf0) === 0x90) return t & 0x0f;
    if (t === 0xdc) return (this.pos += 2, this.b.readUInt16BE(this.pos - 2));
    if (t === 0xdd) return (this.pos += 4, this.b.readUInt32BE(this.pos - 4));
    throw new Error(`expected an array, got 0x${t.toString(16)}`);
  }

  skip(): void {
    const b = this.b;
    const t = this.byte();
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) return;
    if ((t & 0xe0) === 0xa0) return void (this.pos += t & 0x1f);
    if ((t & 0xf0) === 0x80) return this.skipN((t & 0x0f) * 2);
    if ((t & 0xf0) === 0x90) return this.skipN(t & 0x0f);
    switch (t) {
      case 0xcc: case 0xd0: this.pos += 1; return;
      case 0xcd: case 0xd1: this.pos += 2; return;
      case 0xce: case 0xd2: case 0xca: this.pos += 4; return;
      case 0xcf: case 0xd3: case 0xcb: this.pos += 8; return;
      case 0xd9: case 0xc4: this.pos += 1 + b[this.pos]!; return;
      case 0xda: case 0xc5: this.pos += 2 + b.readUInt16BE(this.pos); return;
      case 0xdb: case 0xc6: this.pos += 4 + b.readUInt32BE(this.pos); return;
      case 0xdc: { const n = b.readUInt16BE(this.pos); this.pos += 2; return this.skipN(n); }
      case 0xdd: { const n = b.readUInt32BE(this.pos); this.pos += 4; return this.skipN(n); }
      case 0xde: { const n = b.readUInt16BE(this.pos); this.pos += 2; return this.skipN(n * 2); }
      case 0xdf: { const n = b.readUInt32BE(this.pos); this.pos += 4; return this.skipN(n * 2); }
      default: throw new Error(`unsupported MessagePack type 0x${t.toString(16)}`);
    }
  }

  private skipN(n: number): void {
    for (let i = 0; i < n; i++) this.skip();
  }
}

const K_S = 0x73; // 's'
const K_K = 0x6b; // 'k'
const K_T = 0x74; // 't'
const K_A = 0x61; // 'a'
const K_R = 0x72; // 'r'
const K_D = 0x64; // 'd'

/** The op and rid of a frame, and a cursor at its body. */
export function frameHead(b: Buffer): { op: number; rid: number; cursor: Cursor } {
  const c = new Cursor(b);
  c.arrayLen();
  const op = c.num() ?? -1;
  const rid = c.num() ?? 0;
  return { op, rid, cursor: c };
}

/** Reads a BATCH body at the cursor. */
export function scanBatch(c: Cursor): ScannedBatch {
  const out: ScannedBatch = { room: '', shed: 0, items: [] };
  for (let n = c.mapLen(); n > 0; n--) {
    const key = c.key();
    if (key === K_R) out.room = c.str();
    else if (key === K_S) out.shed = c.num() ?? 0;
    else if (key === K_D) {
      for (let m = c.arrayLen(); m > 0; m--) {
        const it: ScannedItem = { s: 0, k: 0, t: 0, a: 1 };
        for (let f = c.mapLen(); f > 0; f--) {
          const k = c.key();
          if (k === K_S) it.s = c.num() ?? 0;
          else if (k === K_K) it.k = c.num() ?? 0;
          else if (k === K_T) it.t = c.num() ?? 0;
          else if (k === K_A) it.a = c.num() ?? 1;
          else c.skip();
        }
        out.items.push(it);
      }
    } else c.skip();
  }
  return out;
}
