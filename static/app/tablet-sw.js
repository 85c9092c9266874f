// The squad tablet's service worker (served as /tablet-sw.js, scope /tablet): the shell offline.
//
// - The page (/tablet, whatever its ?lang): from the network while there is one, the last copy
//   otherwise (a reload or a cold start at sea shows the tablet, not the browser's error page).
// - The app's files: from the network first (a deploy is seen at once), the last copy offline;
//   the vendored libraries, which do not change between deploys, from the cache at once.
// - The API is never answered here. The tablet itself keeps, in the "dispatch-tablet-data" cache,
//   the few answers it reads with its token (regions, zones, matters, its tasks): 200s only.
const SHELL = "dispatch-tablet-shell-v1";
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
      .then((cache) => cache.addAll([...APP, ...VENDOR]))
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

async function networkFirst(request, fallbackKey) {
  const cache = await caches.open(SHELL);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic") {
      const copy = response.clone();
      await cache.put(request, copy.clone());
      if (fallbackKey) await cache.put(fallbackKey, copy);
    }
    return response;
  } catch (error) {
    const cached = (await cache.match(request)) || (fallbackKey && (await cache.match(fallbackKey)));
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(SHELL);
  const cached = await cache.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === "/tablet") {
    event.respondWith(networkFirst(request, "/tablet"));
  } else if (url.pathname.startsWith("/static/vendor/")) {
    event.respondWith(cacheFirst(request));
  } else if (url.pathname.startsWith("/static/app/") || url.pathname === "/tablet.webmanifest") {
    event.respondWith(networkFirst(request));
  }
  // everything else (the API, the socket) goes to the network untouched
});
