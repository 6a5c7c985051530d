// The notification bell, on every page for people who are logged in (base.html loads it).
//
// It reads the unread count once, then counts live notifications on top, over the page's one
// websocket (live.js). Other page scripts share that socket instead of opening a second one:
//
//   import { subscribe } from '/static/bell.js';
//   const stop = subscribe((message) => ...);   // every live event: feed, resync, notification
//
// ES modules run once per page, so every importer gets the same connection.
import { connectLive } from '/static/live.js';

const UNREAD_URL = '/notifications/unread.json';
const listeners = new Set();
const badge = document.querySelector('[data-unread]');
const link = badge?.closest('a');

let unread = 0;
let lastId = null; // the newest id the fetched count includes; null until the first answer
let syncing = false;
let early = []; // ids heard while a count was on its way: counted once it arrives

export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function show() {
  if (!badge) return;
  badge.textContent = unread > 99 ? '99+' : String(unread);
  badge.hidden = unread === 0;
  // The link's aria-label is what a screen reader announces: keep the count in it.
  link?.setAttribute('aria-label', unread ? `Notifications, ${unread} unread` : 'Notifications');
}

function count(id) {
  if (syncing || lastId === null) return early.push(id);
  // live.js delivers each id once, but catch-up can come after a newer live one: compare
  // with what the fetched count covers, not with the last id heard.
  if (id > lastId) {
    unread += 1;
    show();
  }
}

async function sync() {
  if (syncing) return;
  syncing = true;
  try {
    const response = await fetch(UNREAD_URL, {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
    if (response.ok) {
      const data = await response.json();
      unread = data.unread;
      lastId = data.last_id;
    }
  } catch {
    // Offline: keep the count we have; the next 'online' asks again.
  } finally {
    syncing = false;
  }
  const heard = early;
  early = [];
  heard.forEach(count);
  show();
}

function onEvent(message) {
  if (message.type === 'notification' && !message.notification?.read) count(message.notification.id);
  if (message.type === 'resync') sync();
  for (const listener of listeners) {
    try {
      listener(message);
    } catch (error) {
      console.error(error); // one page script's bug must not silence the others
    }
  }
}

// Every (re)connection is caught up by live.js; asking for the count again then also covers
// notifications read in another tab.
// One banner on every page says when live updates are paused (pages still work without them).
function onStatus(status) {
  const banner = document.querySelector('[data-live-status]');
  if (banner) {
    banner.hidden = status === 'online';
    banner.textContent = status === 'offline' ? 'Offline: live updates are paused.' : 'Reconnecting…';
  }
  if (status === 'online') sync();
}

connectLive({ onEvent, onStatus });
sync();
