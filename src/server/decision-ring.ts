// The decision log's queue: a ring of entries in shared memory. The request thread writes each
// entry's bytes once, straight from its strings; the log's worker thread copies them out when it
// seals a batch. Nothing is posted per decision and nothing waits on the request thread's heap,
// and a worker that dies leaves the entries where they are, for the next one.
//
// Layout: a header of two 32-bit words (the write offset, published with Atomics after the bytes;
// the entries in the ring), then the data. An entry is its length (u32, little-endian) and its
// bytes; a length of WRAP, or fewer than 4 bytes left before the end, means "go on at 0". One
// producer (the request thread) and one consumer: the request thread owns the read offset too,
// and moves it when the worker's answer says how far it copied.

const HEADER_BYTES = 8;
const WRITE = 0;
const WRAP = 0xffffffff;

/** The request thread's side: appends entries, and frees them once sealed. */
export class EntryRing {
  readonly shared: SharedArrayBuffer;
  readonly capacity: number;
  readonly #header: Int32Array;
  readonly #data: Buffer;
  #write = 0;
  #read = 0;
  #count = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 64 || capacity > 0x7fff_fff0)
      throw new RangeError(`a ring holds 64 bytes to 2 GiB, not ${capacity}`);
    this.capacity = capacity;
    this.shared = new SharedArrayBuffer(HEADER_BYTES + capacity);
    this.#header = new Int32Array(this.shared, 0, 2);
    this.#data = Buffer.from(this.shared, HEADER_BYTES, capacity);
  }

  /** Entries written and not yet freed. */
  get count(): number {
    return this.#count;
  }

  /** Where the oldest entry not yet freed starts. */
  get read(): number {
    return this.#read;
  }

  /**
   * Appends one entry, the UTF-8 of `text`. False, and nothing written, when it does not fit in
   * the free space: the caller counts it dropped.
   */
  push(text: string): boolean {
    // a UTF-16 unit is at most 3 bytes of UTF-8: where that many fit, write without measuring
    let at = this.#reserve(text.length * 3);
    if (at < 0) {
      at = this.#reserve(Buffer.byteLength(text, "utf8"));
      if (at < 0) return false;
    }
    // one write of the whole text: a rope of parts is flattened once, not written part by part
    const written = this.#data.write(text, at + 4, "utf8");
    this.#data.writeUInt32LE(written, at);
    this.#write = at + 4 + written;
    this.#count++;
    Atomics.store(this.#header, WRITE, this.#write);
    return true;
  }

  /** Frees the `taken` oldest entries, which end where the next one starts: `next`. */
  free(next: number, taken: number): void {
    if (taken > this.#count || next < 0 || next > this.capacity)
      throw new RangeError(`cannot free ${taken} entries to offset ${next}`);
    this.#read = next;
    this.#count -= taken;
  }

  /** Frees every entry; returns how many there were. */
  clear(): number {
    const n = this.#count;
    this.#read = this.#write;
    this.#count = 0;
    return n;
  }

  // where an entry of up to `bytes` bytes goes (writing a wrap mark when it goes to the start),
  // or -1 when the free space is too small. The write offset never catches up with the read
  // offset from behind: equal means empty.
  #reserve(bytes: number): number {
    const need = 4 + bytes;
    const write = this.#write;
    const read = this.#read;
    if (write >= read) {
      if (this.capacity - write >= need) return write;
      if (need >= read) return -1;
      if (this.capacity - write >= 4) this.#data.writeUInt32LE(WRAP, write);
      return 0;
    }
    return write + need < read ? write : -1;
  }
}

/**
 * The worker's side: calls `entry` with each entry from `read` on (at most `max` of them), in
 * order, and returns where the next one starts and how many it read. The bytes handed to
 * `entry` are valid only during the call: the request thread reuses them once freed.
 */
export function readEntries(
  shared: SharedArrayBuffer,
  read: number,
  max: number,
  entry: (bytes: Uint8Array) => void,
): { next: number; taken: number } {
  const write = Atomics.load(new Int32Array(shared, 0, 2), WRITE);
  const capacity = shared.byteLength - HEADER_BYTES;
  const data = new Uint8Array(shared, HEADER_BYTES, capacity);
  const view = new DataView(shared, HEADER_BYTES, capacity);
  let at = read;
  let taken = 0;
  while (at !== write && taken < max) {
    if (capacity - at < 4) {
      at = 0;
      continue;
    }
    const length = view.getUint32(at, true);
    if (length === WRAP) {
      at = 0;
      continue;
    }
    if (at + 4 + length > capacity) throw new RangeError(`a ring entry at ${at} overruns the ring`);
    entry(data.subarray(at + 4, at + 4 + length));
    at += 4 + length;
    taken++;
  }
  return { next: at, taken };
}
