// Evidence from the scene, kept on the tablet until the server has it.
//
// A photo, video or document chosen or taken on the tablet is prepared at once (a photo larger
// than MAX_EDGE pixels is scaled down and saved as JPEG on the device), hashed (SHA-256), and kept
// in IndexedDB with its task, the moment it was taken and a client action_id. The uploader sends
// what is kept, oldest first, with the server's resumable protocol (dispatch.http.api.evidence):
// an upload announced once (size, sha256, type; a repeated action_id answers the same upload), then
// chunks of CHUNK_BYTES at the server's offset. A dropped link costs at most the chunk in flight:
// the next try sends from the offset the server answers, and the server writes every byte once.
// The item leaves the tablet only when the server answers that the whole file is stored, intact.

export const MAX_EDGE = 2048; // longest side of a photo as uploaded (pixels)
export const JPEG_QUALITY = 0.85;
export const CHUNK_BYTES = 256 * 1024; // about 1.3 s at 1.6 Mbit/s: a drop loses little
const RESIZABLE = new Set(["image/jpeg", "image/png", "image/webp"]);
const DB_NAME = "dispatch-tablet-evidence";
const STORE = "items";

// -- IndexedDB ------------------------------------------------------------------------------------

let opened = null;

function database() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "action_id" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opened;
}

async function run(mode, work) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const result = work(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(result?.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** Every item kept on this tablet, oldest first. */
export async function keptItems() {
  const items = (await run("readonly", (store) => store.getAll())) || [];
  return items.sort((a, b) => a.created - b.created);
}

const save = (item) => run("readwrite", (store) => store.put(item));
const forget = (actionId) => run("readwrite", (store) => store.delete(actionId));

/** Drop everything kept (another squad signs in on this tablet). */
export async function forgetAll() {
  await run("readwrite", (store) => store.clear());
}

// -- preparing a file ----------------------------------------------------------------------------

/** ``file`` as it will be uploaded: a photo scaled down to MAX_EDGE on its longest side (JPEG),
 * anything else as it is. Answers {blob, media_type, name, resized, width, height}. */
export async function prepare(file) {
  const type = (file.type || "application/octet-stream").toLowerCase();
  if (!RESIZABLE.has(type) || !window.createImageBitmap) return { blob: file, media_type: type, name: file.name, resized: false };
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return { blob: file, media_type: type, name: file.name, resized: false }; // not decodable here: as it is
  }
  const { width, height } = bitmap;
  const scale = MAX_EDGE / Math.max(width, height);
  if (scale >= 1) {
    bitmap.close();
    return { blob: file, media_type: type, name: file.name, resized: false, width, height };
  }
  const w = Math.round(width * scale);
  const h = Math.round(height * scale);
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  canvas.getContext("2d").drawImage(bitmap, 0, 0, w, h);
  bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
  if (!blob || blob.size >= file.size) return { blob: file, media_type: type, name: file.name, resized: false, width, height };
  const name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
  return { blob, media_type: "image/jpeg", name, resized: true, width: w, height: h };
}

// -- SHA-256 --------------------------------------------------------------------------------------

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 in plain JavaScript: crypto.subtle exists only on HTTPS (or localhost), and a county's
 * intranet may serve the tablet over plain HTTP. */
export function sha256Plain(bytes) {
  const length = bytes.length;
  const padded = new Uint8Array(((length + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(length / 0x20000000));
  view.setUint32(padded.length - 4, (length << 3) >>> 0);
  const H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const W = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) W[i] = view.getUint32(offset + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(W[i - 15], 7) ^ rotr(W[i - 15], 18) ^ (W[i - 15] >>> 3);
      const s1 = rotr(W[i - 2], 17) ^ rotr(W[i - 2], 19) ^ (W[i - 2] >>> 10);
      W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    H[0] += a;
    H[1] += b;
    H[2] += c;
    H[3] += d;
    H[4] += e;
    H[5] += f;
    H[6] += g;
    H[7] += h;
  }
  return [...H].map((x) => x.toString(16).padStart(8, "0")).join("");
}

export async function sha256Hex(blob) {
  const buffer = await blob.arrayBuffer();
  if (window.crypto?.subtle) {
    const digest = await crypto.subtle.digest("SHA-256", buffer);
    return [...new Uint8Array(digest)].map((x) => x.toString(16).padStart(2, "0")).join("");
  }
  return sha256Plain(new Uint8Array(buffer));
}

// -- the uploader --------------------------------------------------------------------------------

export class Refused extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** Items kept and sent: ``token()`` the tablet's token, ``onChange(items)`` after every change,
 * ``onStored(item, evidence)`` when the server has an item, ``yieldTo()`` true while something more
 * urgent (the steps and positions queue) waits: the uploader stops between chunks for it. */
export class EvidenceQueue {
  constructor({ token, onChange = () => {}, onStored = () => {}, yieldTo = () => false, newId }) {
    this.token = token;
    this.onChange = onChange;
    this.onStored = onStored;
    this.yieldTo = yieldTo;
    this.newId = newId;
    this.items = [];
    this.pumping = null;
    this.progress = new Map(); // action_id -> bytes the server has
  }

  async load() {
    this.items = await keptItems();
    for (const item of this.items) this.progress.set(item.action_id, item.offset || 0);
    this.onChange(this.items);
    return this.items;
  }

  /** Keep ``file`` for task ``taskId``, taken at ``occurredAt`` (RFC 3339 with offset). */
  async add(taskId, file, occurredAt) {
    const prepared = await prepare(file);
    const item = {
      action_id: this.newId(),
      task_id: taskId,
      name: prepared.name || "evidence",
      media_type: prepared.media_type,
      size: prepared.blob.size,
      sha256: await sha256Hex(prepared.blob),
      resized: prepared.resized,
      occurred_at: occurredAt,
      created: Date.now(),
      blob: prepared.blob,
      upload_id: null,
      offset: 0,
      state: "waiting",
      refusal: null,
    };
    await save(item);
    this.items.push(item);
    this.onChange(this.items);
    return item;
  }

  /** Drop an item the server refused (the user has read why). */
  async dismiss(actionId) {
    await forget(actionId);
    this.items = this.items.filter((x) => x.action_id !== actionId);
    this.onChange(this.items);
  }

  /** Send what waits; resolves when everything is sent or the link failed (try again later). */
  pump() {
    if (!this.pumping) {
      this.pumping = this._pump().finally(() => {
        this.pumping = null;
      });
    }
    return this.pumping;
  }

  async _pump() {
    for (const item of [...this.items]) {
      if (item.state === "refused") continue;
      if (!this.items.includes(item)) continue; // dismissed or cleared meanwhile
      try {
        const done = await this._send(item);
        if (!done) return false; // yielded to more urgent work
      } catch (error) {
        if (error instanceof Refused) {
          if (error.status === 401) throw error; // the tablet's sign-in screen
          item.state = "refused";
          item.refusal = { status: error.status, code: error.body?.error?.code || null, field: error.body?.error?.field || null };
          await save(item);
          this.onChange(this.items);
          continue;
        }
        return false; // the network: try again later
      }
    }
    return true;
  }

  async _request(method, path, { json, body, type } = {}) {
    const headers = { Accept: "application/json", Authorization: `Bearer ${this.token()}` };
    if (json !== undefined) headers["Content-Type"] = "application/json";
    if (type) headers["Content-Type"] = type;
    const response = await fetch(`/api/v1${path}`, { method, headers, body: json !== undefined ? JSON.stringify(json) : body });
    const data = response.headers.get("Content-Type")?.includes("json") ? await response.json() : null;
    if (response.status >= 500 || response.status === 408 || response.status === 429) throw new Error(`HTTP ${response.status}`);
    if (!response.ok && !(response.status === 409 && data?.error?.code === "offset_mismatch")) throw new Refused(response.status, data);
    return { status: response.status, data };
  }

  async _send(item) {
    const base = `/tasks/${item.task_id}/evidence/uploads`;
    if (!item.upload_id) {
      const { data } = await this._request("POST", base, {
        json: {
          size: item.size,
          sha256: item.sha256,
          media_type: item.media_type,
          occurred_at: item.occurred_at,
          file_name: item.name.slice(0, 200),
          action_id: item.server_action_id || item.action_id,
        },
      });
      item.upload_id = data.id;
      item.offset = data.offset;
      item.state = "uploading";
      await save(item);
      if (data.state === "stored" && data.evidence) return this._stored(item, data.evidence);
    }
    for (;;) {
      if (this.yieldTo()) return false;
      const end = Math.min(item.offset + CHUNK_BYTES, item.size);
      let answer;
      try {
        answer = await this._request("PATCH", `${base}/${item.upload_id}?offset=${item.offset}`, {
          body: item.blob.slice(item.offset, end),
          type: "application/offset+octet-stream",
        });
      } catch (error) {
        if (!(error instanceof Refused)) throw error;
        if (error.status === 404 || (error.status === 422 && error.body?.error?.code === "sha256_mismatch") || error.body?.error?.code === "upload_failed") {
          // The upload is gone (cleaned up) or went wrong: start a new one, once.
          if (item.restarted) throw error;
          item.restarted = true;
          await this._restart(item);
          return this._send(item);
        }
        throw error;
      }
      const { status, data } = answer;
      if (status === 409) item.offset = data.error.offset; // the server has a different offset: from there
      else item.offset = data.offset;
      this.progress.set(item.action_id, item.offset);
      if (data?.state === "stored" && data.evidence) return this._stored(item, data.evidence);
      await save(item);
      this.onChange(this.items);
    }
  }

  async _restart(item) {
    // A new upload needs a new action_id on the server (the old one names the old upload); the
    // tablet keeps its own action_id as the item's key.
    item.upload_id = null;
    item.offset = 0;
    item.server_action_id = this.newId();
    await save(item);
  }

  async _stored(item, evidence) {
    item.state = "stored";
    await forget(item.action_id);
    this.items = this.items.filter((x) => x !== item);
    this.progress.delete(item.action_id);
    this.onStored(item, evidence);
    this.onChange(this.items);
    return true;
  }
}
