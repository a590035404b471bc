// express-pouchdb on 127.0.0.1: the CouchDB-compatible server PouchDB replicates to.
// node server.js PORT DATA_DIR  (prints "listening PORT" when ready)
const express = require("express");
const PouchDB = require("pouchdb");

const [port, dir] = process.argv.slice(2);
const Pouch = PouchDB.defaults({ prefix: dir.endsWith("/") ? dir : dir + "/" });
const app = express();
app.use("/", require("express-pouchdb")(Pouch, { mode: "minimumForPouchDB", logPath: dir + "/log.txt" }));
const server = app.listen(Number(port), "127.0.0.1", () => console.log(`listening ${port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
