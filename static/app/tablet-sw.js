// The squad tablet's service worker (served as /tablet-sw.js, scope /tablet): the shell offline,
// and a start in well under a second on a slow link.
//
// The server writes the shell's version into SHELL (a hash of the tablet's files): a deploy changes
// this script, the browser installs it, and the new worker fetches the whole shell into a new cache
// before it takes over, so a tablet never mixes two versions.
// - The page (/tablet, whatever its ?lang): the copy kept at once, refreshed in the background for
//   the next start (a language chosen by cookie shows from the start after). No copy: the network.
// - The app's files and the vendored libraries: from the versioned cache at once; the network only
//   for what it lacks.
// - The API is never answered here. The tablet itself keeps, in the "dispatch-tablet-data" cache,
//   the few answers it reads with its token (regions, zones, matters, its tasks): 200s only.
const SHELL = "dispatch-tablet-shell-VERSION"; // the server writes the version
const DATA = "dispatch-tablet-data"; // written by tablet.js; kept across shell versions
const APP = [
  "/tablet",
  "/static/app/tablet.js",
  "/static/app/common.js",
  "/static/app/evidence-queue.js",
  "/static/app/app.css",
  "/tablet.webmanifest",
  "/static/app/icons/tablet.svg",
];
const VENDOR = [
  "/static/vendor/leaflet/leaflet.js",
  "/static/vendor/leaflet/leaflet.css",
  "/static/vendor/socket.io/socket.io.min.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => cache.addAll([...APP, ...VENDOR].map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("dispatch-tablet-shell") && n !== SHELL).map((n) => caches.delete(n))))
      .then(() => self.clients.claim())
  );
});

/** The page: the kept copy at once (refreshed in the background), else the network, else any copy. */
async function page(event) {
  const cache = await caches.open(SHELL);
  const request = event.request;
  const refresh = fetch(request).then(async (response) => {
    if (response.ok && response.type === "basic") {
      await cache.put(request, response.clone());
      await cache.put("/tablet", response.clone());
    }
    return response;
  });
  const kept = await cache.match(request);
  if (kept) {
    event.waitUntil(refresh.catch(() => null));
    return kept;
  }
  try {
    return await refresh;
  } catch (error) {
    const any = await cache.match("/tablet");
    if (any) return any;
    throw error;
  }
}

async function shellFile(request) {
  const cache = await caches.open(SHELL);
  const kept = await cache.match(request, { ignoreSearch: true });
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok && response.type === "basic") await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === "/tablet") {
    event.respondWith(page(event));
  } else if (url.pathname.startsWith("/static/vendor/") || url.pathname.startsWith("/static/app/") || url.pathname === "/tablet.webmanifest") {
    event.respondWith(shellFile(request));
  }
  // everything else (the API, the socket) goes to the network untouched
});
