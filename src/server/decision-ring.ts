// The decision log's queue: a ring of entries in shared memory. The request thread writes each
// entry's bytes once, from its strings and bytes, each followed by a newline, so that entries
// queued one after another lie almost as a batch does (its lines joined by newlines: an entry may
// still hold the line breaks of the request's own text, which the worker makes spaces); the
// log's worker thread copies them out a run at a time, nothing per entry. Nothing is posted per
// decision and nothing waits on the request thread's heap, and a worker that dies leaves the
// entries where they are, for the next one.
//
// Layout: a header of two 32-bit words (the count of entries written, published with Atomics by
// `publish`, which the request thread calls every 64 entries and before it asks the
// worker to seal; and how many slots there are), then a slot per entry (where its bytes start
// and where its newline is, in the data; slot `n % slots` for the entry numbered n), then the
// data. One producer (the request thread) and one consumer: the request thread owns the read
// side too, and moves it when the worker's answer says how many it sealed. The worker reads only
// published entries from the one after the last it sealed (what it gathered of them is dropped
// when the next seal starts elsewhere), so an empty ring may start again at 0.

const HEADER_BYTES = 8;
/** The largest ring (a SharedArrayBuffer of a little more, indexed by 32-bit offsets). */
export const MAX_RING_BYTES = 0x7fff_fff0;
const WRITTEN = 0;
const SLOTS = 1;
const NEWLINE = 0x0a;
// a slot for every this many bytes of data (a decision's line is hundreds of bytes), the count
// rounded up to a power of two: entry numbers wrap at 2^32, and slot = number mod count must go on
// from slot 0 when they do
const BYTES_PER_SLOT = 64;
// entries written between two publications (a power of two): the worker gathers a batch as its
// entries are published (decision-log-worker.ts), and each publication is a barrier
const PUBLISH_EVERY = 64;

/** The request thread's side: appends entries, and frees them once sealed. */
export class EntryRing {
  readonly shared: SharedArrayBuffer;
  readonly capacity: number;
  readonly #header: Int32Array;
  readonly #slots: Uint32Array;
  readonly #slotCount: number;
  readonly #data: Buffer;
  // data offsets: where the next entry goes, and where the oldest not freed starts
  #write = 0;
  #read = 0;
  // entry numbers (counting from 0, wrapping at 2^32): the next to write, the oldest not freed
  #written = 0;
  #oldest = 0;
  #count = 0;
  // where the entry begun and not committed yet starts, else -1, and where its room ends
  #begun = -1;
  #room = 0;

  /** `firstEntry`: the number of the first entry (tests start near 2^32, to see the wrap). */
  constructor(capacity: number, firstEntry = 0) {
    if (!Number.isInteger(capacity) || capacity < 64 || capacity > MAX_RING_BYTES)
      throw new RangeError(`a ring holds 64 bytes to 2 GiB, not ${capacity}`);
    this.capacity = capacity;
    this.#slotCount = 2 ** Math.ceil(Math.log2(Math.max(16, capacity / BYTES_PER_SLOT)));
    this.#written = firstEntry >>> 0;
    this.#oldest = this.#written;
    this.shared = new SharedArrayBuffer(HEADER_BYTES + 8 * this.#slotCount + capacity);
    this.#header = new Int32Array(this.shared, 0, 2);
    this.#header[SLOTS] = this.#slotCount;
    this.#header[WRITTEN] = this.#written | 0;
    this.#slots = new Uint32Array(this.shared, HEADER_BYTES, 2 * this.#slotCount);
    this.#data = Buffer.from(this.shared, HEADER_BYTES + 8 * this.#slotCount, capacity);
  }

  /** Entries written and not yet freed. */
  get count(): number {
    return this.#count;
  }

  /** Bytes the entries not yet freed take (with their newlines, and any room skipped at a wrap). */
  get bytes(): number {
    if (this.#count === 0) return 0;
    return this.#write >= this.#read
      ? this.#write - this.#read
      : this.capacity - this.#read + this.#write;
  }

  /** The number of the oldest entry not yet freed (what the worker is asked to read from). */
  get read(): number {
    return this.#oldest;
  }

  /** The ring's bytes, for a writer between `begin` and `commit`. */
  get data(): Buffer {
    return this.#data;
  }

  /**
   * Starts an entry of at most `size` bytes: where its bytes go in `data`, or -1 when it does not
   * fit (a caller that asked for more than it needs may ask again for less, else it counts the
   * entry dropped). The caller writes them and calls `commit` with where they end, before
   * anything else. Only the newline `commit` writes ends an entry (its slot says where): any other
   * in its bytes is the worker's to make a space.
   */
  begin(size: number): number {
    if (this.#count >= this.#slotCount) return -1;
    const at = this.#reserve(size + 1);
    if (at < 0) return -1;
    this.#begun = at;
    this.#room = at + size;
    return at;
  }

  /** Ends the entry `begin` started, whose bytes end at `end`: it is queued. */
  commit(end: number): void {
    const at = this.#begun;
    if (at < 0 || end < at || end > this.#room) throw new RangeError(`no entry to end at ${end}`);
    this.#data[end] = NEWLINE;
    const slot = 2 * (this.#written & (this.#slotCount - 1));
    this.#slots[slot] = at;
    this.#slots[slot + 1] = end;
    this.#begun = -1;
    this.#write = end + 1;
    this.#written = (this.#written + 1) >>> 0;
    this.#count++;
    // every PUBLISH_EVERY entries, for the worker to copy ahead of the next seal
    if ((this.#written & (PUBLISH_EVERY - 1)) === 0) this.publish();
  }

  /**
   * Publishes the entries written so far, for the worker: call it before asking the worker to
   * read them. `commit` calls it every PUBLISH_EVERY entries, not every one: a store with
   * Atomics is a barrier.
   */
  publish(): void {
    Atomics.store(this.#header, WRITTEN, this.#written | 0);
  }

  /** Frees the `taken` oldest entries, up to (not including) the one numbered `next`. */
  free(next: number, taken: number): void {
    if (taken > this.#count || (next - this.#oldest) >>> 0 !== taken)
      throw new RangeError(`cannot free ${taken} entries up to entry ${next}`);
    this.#oldest = next >>> 0;
    this.#count -= taken;
    this.#read =
      this.#count === 0 ? this.#write : (this.#slots[2 * (next & (this.#slotCount - 1))] as number);
  }

  /** Frees every entry; returns how many there were. */
  clear(): number {
    const n = this.#count;
    this.#oldest = this.#written;
    this.#read = this.#write;
    this.#count = 0;
    return n;
  }

  // where `bytes` bytes go, or -1 when the free space is too small: after the last entry, or
  // near the start when they do not fit before the end. The write offset never catches up with
  // the read offset from behind: equal means empty. An empty ring takes any entry up to its
  // capacity.
  #reserve(bytes: number): number {
    // empty (nothing to seal, so no seal under way): the whole ring is free, from 0
    if (this.#count === 0) {
      this.#write = 0;
      this.#read = 0;
    }
    const write = this.#write;
    const read = this.#read;
    if (write >= read) {
      if (this.capacity - write >= bytes) return write;
      // from the start: at the offset modulo 8 the last entry ended at, where that fits (the
      // worker copies entries out of shared memory a word at a time only where they lie alike
      // against 8-byte words on both sides of the wrap: decision-log-worker.ts), else at 0
      const start = write & 7;
      if (start + bytes < read) return start;
      return bytes < read ? 0 : -1;
    }
    return write + bytes < read ? write : -1;
  }
}

/** The worker's side of a ring: reads the entries published to it, from the number it is sent. */
export class RingReader {
  readonly #header: Int32Array;
  readonly #slots: Uint32Array;
  readonly #slotCount: number;
  readonly #data: Uint8Array;

  constructor(shared: SharedArrayBuffer) {
    this.#header = new Int32Array(shared, 0, 2);
    this.#slotCount = this.#header[SLOTS] as number;
    if (this.#slotCount <= 0 || (this.#slotCount & (this.#slotCount - 1)) !== 0)
      throw new RangeError(`a ring's slot count is a power of two, not ${this.#slotCount}`);
    this.#slots = new Uint32Array(shared, HEADER_BYTES, 2 * this.#slotCount);
    const start = HEADER_BYTES + 8 * this.#slotCount;
    this.#data = new Uint8Array(shared, start, shared.byteLength - start);
  }

  // where the slot of the entry numbered `n` (wrapping at 2^32) starts in `#slots`
  #slot(n: number): number {
    return 2 * ((n >>> 0) & (this.#slotCount - 1));
  }

  /** Where the entry numbered `read` starts in the data. */
  startOf(read: number): number {
    return this.#slots[this.#slot(read)] as number;
  }

  /**
   * How many entries from the one numbered `read` on are published (at most `max`), and how
   * many bytes they take with a newline after each.
   */
  measure(read: number, max: number): { taken: number; size: number } {
    const published = (Atomics.load(this.#header, WRITTEN) - read) >>> 0;
    const taken = Math.min(published, max, this.#slotCount);
    let size = 0;
    for (let i = 0; i < taken; i++) {
      const slot = this.#slot(read + i);
      size += (this.#slots[slot + 1] as number) - (this.#slots[slot] as number) + 1;
    }
    return { taken, size };
  }

  /**
   * Copies the `taken` entries from the one numbered `read` on into `out` from `at`, each
   * followed by its newline, a run of neighbouring entries at a time; `ends` gets where each
   * entry's newline lands, counted from `at`.
   */
  copy(read: number, taken: number, out: Uint8Array, at: number, ends: Uint32Array): void {
    let to = at;
    let runStart = -1;
    let runEnd = -1;
    const flush = () => {
      if (runStart < 0) return;
      out.set(this.#data.subarray(runStart, runEnd), to);
      to += runEnd - runStart;
    };
    let placed = at;
    for (let i = 0; i < taken; i++) {
      const slot = this.#slot(read + i);
      const start = this.#slots[slot] as number;
      const end = this.#slots[slot + 1] as number;
      if (start !== runEnd) {
        flush();
        runStart = start;
      }
      runEnd = end + 1;
      placed += end - start;
      ends[i] = placed - at;
      placed += 1;
    }
    flush();
  }

  /**
   * Calls `entry` with each entry from the one numbered `read` on (at most `max`), in order,
   * one by one (the tests read the ring this way, against `copy`),
   * without its newline; returns the number after the last and how many it read. The bytes
   * handed to `entry` are valid only during the call: the request thread reuses them once freed.
   */
  entries(
    read: number,
    max: number,
    entry: (bytes: Uint8Array) => void,
  ): { next: number; taken: number } {
    const { taken } = this.measure(read, max);
    for (let i = 0; i < taken; i++) {
      const slot = this.#slot(read + i);
      entry(this.#data.subarray(this.#slots[slot] as number, this.#slots[slot + 1] as number));
    }
    return { next: (read + taken) >>> 0, taken };
  }
}
