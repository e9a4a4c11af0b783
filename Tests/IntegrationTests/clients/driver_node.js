// node-postgres (Debian's pg 8.8 with pg-cursor, unpacked by scripts/node-pg.sh) in its
// everyday modes; checks that one client observes nothing of another (rows, statements,
// settings, notices, notifications, errors, transaction state):
//  - a Pool used by several concurrent clients with named statements {name, text, values};
//  - pg-cursor reading in batches (Execute with a row limit + Flush, not Sync, between
//    batches: the implicit transaction stays open until close()) while another client runs
//    queries, over a SELECT and over an INSERT … RETURNING whose rows nobody else may see
//    before the cursor is closed;
//  - connection settings (statement_timeout, application_name) and SETs stay with their client.
// Run it against PostgreSQL directly (the expected answers) and through pgstash.
// Prints one JSON line: {"checks": [{"name", "ok", "detail"}...]}.
// usage: NODE_PATH=$(scripts/node-pg.sh) node driver_node.js HOST PORT DB PASSWORD TAG
const { Pool, Client } = require('pg');
const Cursor = require('pg-cursor');

const [host, port, database, password, tag, only] = process.argv.slice(2);   // only: run one case (debugging)
const base = { host, port: Number(port), database, user: 'postgres', password,
               connectionTimeoutMillis: 10000 };
const checks = [];
const check = (name, ok, detail = '') => checks.push({ name, ok: !!ok, detail: String(detail).slice(0, 400) });
const notifications = [];
const watch = (c, who) => c.on('notification', (n) => notifications.push(`${who}: ${n.channel} ${n.payload}`));

async function connect(extra = {}) {
  const c = new Client({ ...base, ...extra });
  await c.connect();
  return c;
}

// Every wait is bounded (pg 8.8's query_timeout crashes on a Cursor: do it here instead).
const withTimeout = (promise, ms, what) => Promise.race([promise, new Promise((_, reject) =>
  setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms).unref())]);
const readCursor = (cursor, n) => withTimeout(new Promise((resolve, reject) =>
  cursor.read(n, (err, rows) => (err ? reject(err) : resolve(rows)))), 10000, `cursor read(${n})`);
const closeCursor = (cursor) => withTimeout(new Promise((resolve, reject) =>
  cursor.close((err) => (err ? reject(err) : resolve()))), 10000, 'cursor close()');

async function guarded(name, fn) {
  if (only && !name.includes(only)) return;
  try {
    await withTimeout(fn(), 25000, name);
  } catch (e) {
    check(name, false, `${e.code || ''} ${e.message} ${(e.stack || '').split('\n').slice(1, 3).join(' ')}`);
  }
}

async function namedStatementsPool() {
  const pool = new Pool({ ...base, max: 3 });
  pool.on('connect', (c) => watch(c, 'pool'));
  const errors = [];
  let wrong = 0, done = 0;
  const worker = async (k) => {
    for (let j = 0; j < 30; j++) {
      try {
        const c = await pool.connect();
        try {
          // Names shared by every client of the app, and names of this worker only.
          const r1 = await c.query({ name: 'add_one', text: 'SELECT $1::int + 1 AS v', values: [k * 100 + j] });
          const r2 = await c.query({ name: `concat_${k}`, text: `SELECT $1::text || '-${k}' AS v, $2::int * 2 AS w`,
                                     values: [`w${j}`, j] });
          const r3 = await c.query({ name: 'three', text: 'SELECT $1::int + $2::int + $3::int AS v', values: [k, j, 1] });
          if (r1.rows[0].v !== k * 100 + j + 1) wrong++;
          if (r2.rows[0].v !== `w${j}-${k}` || r2.rows[0].w !== j * 2) wrong++;
          if (r3.rows[0].v !== k + j + 1) wrong++;
          done++;
        } finally {
          c.release();
        }
      } catch (e) {
        errors.push(`${e.code || ''} ${e.message}`);
      }
    }
  };
  await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(worker));
  await pool.end();
  check('pool: 8 workers, named statements, no errors', errors.length === 0,
        `${errors.length} errors, first: ${errors.slice(0, 3).join(' | ')}`);
  check('pool: named statements give the right results', wrong === 0 && done === 240, `${wrong} wrong, ${done} done`);
}

async function cursorWhileOthersQuery() {
  const t = `drv_node_${tag}`;
  const a = await connect();
  const b = await connect();
  watch(a, 'A'); watch(b, 'B');
  try {
    await a.query(`DROP TABLE IF EXISTS ${t}; CREATE TABLE ${t} (v int)`);
    // 1. A SELECT read 100 rows at a time; B queries between the batches.
    const cur = a.query(new Cursor('SELECT g, pg_backend_pid() AS pid FROM generate_series(1, 1000) g ORDER BY g'));
    const got = [];
    let bWrong = 0, rounds = 0, aPid = null;
    for (;;) {
      const rows = await readCursor(cur, 100);
      if (rows.length === 0) break;
      aPid = rows[0].pid;
      got.push(...rows.map((r) => r.g));
      rounds++;
      const r = await b.query({ name: 'b_probe', text: 'SELECT $1::int * 3 AS v, pg_backend_pid() AS pid', values: [rounds] });
      if (r.rows[0].v !== rounds * 3 || r.rows[0].pid === aPid) bWrong++;
    }
    await closeCursor(cur);
    check('pg-cursor: A reads 1..1000 in batches of 100', got.length === 1000 && got.every((v, i) => v === i + 1),
          `${got.length} rows`);
    check('pg-cursor: B runs on another server between A\'s batches, right results', bWrong === 0 && rounds === 10,
          `${bWrong} wrong in ${rounds} rounds`);

    // 2. An INSERT … RETURNING read through a cursor: its rows are uncommitted until close().
    const ins = a.query(new Cursor(`INSERT INTO ${t} SELECT g FROM generate_series(1, 500) g RETURNING v`));
    let seen = [], read = 0;
    for (;;) {
      const rows = await readCursor(ins, 100);
      if (rows.length === 0) break;
      read += rows.length;
      const r = await b.query(`SELECT count(*)::int AS n FROM ${t}`);
      seen.push(r.rows[0].n);
    }
    await closeCursor(ins);
    const after = (await b.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n;
    check('pg-cursor INSERT RETURNING: B sees none of A\'s rows before close()', seen.length === 5 && seen.every((n) => n === 0),
          `B saw ${JSON.stringify(seen)}; A read ${read}`);
    check('pg-cursor INSERT RETURNING: committed by close()', after === 500, `${after} rows after close`);

    // 3. B's error between A's batches does not abort A's open portal.
    const cur3 = a.query(new Cursor('SELECT g FROM generate_series(1, 300) g ORDER BY g'));
    const first = await readCursor(cur3, 100);
    let bErr = null;
    try { await b.query('SELECT 1/0'); } catch (e) { bErr = e.code; }
    let rest = [];
    for (;;) { const rows = await readCursor(cur3, 100); if (rows.length === 0) break; rest.push(...rows); }
    await closeCursor(cur3);
    check('pg-cursor: B\'s error leaves A\'s cursor alone', bErr === '22012' && first.length === 100 && rest.length === 200,
          `B error ${bErr}, A read ${first.length} + ${rest.length}`);
    await a.query(`DROP TABLE ${t}`);
  } finally {
    await a.end(); await b.end();
  }
}

async function settingsNoticesTransactions() {
  const a = await connect({ statement_timeout: 4321, application_name: 'drv_node_A' });
  const b = await connect();
  watch(a, 'A'); watch(b, 'B');
  const noticesA = [], noticesB = [];
  a.on('notice', (n) => noticesA.push(n.message));
  b.on('notice', (n) => noticesB.push(n.message));
  try {
    await a.query("SET work_mem = '6543kB'");
    await a.query("DO $$ BEGIN RAISE NOTICE 'notice-for-A'; END $$");
    await b.query('BEGIN');                      // B holds a server; A must use another one
    const rb = (await b.query("SELECT current_setting('statement_timeout') AS st, current_setting('application_name') AS app, current_setting('work_mem') AS wm, txid_current_if_assigned() AS tx")).rows[0];
    await a.query('BEGIN');
    await a.query('SELECT txid_current()');
    const ra = (await a.query("SELECT current_setting('statement_timeout') AS st, current_setting('application_name') AS app, current_setting('work_mem') AS wm")).rows[0];
    const rb2 = (await b.query('SELECT txid_current_if_assigned() AS tx')).rows[0];
    await a.query("NOTIFY drv_node_chan, 'from-A'");
    await a.query('COMMIT');
    await b.query('ROLLBACK');
    check('settings: A keeps its connection settings and SETs',
          ra.st === '4321ms' && ra.app === 'drv_node_A' && ra.wm === '6543kB', JSON.stringify(ra));
    check('settings: B keeps its defaults', rb.st === '0' && rb.app !== 'drv_node_A' && rb.wm !== '6543kB', JSON.stringify(rb));
    check('transactions: B has no transaction id while A writes', rb.tx === null && rb2.tx === null, JSON.stringify([rb, rb2]));
    await new Promise((r) => setTimeout(r, 200));
    check('notices: A gets its notice, B none', noticesA.length === 1 && noticesB.length === 0,
          `A ${JSON.stringify(noticesA)}, B ${JSON.stringify(noticesB)}`);
    // Errors: A's failed transaction is A's alone.
    await a.query('BEGIN');
    let e1 = null, e2 = null;
    try { await a.query('SELECT 1/0'); } catch (e) { e1 = e.code; }
    const bOk = (await b.query('SELECT 42 AS v')).rows[0].v;
    try { await a.query('SELECT 1'); } catch (e) { e2 = e.code; }
    await a.query('ROLLBACK');
    const aOk = (await a.query('SELECT 7 AS v')).rows[0].v;
    check('errors: A\'s failed transaction stays A\'s', e1 === '22012' && e2 === '25P02' && bOk === 42 && aOk === 7,
          `A ${e1} then ${e2}, B got ${bOk}, A after rollback ${aOk}`);
  } finally {
    await a.end(); await b.end();
  }
}

async function cancelOwnQuery() {
  // Client.cancel: A's cancel stops A's query, not B's.
  const a = await connect();
  const b = await connect();
  try {
    const pa = a.query('SELECT pg_sleep(3)').then(() => 'done', (e) => e.code);
    await new Promise((r) => setTimeout(r, 300));
    const pb = b.query('SELECT pg_sleep(0.5), 1 AS v').then((r) => r.rows[0].v, (e) => e.code);
    await new Promise((r) => setTimeout(r, 100));
    // pg 8.8: a new connection that sends a CancelRequest with A's pid and key.
    const canceller = new Client(base);
    canceller.cancel(a, a.activeQuery);
    const [ra, rb] = await Promise.all([pa, pb]);
    check('cancel: A\'s query is cancelled, B\'s completes', ra === '57014' && rb === 1, `A ${ra}, B ${rb}`);
  } finally {
    await a.end(); await b.end();
  }
}

process.on('uncaughtException', (e) => {
  check('no uncaught exception', false, `${e.message} ${(e.stack || '').split('\n').slice(1, 3).join(' ')}`);
  console.log(JSON.stringify({ checks }));
  process.exit(1);
});

(async () => {
  const timer = setTimeout(() => {
    check('finished in time', false, 'timed out after 55 s');
    console.log(JSON.stringify({ checks }));
    process.exit(1);
  }, 55000);
  await guarded('pool named statements', namedStatementsPool);
  await guarded('cursor', cursorWhileOthersQuery);
  await guarded('settings, notices, transactions', settingsNoticesTransactions);
  await guarded('cancel', cancelOwnQuery);
  check('notifications: nobody listens, nobody receives one', notifications.length === 0, notifications.join('; '));
  clearTimeout(timer);
  console.log(JSON.stringify({ checks }));
  process.exit(0);
})();
