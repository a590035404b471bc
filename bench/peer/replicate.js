// The peer's side of the comparison: load records into a local PouchDB (not timed), then
// replicate them to the server (timed); or change some of them and replicate again.
//   node replicate.js load DIR RECORDS.jsonl
//   node replicate.js push DIR URL            -> {"seconds": …, "docs_written": …}
//   node replicate.js change DIR FRACTION     -> {"changed": N}
const fs = require("fs");
const readline = require("readline");
const PouchDB = require("pouchdb");

async function load(dir, file) {
  const db = new PouchDB(dir);
  const lines = readline.createInterface({ input: fs.createReadStream(file) });
  let batch = [];
  let n = 0;
  for await (const line of lines) {
    if (!line) continue;
    const record = JSON.parse(line);
    batch.push({ _id: record.id, entity: record.entity, fields: record.fields });
    if (batch.length === 2000) { await db.bulkDocs(batch); n += batch.length; batch = []; }
  }
  if (batch.length) { await db.bulkDocs(batch); n += batch.length; }
  return { loaded: n };
}

async function push(dir, url) {
  const db = new PouchDB(dir);
  const start = process.hrtime.bigint();
  // PouchDB's defaults (batch_size 100, batches_limit 10) are what its users get; we keep them.
  const result = await db.replicate.to(url);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, docs_written: result.docs_written, docs_read: result.docs_read, ok: result.ok };
}

async function change(dir, fraction) {
  const db = new PouchDB(dir);
  const all = await db.allDocs({ include_docs: true });
  const step = Math.round(1 / Number(fraction));
  // Every 100th person in id order gets a new phone: the same people, the same numbers, as
  // bench/bench_peer.py changes on the station (newPhone there).
  const changed = [];
  const people = all.rows.filter((row) => row.doc.entity === "person");
  people.forEach((row, i) => {
    if (i % step === 0) {
      row.doc.fields.phone = "139" + String(10000000 + i).slice(-8);
      changed.push(row.doc);
    }
  });
  await db.bulkDocs(changed);
  return { changed: changed.length };
}

const [mode, ...args] = process.argv.slice(2);
const run = { load, push, change }[mode];
run(...args).then((out) => console.log(JSON.stringify(out)), (err) => { console.error(err); process.exit(1); });
