import assert from "node:assert/strict";
import { test } from "node:test";
import { printable } from "./output.js";

test("text from the store reaches a terminal as text: escape sequences and reordering shown, not obeyed", () => {
  // a log name crafted to erase the line above and print a false `ok`
  assert.equal(
    printable("TAMPERED: zz\r\x1b[2K\x1b[1Aok: fine"),
    "TAMPERED: zz\\u000d\\u001b[2K\\u001b[1Aok: fine",
  );
  assert.equal(printable("a\u202eb\u2066c\x7f\x9b"), "a\\u202eb\\u2066c\\u007f\\u009b");
  // marks that reorder, separators that break lines where none shows, characters that hide
  assert.equal(
    printable("\u200e\u200f\u061c\u2028\u2029\u200b\u2060\ufeff"),
    "\\u200e\\u200f\\u061c\\u2028\\u2029\\u200b\\u2060\\ufeff",
  );
  // newlines, tabs and ordinary text (any script) are left as they are
  const plain = "ok: pdp-staging-0123456789abcdef: 6 decisions\n\tnaïve 決定 ✓ می\u200cخواهم";
  assert.equal(printable(plain), plain);
});
