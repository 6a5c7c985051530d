// Live updates for MCX pages over /ws: reconnects by itself and catches up on what it missed.
//
//   import { connectLive } from '/static/live.js';
//   const live = connectLive({ onEvent: (m) => ..., onStatus: (s) => banner(s) });
//
// onEvent gets notifications ({type:'notification', notification}), feed events
// ({type, task_id, credential_id, pool, data}), {type:'resync'} (refetch: events were missed),
// errors, and {type:'closed', code} when retrying cannot help (logged out: 4401).
// onStatus gets 'online' (connected, caught up) | 'reconnecting' | 'offline', for a banner.

const MAX_DELAY_MS = 30000;
const FIRST_DELAY_MS = 500;
const SILENCE_MS = 60000; // the server pings after 25 s of silence; 60 s of nothing = dead
const TERMINAL = new Set([4401, 4403, 1008]); // log in again / fix the page: do not hammer

const defaultUrl = () => `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;

function storage() {
  try {
    return globalThis.localStorage ?? null; // access throws in some private modes
  } catch {
    return null;
  }
}

export function connectLive({ onEvent = () => {}, onStatus = () => {}, url = defaultUrl() } = {}) {
  let socket = null;
  let attempt = 0;
  let retryTimer = null;
  let silenceTimer = null;
  let stopped = false;
  let status = null;
  let storeKey = null;
  let lastId = 0;
  let resuming = false;
  let resumeAfter = 0;
  const seen = new Set(); // live and resumed notifications can overlap: deliver each once

  const setStatus = (next) => {
    if (next !== status) onStatus((status = next));
  };
  const send = (message) => socket?.readyState === 1 && socket.send(JSON.stringify(message));
  const resume = (after) => {
    resuming = true;
    resumeAfter = after;
    send({ type: 'resume', after });
  };
  const persist = () => {
    try {
      if (storeKey) storage()?.setItem(storeKey, String(lastId));
    } catch {} // storage full or refused: the next visit starts from the present
  };

  function handle(message) {
    switch (message.type) {
      case 'hello': {
        attempt = 0;
        storeKey = `mcx.live.last.${message.user_id}`; // one browser, several people
        const raw = storage()?.getItem(storeKey);
        const stored = raw == null ? NaN : Number(raw);
        if (Number.isSafeInteger(stored) && stored >= 0) {
          lastId = stored;
        } else {
          lastId = message.last_notification_id; // first visit: the page shows the present
          persist();
        }
        return resume(lastId);
      }
      case 'notification': {
        // A transient event (e.g. "Preparing your video: 40 %") has no stored row: no id to
        // keep or catch up on, delivered as it comes.
        if (message.notification.transient) return onEvent(message);
        const id = message.notification.id;
        if (seen.has(id)) return;
        seen.add(id);
        if (seen.size > 1000) seen.delete(seen.values().next().value);
        lastId = Math.max(lastId, id);
        if (!resuming) persist(); // mid-resume, older missed ids may still be on their way
        return onEvent(message);
      }
      case 'resume_done':
        if (message.more) return resume(message.last_id);
        resuming = false;
        persist();
        return setStatus('online'); // connected and caught up
      case 'ping':
      case 'pong':
        return; // the silence timer was already reset
      case 'error':
        if (message.error === 'rate_limited' && resuming) {
          return setTimeout(() => resume(resumeAfter), 1000); // a long catch-up: pace the pages
        }
        return onEvent(message);
      default:
        return onEvent(message);
    }
  }

  function retry() {
    clearTimeout(silenceTimer);
    if (stopped) return;
    setStatus(globalThis.navigator?.onLine === false ? 'offline' : 'reconnecting');
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt);
    attempt = Math.min(attempt + 1, 10);
    retryTimer = setTimeout(open, delay * (0.5 + Math.random() / 2)); // jitter: no stampede
  }

  function drop(ws) {
    // Forget a dead socket at once; close() on a half-open one may not fire onclose for minutes.
    ws.onmessage = ws.onclose = null;
    ws.close();
    if (socket === ws) socket = null;
    retry();
  }

  function open() {
    clearTimeout(retryTimer);
    if (stopped || socket) return;
    const ws = (socket = new WebSocket(url));
    const listen = () => {
      clearTimeout(silenceTimer);
      silenceTimer = setTimeout(() => drop(ws), SILENCE_MS);
    };
    listen();
    ws.onmessage = (event) => {
      listen();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      handle(message);
    };
    ws.onclose = (event) => {
      if (socket === ws) socket = null;
      if (!TERMINAL.has(event.code)) return retry();
      stopped = true;
      clearTimeout(silenceTimer);
      setStatus('offline');
      onEvent({ type: 'closed', code: event.code, reason: event.reason });
    };
  }

  const now = () => {
    if (stopped || socket) return;
    attempt = 0;
    open();
  };
  globalThis.addEventListener?.('online', now);
  globalThis.addEventListener?.('offline', () => setStatus('offline'));
  globalThis.document?.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') now(); // phones freeze background tabs
  });
  open();

  return {
    send,
    refresh: () => send({ type: 'refresh' }), // after a role or badge changed
    close() {
      stopped = true;
      clearTimeout(retryTimer);
      clearTimeout(silenceTimer);
      socket?.close(1000);
      socket = null;
      setStatus('offline');
    },
    get status() {
      return status;
    },
  };
}
