// Comparison server for bench/realtime.py: socket.io 4 (Socket.IO v5 / engine.io v4 protocol,
// as python-socketio 5 speaks), given the same clients and the same triggers as dispatch.
//
//   node server.js PORT TOKENS_JSON [DATABASE_URL]      (TOKENS_JSON: {"sqt_...": squad_id, ...})
//
// Without DATABASE_URL a dispatch is a counter bumped in memory and an emit: nothing is stored,
// so a restart loses every message (the delivery protocol's floor for a server that keeps nothing).
// With DATABASE_URL (node-postgres), a dispatch first commits what the delivery protocol asks of
// any server: the task, the squad's next message number and the outbox row holding the message,
// in one statement (one round trip, its own transaction), and emits the stored message after
// the COMMIT. It does none of dispatch's rules (locks, competence, certificates, the record):
// the least that a server which loses nothing on a restart does per dispatch.
//
// /squad: a tablet connects with auth {token, last_seq}; an unknown token is refused; it joins
//         the room "squad:<id>" and may emit "ack" and "position" (answered, nothing stored).
// /command: every screen gets every "frame".
// POST /bench/dispatch {"squad_id", "incident_id"}: emits "task" {seq, action: "dispatched", task}
//         to the squad's room and a frame with the task, squad and incident updates to /command
//         (what dispatch sends for one dispatch), then answers 201.
// POST /bench/broadcast {"squad_id", "rev"}: emits a frame with one position update to /command.
// GET /health: 200.
"use strict";

const http = require("http");
const fs = require("fs");
const { Server } = require("socket.io");

const port = Number(process.argv[2]);
const tokens = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
const seqs = new Map();
const databaseUrl = process.argv[4];
const pool = databaseUrl ? new (require("pg").Pool)({ connectionString: databaseUrl, max: 4 }) : null;

// Tables of their own (schema bench_node), so nothing of dispatch's is read or written.
const SCHEMA = `
  CREATE SCHEMA IF NOT EXISTS bench_node;
  CREATE TABLE IF NOT EXISTS bench_node.squad (id integer PRIMARY KEY, message_seq integer NOT NULL);
  CREATE TABLE IF NOT EXISTS bench_node.task (
    id serial PRIMARY KEY, incident_id integer NOT NULL, squad_id integer NOT NULL, state text NOT NULL,
    created_by text NOT NULL, created_at timestamptz NOT NULL);
  CREATE TABLE IF NOT EXISTS bench_node.squad_message (
    squad_id integer NOT NULL, seq integer NOT NULL, task_id integer NOT NULL REFERENCES bench_node.task,
    payload jsonb NOT NULL, PRIMARY KEY (squad_id, seq));`;
// The task, the squad's next number and the message, committed together; the stored message is
// what the tablet receives.
const BOOK = {
  name: "bench_node_book",
  text: `
    WITH t AS (
      INSERT INTO bench_node.task (incident_id, squad_id, state, created_by, created_at)
      VALUES ($2, $1, 'dispatched', 'bench', now()) RETURNING id, created_at),
    n AS (
      INSERT INTO bench_node.squad AS s (id, message_seq) VALUES ($1, 1)
      ON CONFLICT (id) DO UPDATE SET message_seq = s.message_seq + 1 RETURNING message_seq)
    INSERT INTO bench_node.squad_message (squad_id, seq, task_id, payload)
    SELECT $1, n.message_seq, t.id, jsonb_build_object(
      'seq', n.message_seq, 'action', 'dispatched',
      'task', jsonb_build_object(
        'id', t.id, 'kind', 'response', 'incident_id', $2::integer, 'joint_inspection_id', NULL,
        'squad_id', $1::integer, 'state', 'dispatched', 'reason', NULL, 'created_by', 'bench',
        'created_at', t.created_at, 'updated_at', t.created_at))
    FROM t, n
    RETURNING payload`,
};

async function book(squadId, incidentId) {
  if (pool) {
    const { rows } = await pool.query({ ...BOOK, values: [squadId, incidentId] });
    return rows[0].payload;
  }
  const seq = (seqs.get(squadId) || 0) + 1;
  seqs.set(squadId, seq);
  const now = new Date().toISOString();
  const task = {
    id: seq * 100000 + squadId, kind: "response", incident_id: incidentId, joint_inspection_id: null,
    squad_id: squadId, state: "dispatched", reason: null, created_by: "bench", created_at: now, updated_at: now,
  };
  return { seq, action: "dispatched", task };
}

function body(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {});
      } catch (err) {
        reject(err);
      }
    });
    req.on("error", reject);
  });
}

function answer(res, status, data) {
  const text = JSON.stringify(data);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer(async (req, res) => {
  if (req.url.startsWith("/socket.io")) return; // engine.io answers these
  try {
    if (req.method === "GET" && req.url === "/health") return answer(res, 200, { status: "ok" });
    if (req.method === "POST" && req.url === "/bench/dispatch") {
      const { squad_id: squadId, incident_id: incidentId } = await body(req);
      const message = await book(squadId, incidentId);
      const { seq, task } = message;
      io.of("/squad").to(`squad:${squadId}`).emit("task", message);
      io.of("/command").emit("frame", {
        at: Date.now() / 1000,
        updates: [
          { type: "task", id: task.id, rev: seq, data: task },
          { type: "squad", id: squadId, rev: seq, data: { id: squadId, status: "busy" } },
          { type: "incident", id: incidentId, rev: seq, data: { id: incidentId, status: "dispatched" } },
        ],
      });
      return answer(res, 201, { tasks: [task] });
    }
    if (req.method === "POST" && req.url === "/bench/broadcast") {
      const { squad_id: squadId, rev } = await body(req);
      io.of("/command").emit("frame", {
        at: Date.now() / 1000,
        updates: [{ type: "position", id: squadId, rev, data: { id: squadId, coordinates: [122.45, 30.72], time: now() } }],
      });
      return answer(res, 200, { ok: true });
    }
    answer(res, 404, { error: { code: "not_found" } });
  } catch (err) {
    // a body that is not JSON is the caller's fault; anything else (the database) is the server's
    const status = err instanceof SyntaxError ? 400 : 500;
    answer(res, status, { error: { code: status === 400 ? "bad_request" : "server_error", message: String(err) } });
  }
});

function now() {
  return new Date().toISOString();
}

const io = new Server(server, { transports: ["websocket", "polling"], serveClient: false });

io.of("/squad").use((socket, next) => {
  const auth = socket.handshake.auth || {};
  const squadId = tokens[auth.token];
  if (squadId === undefined) return next(new Error("unauthorized: a valid tablet token is required"));
  socket.data.squadId = squadId;
  next();
});
io.of("/squad").on("connection", (socket) => {
  socket.join(`squad:${socket.data.squadId}`);
  socket.on("ack", (data, reply) => {
    if (typeof reply === "function") reply({ ok: true, acknowledged: true });
  });
  socket.on("position", (data, reply) => {
    const n = data && Array.isArray(data.fixes) ? data.fixes.length : 1;
    if (typeof reply === "function") reply({ ok: true, received: n, stored: n });
  });
  socket.emit("welcome", { squad_id: socket.data.squadId, resent: 0 });
});
io.of("/command").on("connection", (socket) => {
  socket.emit("welcome", { frame_interval: 0 });
});

async function start() {
  if (pool) await pool.query(SCHEMA);
  const stored = pool ? `, node-postgres ${require("pg/package.json").version}: dispatches committed first` : "";
  server.listen(port, "127.0.0.1", () =>
    console.log(`node socket.io ${require("socket.io/package.json").version}${stored} on ${port}`),
  );
}
start().catch((err) => {
  console.error(err);
  process.exit(1);
});
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
