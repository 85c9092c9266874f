// Comparison server for bench/realtime.py: socket.io 4 (Socket.IO v5 / engine.io v4 protocol,
// as python-socketio 5 speaks), given the same clients and the same triggers as dispatch.
//
//   node server.js PORT TOKENS_JSON      (TOKENS_JSON: {"sqt_...": squad_id, ...})
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
      const seq = (seqs.get(squadId) || 0) + 1;
      seqs.set(squadId, seq);
      const now = new Date().toISOString();
      const task = {
        id: seq * 100000 + squadId, kind: "response", incident_id: incidentId, joint_inspection_id: null,
        squad_id: squadId, state: "dispatched", reason: null, created_by: "bench", created_at: now, updated_at: now,
      };
      io.of("/squad").to(`squad:${squadId}`).emit("task", { seq, action: "dispatched", task });
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
    answer(res, 400, { error: { code: "bad_request", message: String(err) } });
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

server.listen(port, "127.0.0.1", () => console.log(`node socket.io ${require("socket.io/package.json").version} on ${port}`));
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
