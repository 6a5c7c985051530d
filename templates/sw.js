// MCX service worker (served at /sw.js by app/views/shell.py, which fills in the values below).
//
// It keeps the app shell and nothing else: the shell files are precached at install and served
// cache-first; page navigations go to the network, with the offline page when there is none.
// Pages, API answers, badges and evidence are never stored: they can be private, and a phone
// is often shared.

const VERSION = {{ version|tojson }};
const CACHE = `mcx-shell-${VERSION}`;
const CACHE_PREFIX = 'mcx-shell-';
const SHELL = {{ shell|tojson }};
const OFFLINE_URL = {{ offline_url|tojson }};
const NEVER_CACHED = {{ never_cached|tojson }};
const SHELL_PATHS = new Set(SHELL);

const neverCached = (path) => NEVER_CACHED.some((prefix) => path.startsWith(prefix));

// The one gate in front of the cache: a response is stored only when it is a complete,
// same-origin success, outside the never-cached paths, and its server allows storing it.
function storable(response) {
  if (response.status !== 200 || response.type !== 'basic' || response.redirected) return false;
  if (neverCached(new URL(response.url).pathname)) return false;
  const control = response.headers.get('Cache-Control') || '';
  return !/(^|[,\s])(private|no-store)([,=\s]|$)/i.test(control);
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await Promise.all(
        SHELL.map(async (path) => {
          // Without cookies, so no one's session shapes what every later visitor is shown;
          // 'reload' skips the HTTP cache, so a new version never starts from stale files.
          const response = await fetch(new Request(path, { credentials: 'omit', cache: 'reload' }));
          if (!storable(response)) {
            // Fail the install: a worker with half a shell would serve a broken offline page.
            throw new Error(`MCX shell file ${path} cannot be cached (HTTP ${response.status})`);
          }
          await cache.put(path, response);
        }),
      );
      await self.skipWaiting(); // the shell is complete: no reason to wait for old tabs
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names
          .filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE)
          .map((name) => caches.delete(name)),
      );
      // Lets the network request for a page start while the worker boots (phones are slow).
      await self.registration.navigationPreload?.enable();
      await self.clients.claim();
    })(),
  );
});

async function navigate(event) {
  try {
    const preloaded = await event.preloadResponse;
    return preloaded || (await fetch(event.request));
  } catch {
    // Only a network failure lands here; a server's error page still reaches the person.
    const cache = await caches.open(CACHE);
    return (await cache.match(OFFLINE_URL)) || Response.error();
  }
}

async function shellFile(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  if (cached) return cached;
  // Evicted by the browser under storage pressure: fetch it again and keep it if allowed.
  const response = await fetch(request);
  if (storable(response)) await cache.put(new URL(request.url).pathname, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return; // forms and API writes go straight to the network
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    // Every page, even an evidence download opened as a page: from the network, never stored;
    // answering it here (rather than returning) keeps the navigation preload from doubling it.
    event.respondWith(navigate(event));
    return;
  }
  if (neverCached(url.pathname)) return; // the browser fetches it; this worker never sees it
  if (SHELL_PATHS.has(url.pathname)) event.respondWith(shellFile(request));
});

// Web Push (issue 20). The push service hands over the payload MCX encrypted for this device:
// {id, kind, title, body, url, tag}. Every push shows a notification (browsers require it);
// `url` is MCX's /push/open/{id}, which redirects to the feed, the task or the packet, or says
// that the work was taken meanwhile.
const ICON = '/static/icons/icon-192.png';

function pushed(event) {
  try {
    const data = event.data ? event.data.json() : {};
    if (data && typeof data.title === 'string') return data;
  } catch {
    // not JSON: show the generic notification below
  }
  return { title: 'MCX', body: 'Something new is waiting for you.', url: '/notifications', tag: 'mcx' };
}

self.addEventListener('push', (event) => {
  const data = pushed(event);
  const url = typeof data.url === 'string' && data.url.startsWith('/') && !data.url.startsWith('//') ? data.url : '/notifications';
  event.waitUntil(
    self.registration.showNotification(data.title, {
      body: data.body || '',
      tag: data.tag || undefined,
      icon: ICON,
      badge: ICON,
      data: { url },
    }),
  );
});

// Opens the push's page: in a window of MCX that is already open (focused and sent there),
// or else in a new one.
async function openPage(path) {
  const target = new URL(path, self.location.origin).href;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const mine = windows.filter((client) => new URL(client.url).origin === self.location.origin);
  const same = mine.find((client) => client.url === target);
  if (same) return same.focus();
  if (mine.length > 0) {
    const client = mine[0];
    const moved = client.navigate ? await client.navigate(target).catch(() => null) : null;
    if (moved) {
      // Focusing needs the tap's user activation; without it, the page still moved.
      await moved.focus().catch(() => undefined);
      return moved;
    }
  }
  return self.clients.openWindow(target);
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const path = (event.notification.data && event.notification.data.url) || '/notifications';
  event.waitUntil(openPage(path));
});
