// The decision log's queue: a ring of entries in shared memory. The request thread writes each
// entry's bytes once, from its strings and bytes; the log's worker thread copies them out when it
// seals a batch. Nothing is posted per decision and nothing waits on the request thread's heap,
// and a worker that dies leaves the entries where they are, for the next one.
//
// Layout: a header of one 32-bit word (the write offset, published with Atomics by `publish`,
// which the request thread calls before it asks the worker to read; padded to 8 bytes), then the
// data. An entry is its length (u32, little-endian) and its bytes; a
// length of WRAP, or fewer than 4 bytes left before the end, means "go on at 0". One producer
// (the request thread) and one consumer: the request thread owns the read offset too, and moves
// it when the worker's answer says how far it copied. The worker reads only from the offset it
// is sent, so an empty ring may start again at 0.

const HEADER_BYTES = 8;
/** The largest ring (a SharedArrayBuffer of a little more, indexed by 32-bit offsets). */
export const MAX_RING_BYTES = 0x7fff_fff0;
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
  // where the entry begun and not committed yet starts (its length), else -1, and where the
  // room reserved for it ends
  #begun = -1;
  #room = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 64 || capacity > MAX_RING_BYTES)
      throw new RangeError(`a ring holds 64 bytes to 2 GiB, not ${capacity}`);
    this.capacity = capacity;
    this.shared = new SharedArrayBuffer(HEADER_BYTES + capacity);
    this.#header = new Int32Array(this.shared, 0, 1);
    this.#data = Buffer.from(this.shared, HEADER_BYTES, capacity);
  }

  /** Entries written and not yet freed. */
  get count(): number {
    return this.#count;
  }

  /** Bytes the entries not yet freed take (with their lengths, and any room skipped at a wrap). */
  get bytes(): number {
    if (this.#count === 0) return 0;
    return this.#write >= this.#read
      ? this.#write - this.#read
      : this.capacity - this.#read + this.#write;
  }

  /** Where the oldest entry not yet freed starts. */
  get read(): number {
    return this.#read;
  }

  /** The ring's bytes, for a writer between `begin` and `commit`. */
  get data(): Buffer {
    return this.#data;
  }

  /**
   * Starts an entry of at most `most` bytes (or, when that does not fit, of `exact()` bytes):
   * where its bytes go in `data`, or -1 when it does not fit (the caller counts it dropped). The
   * caller writes them and calls `commit` with where they end, before anything else.
   */
  begin(most: number, exact?: () => number): number {
    let size = most;
    let at = this.#reserve(size);
    if (at < 0 && exact !== undefined) {
      size = exact();
      at = this.#reserve(size);
    }
    if (at < 0) return -1;
    this.#begun = at;
    this.#room = at + 4 + size;
    return at + 4;
  }

  /** Ends the entry `begin` started, whose bytes end at `end`: it is queued. */
  commit(end: number): void {
    const at = this.#begun;
    if (at < 0 || end < at + 4 || end > this.#room)
      throw new RangeError(`no entry to end at ${end}`);
    this.#data.writeUInt32LE(end - at - 4, at);
    this.#begun = -1;
    this.#write = end;
    this.#count++;
  }

  /**
   * Publishes where the entries written so far end, for the worker: call it before asking the
   * worker to read them (once per batch, not per entry: a store with Atomics is a barrier).
   */
  publish(): void {
    Atomics.store(this.#header, WRITE, this.#write);
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
  // offset from behind: equal means empty. An empty ring takes any entry up to its capacity.
  #reserve(bytes: number): number {
    const need = 4 + bytes;
    // empty (nothing to seal, so no seal under way): the whole ring is free, from 0
    if (this.#count === 0 && this.#write !== 0) {
      this.#write = 0;
      this.#read = 0;
      Atomics.store(this.#header, WRITE, 0);
    }
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
  const write = Atomics.load(new Int32Array(shared, 0, 1), WRITE);
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
