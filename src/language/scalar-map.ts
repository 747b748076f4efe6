import type { Scalar } from "yaml";

/**
 * Maps offsets in a YAML scalar's value back to offsets in the file, for every scalar style:
 * plain and quoted (with folding and escapes), literal `|` and folded `>` blocks. It decodes the
 * raw text itself, keeping each character's origin, and uses the result only when it equals the
 * value yaml decoded; otherwise every offset maps to the scalar's start (never to a wrong place).
 */
export function scalarOffsets(node: Scalar, text: string): (offset: number) => number {
  const start = node.range?.[0] ?? 0;
  const value = typeof node.value === "string" ? node.value : String(node.value);
  const token = node.srcToken as { type?: string; offset?: number; source?: string } | undefined;
  let decoded: { chars: string; origin: number[] } | undefined;
  if (token?.type === "block-scalar" && typeof token.offset === "number") {
    decoded = decodeBlock(text, token.offset, node.type === "BLOCK_FOLDED");
  } else if (token && typeof token.offset === "number" && typeof token.source === "string") {
    decoded = decodeFlow(token.source, token.offset, token.type ?? "scalar");
  }
  if (!decoded || !sameUpToTrailingBreaks(decoded.chars, value)) return () => start;
  const origin = decoded.origin;
  return (offset) => origin[Math.max(0, Math.min(offset, origin.length - 1))] ?? start;
}

function sameUpToTrailingBreaks(a: string, b: string): boolean {
  return a.replace(/\n+$/, "") === b.replace(/\n+$/, "");
}

interface Out {
  chars: string;
  origin: number[];
}

function push(out: Out, ch: string, at: number): void {
  out.chars += ch;
  for (let i = 0; i < ch.length; i++) out.origin.push(at);
}

// flow scalars: plain, 'single' and "double" quoted, possibly over several lines
function decodeFlow(raw: string, base: number, type: string): Out {
  const out: Out = { chars: "", origin: [] };
  const quoted = type === "single-quoted-scalar" || type === "double-quoted-scalar";
  const double = type === "double-quoted-scalar";
  let i = quoted ? 1 : 0;
  const end = quoted ? raw.length - 1 : raw.length;
  while (i < end) {
    const ch = raw[i] ?? "";
    if (ch === "\n" || ch === "\r") {
      // folding: trailing spaces were dropped, a line break becomes a space, blank lines newlines
      trimTrailingSpace(out);
      let breaks = 0;
      let j = i;
      while (j < end && /[\s]/.test(raw[j] ?? "")) {
        if (raw[j] === "\n") breaks++;
        j++;
      }
      if (breaks <= 1) push(out, " ", base + i);
      else for (let k = 1; k < breaks; k++) push(out, "\n", base + i);
      i = j;
      continue;
    }
    if (!double && ch === "'" && raw[i + 1] === "'" && quoted) {
      push(out, "'", base + i);
      i += 2;
      continue;
    }
    if (double && ch === "\\") {
      const next = raw[i + 1] ?? "";
      if (next === "\n" || next === "\r") {
        // an escaped line break joins the lines with nothing between
        let j = i + 1;
        while (j < end && /\s/.test(raw[j] ?? "")) j++;
        i = j;
        continue;
      }
      const simple: Record<string, string> = {
        n: "\n",
        t: "\t",
        r: "\r",
        "0": "\0",
        a: "\x07",
        b: "\b",
        e: "\x1b",
        f: "\f",
        v: "\v",
        '"': '"',
        "\\": "\\",
        "/": "/",
        " ": " ",
        "\t": "\t",
        N: "\u0085",
        _: "\u00a0",
        L: "\u2028",
        P: "\u2029",
      };
      if (next in simple) {
        push(out, simple[next] ?? "", base + i);
        i += 2;
        continue;
      }
      const width = next === "x" ? 2 : next === "u" ? 4 : next === "U" ? 8 : 0;
      if (width > 0) {
        const code = Number.parseInt(raw.slice(i + 2, i + 2 + width), 16);
        push(out, Number.isNaN(code) ? "" : String.fromCodePoint(code), base + i);
        i += 2 + width;
        continue;
      }
    }
    push(out, ch, base + i);
    i++;
  }
  if (!quoted) trimTrailingSpace(out);
  return out;
}

function trimTrailingSpace(out: Out): void {
  while (out.chars.endsWith(" ") || out.chars.endsWith("\t")) {
    out.chars = out.chars.slice(0, -1);
    out.origin.pop();
  }
}

// block scalars: content lines after the header, indentation removed; `>` folds single breaks
function decodeBlock(text: string, headerOffset: number, folded: boolean): Out | undefined {
  const headerEnd = text.indexOf("\n", headerOffset);
  if (headerEnd < 0) return undefined;
  const header = text.slice(headerOffset, headerEnd).replace(/#.*$/, "").trim();
  const explicit = /[1-9]/.exec(header)?.[0];
  const lines: { start: number; text: string }[] = [];
  let at = headerEnd + 1;
  let indent = -1;
  while (at <= text.length) {
    const nl = text.indexOf("\n", at);
    const lineEnd = nl < 0 ? text.length : nl;
    const line = text.slice(at, lineEnd);
    const blank = line.trim() === "";
    const lead = line.length - line.trimStart().length;
    if (!blank) {
      if (indent < 0) indent = explicit ? Number(explicit) : lead;
      if (lead < indent) break;
    }
    lines.push({ start: at, text: line });
    if (nl < 0) break;
    at = nl + 1;
  }
  if (indent < 0) return undefined;
  const out: Out = { chars: "", origin: [] };
  let previousMore = false;
  lines.forEach((line, n) => {
    const content = line.text.length >= indent ? line.text.slice(indent) : "";
    const blank = line.text.trim() === "";
    const more = content.startsWith(" ") || content.startsWith("\t");
    if (n > 0) {
      const prevBlank = (lines[n - 1]?.text.trim() ?? "") === "";
      let join = "\n";
      if (folded && blank && !prevBlank && !previousMore)
        join = ""; // folded away before blank lines
      else if (folded && !blank && !prevBlank && !more && !previousMore) join = " ";
      if (join) push(out, join, line.start - 1);
    }
    for (let i = 0; i < content.length; i++) push(out, content[i] ?? "", line.start + indent + i);
    if (!blank) previousMore = more;
  });
  return out;
}
