import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { EntryRing, RingReader } from "./decision-ring.js";

// the decision log's shared-memory queue against a plain array of strings: whatever is pushed,
// read and freed, in whatever sizes and order, the worker's side reads back exactly the entries
// pushed and not yet freed, in order, and a push fails only when the room is really not there

// one entry, as a writer lays it out with begin and commit: the UTF-8 of `head`, then `middle`
// (bytes as they are, or a string's UTF-8), then the UTF-8 of `tail`; false when it does not fit
function push(ring: EntryRing, head: string, middle: string | Uint8Array = "", tail = ""): boolean {
  const bytes = typeof middle !== "string";
  const most =
    (head.length + tail.length + (bytes ? 0 : middle.length)) * 3 + (bytes ? middle.length : 0);
  const exact = () =>
    Buffer.byteLength(head) +
    Buffer.byteLength(tail) +
    (bytes ? middle.length : Buffer.byteLength(middle));
  let end = ring.begin(most);
  if (end < 0) end = ring.begin(exact());
  if (end < 0) return false;
  end += ring.data.write(head, end, "utf8");
  if (bytes) {
    ring.data.set(middle, end);
    end += middle.length;
  } else end += ring.data.write(middle, end, "utf8");
  end += ring.data.write(tail, end, "utf8");
  ring.commit(end);
  return true;
}

// the entries read one by one; and, as the worker seals them, copied out as one batch (each
// followed by its newline, a run at a time across the ring's end), which must be the same bytes
const read = (ring: EntryRing, max: number) => {
  const out: Buffer[] = [];
  ring.publish();
  const reader = new RingReader(ring.shared);
  const r = reader.entries(ring.read, max, (bytes) => out.push(Buffer.from(bytes)));
  const { taken, size } = reader.measure(ring.read, max);
  assert.equal(taken, r.taken);
  const batch = Buffer.alloc(2 + size, 0xee);
  const ends = new Uint32Array(taken);
  reader.copy(ring.read, taken, batch, 2, ends);
  assert.deepEqual(
    batch,
    Buffer.concat([Buffer.from([0xee, 0xee]), ...out.flatMap((e) => [e, Buffer.from("\n")])]),
  );
  let end = 0;
  for (const [i, e] of out.entries()) {
    end += e.length;
    assert.equal(ends[i], end, `entry ${i} ends at its newline`);
    end += 1;
  }
  return { out: out.map((b) => b.toString("utf8")), ...r };
};

test("entries come back in order, across the end of the ring", () => {
  const ring = new EntryRing(64);
  for (let round = 0; round < 20; round++) {
    assert.equal(push(ring, `entry-${round}é`), true);
    assert.equal(push(ring, "x".repeat(round % 7)), true);
    const { out, next, taken } = read(ring, 10);
    assert.deepEqual(out, [`entry-${round}é`, "x".repeat(round % 7)]);
    ring.free(next, taken);
    assert.equal(ring.count, 0);
  }
});

test("an entry is its head, its middle (bytes as they are, or a string) and its tail", () => {
  const ring = new EntryRing(170);
  assert.equal(push(ring, "a:", Buffer.from("bytes é"), ":z"), true);
  assert.equal(push(ring, "b:", "text é", ""), true);
  assert.equal(push(ring, "c"), true);
  // a middle too big to measure cheaply still fits when its exact size does
  assert.equal(push(ring, "", "é".repeat(60)), true);
  assert.deepEqual(read(ring, 9).out, ["a:bytes é:z", "b:text é", "c", "é".repeat(60)]);
});

test("a push that does not fit fails and writes nothing; room comes back once freed", () => {
  const ring = new EntryRing(64);
  // 33 bytes each with its newline: two do not fit in 64
  assert.equal(push(ring, "a".repeat(32)), true);
  assert.equal(push(ring, "b".repeat(32)), false);
  assert.equal(ring.count, 1);
  assert.equal(push(ring, "c".repeat(80)), false);
  const { out, next, taken } = read(ring, 5);
  assert.deepEqual(out, ["a".repeat(32)]);
  ring.free(next, taken);
  // empty again, wherever its offsets were: all of it is free
  assert.equal(push(ring, "b".repeat(60)), true);
  assert.deepEqual(read(ring, 5).out, ["b".repeat(60)]);
});

test("the ring behaves as a queue of strings (property)", () => {
  const op = fc.oneof(
    fc.record({
      push: fc.array(fc.string({ unit: "binary", maxLength: 24 }), { minLength: 1, maxLength: 3 }),
    }),
    fc.record({ take: fc.integer({ min: 1, max: 6 }) }),
    fc.constant({ clear: true }),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 64, max: 2_000 }),
      // entry numbers from 0, or from just before they wrap at 2^32
      fc.constantFrom(0, 2 ** 32 - 7),
      fc.array(op, { maxLength: 80 }),
      (size, first, ops) => {
        const ring = new EntryRing(size, first);
        const model: { text: string; bytes: number }[] = [];
        let used = 0;
        for (const o of ops) {
          if ("push" in o) {
            const text = o.push.join("");
            const bytes = Buffer.byteLength(text);
            const empty = model.length === 0;
            // the middle part as bytes or as a string, as the decision log passes either
            const [head = "", middle = "", tail = ""] = o.push;
            const ok = push(
              ring,
              head,
              middle.length % 2 === 0 ? Buffer.from(middle) : middle,
              tail + o.push.slice(3).join(""),
            );
            if (ok) {
              model.push({ text, bytes });
              used += 1 + bytes;
              assert.ok(used <= size, `${used} bytes queued in a ring of ${size}`);
            } else {
              // an empty ring takes anything up to its size, wherever its offsets were
              assert.ok(!empty || 1 + bytes > size, `an empty ring refused ${bytes} bytes`);
            }
          } else if ("take" in o) {
            const { out, next, taken } = read(ring, o.take);
            const expected = model.splice(0, o.take);
            // a lone surrogate has no UTF-8: it comes back as U+FFFD, as Buffer writes it
            assert.deepEqual(
              out,
              expected.map((e) => Buffer.from(e.text).toString("utf8")),
            );
            for (const e of expected) used -= 1 + e.bytes;
            ring.free(next, taken);
          } else {
            assert.equal(ring.clear(), model.length);
            model.length = 0;
            used = 0;
          }
          assert.equal(ring.count, model.length);
          // the bytes it says it holds: the entries' own, and at most the room a wrap skipped
          assert.ok(ring.bytes >= used && ring.bytes <= size, `${ring.bytes} for ${used}`);
          assert.equal(ring.bytes === 0, model.length === 0);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test("back at the ring's start, an entry lies against 8-byte words as the last one ended, where that fits, else at 0", () => {
  // the worker copies entries out of shared memory a word at a time only where they lie alike
  // in the ring and in the batch
  const wrap = (first: number, second: number, third: number) => {
    const ring = new EntryRing(64);
    assert.equal(push(ring, "a".repeat(first)), true);
    assert.equal(push(ring, "b".repeat(second)), true);
    ring.publish();
    ring.free((ring.read + 1) >>> 0, 1);
    const queued = push(ring, "c".repeat(third));
    const reader = new RingReader(ring.shared);
    return { queued, second: reader.startOf(1), third: reader.startOf(2) };
  };
  // a takes 0–30, b 31–51 (its newline at 51): 12 bytes are left at the end, and c goes back to
  // the start, at 52 & 7 = 4, lying as it would right after b
  assert.deepEqual(wrap(30, 20, 15), { queued: true, second: 31, third: 4 });
  // at 4 it would reach b, at 0 it does not: it goes to 0
  assert.deepEqual(wrap(30, 20, 26), { queued: true, second: 31, third: 0 });
  // nowhere: refused
  assert.equal(wrap(30, 20, 30).queued, false);
});

test("entries numbered across 2^32 come back in order, whatever the ring's size", () => {
  for (const size of [1_100, 1_000_000, 4_096]) {
    const ring = new EntryRing(size, 2 ** 32 - 3);
    for (let round = 0; round < 4; round++) {
      const entries = ["entry-A", "entry-B", `entry-${round}`].map((e) => `${e}-${size}`);
      for (const e of entries) assert.equal(push(ring, e), true);
      const { out, next, taken } = read(ring, 10);
      assert.deepEqual(out, entries);
      ring.free(next, taken);
    }
  }
});

test("the worker sees only entries published to it", () => {
  const ring = new EntryRing(256);
  assert.equal(push(ring, "a"), true);
  ring.publish();
  assert.equal(push(ring, "b"), true);
  const seen: string[] = [];
  new RingReader(ring.shared).entries(ring.read, 10, (bytes) =>
    seen.push(Buffer.from(bytes).toString()),
  );
  assert.deepEqual(seen, ["a"]);
  assert.deepEqual(read(ring, 10).out, ["a", "b"]);
});
