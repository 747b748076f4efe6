import pg from "pg";
import { type Digest, digestOf, isDigest } from "../../bundle/index.js";
import { SteleError } from "../../errors.js";
import {
  checkLogBatch,
  type LogBatch,
  type Store,
  type StoredCheckpoint,
  toLogBatch,
} from "../store.js";

// the schema, created on first use; every write is an INSERT that a primary key makes write-once
const SCHEMA = `
CREATE TABLE IF NOT EXISTS objects (digest text PRIMARY KEY, bytes bytea NOT NULL);
CREATE TABLE IF NOT EXISTS entries (idx bigint PRIMARY KEY, bytes bytea NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (size bigint PRIMARY KEY, note text NOT NULL);
CREATE TABLE IF NOT EXISTS docs (name text PRIMARY KEY, bytes bytea NOT NULL);
CREATE TABLE IF NOT EXISTS log_entries (log text NOT NULL, idx bigint NOT NULL, bytes bytea NOT NULL, PRIMARY KEY (log, idx));
CREATE TABLE IF NOT EXISTS log_checkpoints (log text NOT NULL, size bigint NOT NULL, note text NOT NULL, PRIMARY KEY (log, size));
`;

const DOC_NAME = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
// log entries read at a time (scanLog): a page of decisions, not the log
const LOG_PAGE = 2000;
// a log's size: one past its last index, read from the primary key's index (a count would read
// every row, on every append); a row deleted inside the log is a gap `scanLog` reports
const LOG_SIZE = "SELECT coalesce(max(idx) + 1, 0) AS n FROM log_entries WHERE log = $1";

// how long the server lets one statement run (the longest is a decision log batch's insert)
const STATEMENT_TIMEOUT_MS = 30_000;

/**
 * The shared store for decision points on many machines: PostgreSQL. The same contract as the
 * file store: content-addressed objects, a ledger that only grows one compare-and-append at a
 * time (a primary key makes two writers at one index impossible), named logs and documents.
 */
export class PostgresStore implements Store {
  readonly url: string;
  readonly #pool: pg.Pool;
  readonly #schema: string;
  // what each connection is set to once, when first used: its schema and its timeouts
  readonly #session: string;
  readonly #prepared = new WeakSet<pg.PoolClient>();
  #ready: Promise<void> | undefined;

  constructor(url: string) {
    this.url = url;
    const parsed = new URL(url);
    this.#schema = parsed.searchParams.get("schema") ?? "stele";
    if (!SCHEMA_NAME.test(this.#schema))
      throw new SteleError("store.bad_url", `bad schema name \`${this.#schema}\``, {
        hint: "use lowercase letters, digits and `_`",
      });
    parsed.searchParams.delete("schema");
    // no command waits for ever on a database that stopped answering: the server cancels a
    // statement past the statement timeout, and the client gives up on an answer that never
    // comes (a network gone quiet) a little later. Both are set per connection with SET, not
    // as startup parameters (PgBouncer refuses those); `statement_timeout` and `query_timeout`
    // in the store URL (milliseconds) override them.
    const statementTimeout = timeoutParam(parsed, "statement_timeout") ?? STATEMENT_TIMEOUT_MS;
    this.#session = [
      `SET search_path TO ${this.#schema}`,
      `SET statement_timeout = ${statementTimeout}`,
      `SET idle_in_transaction_session_timeout = ${statementTimeout}`,
    ].join("; ");
    const queryTimeout =
      timeoutParam(parsed, "query_timeout") ??
      (statementTimeout > 0 ? statementTimeout + 5_000 : 0);
    this.#pool = new pg.Pool({
      connectionString: parsed.toString(),
      max: 4,
      connectionTimeoutMillis: 5_000,
      ...(queryTimeout > 0 && { query_timeout: queryTimeout }),
      keepAlive: true,
    });
    // an idle client's error must not crash the process; the next query reports it
    this.#pool.on("error", () => undefined);
  }

  async putObject(bytes: Uint8Array): Promise<Digest> {
    const digest = digestOf(bytes);
    await this.#query(
      "INSERT INTO objects (digest, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING",
      [digest, Buffer.from(bytes)],
    );
    return digest;
  }

  async getObject(digest: Digest): Promise<Buffer | undefined> {
    if (!isDigest(digest)) throw new SteleError("store.not_found", `not a digest: \`${digest}\``);
    const rows = await this.#query<{ bytes: Buffer }>(
      "SELECT bytes FROM objects WHERE digest = $1",
      [digest],
    );
    const bytes = rows[0]?.bytes;
    if (bytes && digestOf(bytes) !== digest)
      throw new SteleError("store.corrupt", `stored object ${digest} does not match its digest`, {
        hint: "the database was modified by hand; restore it and run `stele verify`",
      });
    return bytes;
  }

  async ledgerSize(): Promise<number> {
    // entries are contiguous from 0: one past the last index, read off the primary key's index
    // (count(*) reads every row); a row missing in between shows when the entries are read
    const rows = await this.#query<{ n: string }>(
      "SELECT COALESCE(max(idx) + 1, 0) AS n FROM entries",
    );
    return Number(rows[0]?.n ?? 0);
  }

  async readEntries(from: number, to: number): Promise<Buffer[]> {
    const rows = await this.#query<{ idx: string; bytes: Buffer }>(
      "SELECT idx, bytes FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
      [from, to],
    );
    rows.forEach((r, i) => {
      if (Number(r.idx) !== from + i)
        throw new SteleError("store.corrupt", `ledger entry ${from + i} is missing`);
    });
    if (rows.length !== Math.max(0, to - from))
      throw new SteleError("store.corrupt", `ledger entry ${from + rows.length} is missing`);
    return rows.map((r) => r.bytes);
  }

  async appendEntry(size: number, bytes: Uint8Array): Promise<void> {
    // write-once at `size`, and only right after the last entry: the ledger cannot fork or gap
    const rows = await this.#query(
      "INSERT INTO entries (idx, bytes) SELECT $1::bigint, $2 WHERE $1::bigint = 0 OR EXISTS (SELECT 1 FROM entries WHERE idx = $1::bigint - 1) RETURNING idx",
      [size, Buffer.from(bytes)],
    );
    if (rows.length === 0) throw conflict(size);
  }

  async putCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    await this.#query(
      "INSERT INTO checkpoints (size, note) VALUES ($1, $2) ON CONFLICT DO NOTHING",
      [checkpoint.size, checkpoint.note],
    );
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const rows = await this.#query<{ size: string; note: string }>(
      "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
    );
    const r = rows[0];
    return r && { size: Number(r.size), note: r.note };
  }

  async checkpoints(): Promise<StoredCheckpoint[]> {
    const rows = await this.#query<{ size: string; note: string }>(
      "SELECT size, note FROM checkpoints ORDER BY size",
    );
    return rows.map((r) => ({ size: Number(r.size), note: r.note }));
  }

  async readDoc(name: string): Promise<Buffer | undefined> {
    const rows = await this.#query<{ bytes: Buffer }>("SELECT bytes FROM docs WHERE name = $1", [
      docName(name),
    ]);
    return rows[0]?.bytes;
  }

  async writeDoc(name: string, bytes: Uint8Array): Promise<void> {
    await this.#query(
      "INSERT INTO docs (name, bytes) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET bytes = EXCLUDED.bytes",
      [docName(name), Buffer.from(bytes)],
    );
  }

  async listDocs(folder: string): Promise<string[]> {
    const rows = await this.#query<{ name: string }>(
      "SELECT name FROM docs WHERE starts_with(name, $1) AND position('/' in substr(name, length($1) + 1)) = 0 ORDER BY name",
      [`${docName(folder)}/`],
    );
    return rows.map((r) => r.name);
  }

  async createDoc(name: string, bytes: Uint8Array): Promise<boolean> {
    const rows = await this.#query(
      "INSERT INTO docs (name, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING name",
      [docName(name), Buffer.from(bytes)],
    );
    return rows.length === 1;
  }

  async appendLogBatch(
    log: string,
    first: number,
    given: readonly Uint8Array[] | LogBatch,
  ): Promise<void> {
    const name = logName(log);
    const batch = toLogBatch(given);
    // a row per entry: the batch split where its newlines are (checked to be the entries')
    const bytes = checkLogBatch(batch);
    if (batch.count === 0) return;
    const entries: Buffer[] = [];
    for (let start = 0; entries.length < batch.count; ) {
      const end = batch.ends?.[entries.length] ?? bytes.indexOf(0x0a, start);
      entries.push(bytes.subarray(start, end < 0 ? bytes.length : end));
      start = end + 1;
    }
    await this.#transaction(async (client) => {
      const rows = await client.query<{ n: string }>(LOG_SIZE, [name]);
      if (Number(rows.rows[0]?.n ?? 0) !== first) throw conflict(first);
      await client.query(
        "INSERT INTO log_entries (log, idx, bytes) SELECT $1, $2::bigint + ord - 1, b FROM unnest($3::bytea[]) WITH ORDINALITY AS t(b, ord)",
        [name, first, entries],
      );
    });
  }

  async logSize(log: string): Promise<number> {
    const rows = await this.#query<{ n: string }>(LOG_SIZE, [logName(log)]);
    return Number(rows[0]?.n ?? 0);
  }

  async *scanLog(log: string, from = 0): AsyncGenerator<Buffer[]> {
    const name = logName(log);
    // a page at a time, each from the index the last one ended at
    for (let next = from; ; ) {
      const rows = await this.#query<{ idx: string; bytes: Buffer }>(
        "SELECT idx, bytes FROM log_entries WHERE log = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
        [name, next, LOG_PAGE],
      );
      for (const [i, r] of rows.entries())
        if (Number(r.idx) !== next + i)
          throw new SteleError("store.corrupt", `log \`${log}\` has a gap at entry ${next + i}`);
      if (rows.length === 0) return;
      next += rows.length;
      yield rows.map((r) => r.bytes);
      if (rows.length < LOG_PAGE) return;
    }
  }

  async logs(): Promise<string[]> {
    // every log with entries or checkpoints (a log whose rows were deleted may keep the
    // latter): one index probe a log in each table (the primary keys' order), not a scan of
    // every decision
    const rows = await this.#query<{ log: string }>(
      `WITH RECURSIVE e(log) AS (
         SELECT min(log) FROM log_entries
         UNION ALL
         SELECT (SELECT min(log) FROM log_entries WHERE log > e.log) FROM e WHERE e.log IS NOT NULL
       ), c(log) AS (
         SELECT min(log) FROM log_checkpoints
         UNION ALL
         SELECT (SELECT min(log) FROM log_checkpoints WHERE log > c.log) FROM c WHERE c.log IS NOT NULL
       )
       SELECT log FROM e WHERE log IS NOT NULL
       UNION
       SELECT log FROM c WHERE log IS NOT NULL
       ORDER BY log`,
    );
    return rows.map((r) => r.log);
  }

  async putLogCheckpoint(log: string, checkpoint: StoredCheckpoint): Promise<void> {
    const name = logName(log);
    await this.#query(
      "INSERT INTO log_checkpoints (log, size, note) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
      [name, checkpoint.size, checkpoint.note],
    );
    const rows = await this.#query<{ note: string }>(
      "SELECT note FROM log_checkpoints WHERE log = $1 AND size = $2",
      [name, checkpoint.size],
    );
    if (rows[0]?.note !== checkpoint.note) throw checkpointConflict(checkpoint.size);
  }

  async logCheckpoints(log: string, from = 0): Promise<StoredCheckpoint[]> {
    const rows = await this.#query<{ size: string; note: string }>(
      "SELECT size, note FROM log_checkpoints WHERE log = $1 AND size >= $2 ORDER BY size",
      [logName(log), from],
    );
    return rows.map((r) => ({ size: Number(r.size), note: r.note }));
  }

  async logCheckpointsAt(log: string, sizes: readonly number[]): Promise<StoredCheckpoint[]> {
    const rows = await this.#query<{ size: string; note: string }>(
      "SELECT size, note FROM log_checkpoints WHERE log = $1 AND size = ANY($2::bigint[]) ORDER BY size",
      [logName(log), sizes],
    );
    return rows.map((r) => ({ size: Number(r.size), note: r.note }));
  }

  async logCheckpointSizes(log: string): Promise<number[]> {
    const rows = await this.#query<{ size: string }>(
      "SELECT size FROM log_checkpoints WHERE log = $1 ORDER BY size",
      [logName(log)],
    );
    return rows.map((r) => Number(r.size));
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async #setup(): Promise<void> {
    this.#ready ??= (async () => {
      const client = await this.#connect();
      let broken: Error | undefined;
      try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.#schema}`);
        await client.query(SCHEMA);
      } catch (e) {
        this.#ready = undefined;
        broken = lostConnection(e);
        throw translate(e);
      } finally {
        client.release(broken);
      }
    })();
    return this.#ready;
  }

  async #connect(): Promise<pg.PoolClient> {
    let client: pg.PoolClient | undefined;
    try {
      client = await this.#pool.connect();
      if (!this.#prepared.has(client)) {
        await client.query(this.#session);
        this.#prepared.add(client);
      }
      return client;
    } catch (e) {
      // a connection that failed here goes back (or, in doubt, is closed): never held for ever
      client?.release(lostConnection(e));
      throw translate(e);
    }
  }

  async #query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values: unknown[] = [],
  ): Promise<R[]> {
    await this.#setup();
    const client = await this.#connect();
    let broken: Error | undefined;
    try {
      return (await client.query<R>(text, values)).rows;
    } catch (e) {
      broken = lostConnection(e);
      throw translate(e);
    } finally {
      client.release(broken);
    }
  }

  async #transaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    await this.#setup();
    const client = await this.#connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      await work(client);
      await client.query("COMMIT");
    } catch (e) {
      broken = lostConnection(e);
      // a ROLLBACK that gets no answer leaves the connection in doubt too
      if (!broken)
        await client.query("ROLLBACK").catch((r) => {
          broken = lostConnection(r);
        });
      throw translate(e);
    } finally {
      client.release(broken);
    }
  }
}

// an error that leaves the connection in doubt (no answer in time, the socket gone), unlike one
// the server answered with (a SQLSTATE code): such a connection is closed, not given back
function lostConnection(e: unknown): Error | undefined {
  if (e instanceof SteleError || e instanceof pg.DatabaseError) return undefined;
  return e instanceof Error ? e : new Error(String(e));
}

// a timeout in the store URL (milliseconds; 0 turns it off), taken out of the connection string
function timeoutParam(url: URL, name: string): number | undefined {
  const text = url.searchParams.get(name);
  if (text === null) return undefined;
  url.searchParams.delete(name);
  if (!/^\d{1,9}$/.test(text))
    throw new SteleError("store.bad_url", `${name} must be milliseconds, found \`${text}\``, {
      hint: `e.g. ?${name}=30000; 0 turns it off`,
    });
  return Number(text);
}

// drivers translate their errors: raw driver errors never cross the store boundary
function translate(e: unknown): SteleError {
  if (e instanceof SteleError) return e;
  const code = (e as { code?: string }).code;
  if (code === "23505")
    return new SteleError("store.conflict", "someone else wrote there first", {
      hint: "run the command again",
      cause: e,
    });
  return new SteleError(
    "store.unavailable",
    `postgres: ${e instanceof Error ? e.message : String(e)}`,
    {
      hint: "check that the database is up and the store URL is right",
      cause: e,
    },
  );
}

function conflict(size: number): SteleError {
  return new SteleError("store.conflict", `the log no longer has ${size} entries`, {
    hint: "another writer appended at the same time; run the command again",
  });
}

function docName(name: string): string {
  if (!DOC_NAME.test(name))
    throw new SteleError("store.not_found", `bad document name \`${name}\``);
  return name;
}

function logName(log: string): string {
  if (!DOC_NAME.test(log) || log.includes("/"))
    throw new SteleError("store.not_found", `bad log name \`${log}\``);
  return log;
}

function checkpointConflict(size: number): SteleError {
  return new SteleError("store.conflict", `another checkpoint is stored for size ${size}`, {
    hint: "two writers share this log: each decision point needs its own key",
  });
}
