// Phone notifications (/me/push): subscribe this browser to Web Push with the server's VAPID
// key, tell MCX (POST /me/push/subscriptions), or stop. The service worker (/sw.js) shows the
// pushes. A browser subscribed with a retired key subscribes again with the current one; one
// whose device was removed from the list (here or on another device) is unsubscribed.

const root = document.querySelector('[data-push-settings]');
const state = root.querySelector('[data-push-state]');
const onButton = root.querySelector('[data-push-on]');
const offButton = root.querySelector('[data-push-off]');
const serverKey = root.dataset.serverKey;
const known = new Set([...root.querySelectorAll('[data-endpoint]')].map((li) => li.dataset.endpoint));

function keyBytes(text) {
  const base64 = (text + '='.repeat((4 - (text.length % 4)) % 4)).replace(/-/g, '+').replace(/_/g, '/');
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

function base64url(buffer) {
  const bytes = new Uint8Array(buffer);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': root.dataset.csrfToken },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    let detail = `MCX answered ${response.status}`;
    try {
      detail = (await response.json()).detail || detail;
    } catch {
      // not JSON: keep the status
    }
    throw new Error(detail);
  }
  return response.json();
}

function say(text) {
  state.textContent = text;
}

function render(subscribed) {
  onButton.hidden = subscribed;
  offButton.hidden = !subscribed;
  say(subscribed ? 'This device gets notifications.' : 'This device gets no notifications.');
}

async function subscribe(registration) {
  const subscription = await registration.pushManager.subscribe({
    userVisibleOnly: true,
    applicationServerKey: keyBytes(serverKey),
  });
  const json = subscription.toJSON();
  await post('/me/push/subscriptions', { endpoint: json.endpoint, keys: json.keys, server_key: serverKey });
  return subscription;
}

async function start() {
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) {
    say('This browser cannot receive notifications from web apps. On an iPhone or iPad, add MCX to the home screen first (iOS 16.4 or later) and open it from there.');
    return;
  }
  if (Notification.permission === 'denied') {
    say("Notifications are blocked for MCX in this browser's settings; allow them there first.");
    return;
  }
  const registration = await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !known.has(subscription.endpoint)) {
    // Removed from the list (or dropped by its push service): this browser stops too.
    await subscription.unsubscribe();
    subscription = null;
  } else if (subscription) {
    const key = subscription.options && subscription.options.applicationServerKey;
    if (key && base64url(key) !== serverKey) {
      // MCX rotated its key: the push service accepts only the new key's signature.
      await subscription.unsubscribe();
      subscription = await subscribe(registration);
    }
  }
  render(Boolean(subscription));
}

onButton.addEventListener('click', async () => {
  onButton.disabled = true;
  try {
    const permission = await Notification.requestPermission();
    if (permission !== 'granted') {
      say('Notifications were not allowed, so this device gets none.');
      return;
    }
    await subscribe(await navigator.serviceWorker.ready);
    location.reload(); // the list of devices now shows this one
  } catch (error) {
    say(`Could not turn notifications on: ${error.message}`);
  } finally {
    onButton.disabled = false;
  }
});

offButton.addEventListener('click', async () => {
  offButton.disabled = true;
  try {
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.getSubscription();
    if (subscription) {
      await post('/me/push/subscriptions/forget', { endpoint: subscription.endpoint });
      await subscription.unsubscribe();
    }
    location.reload();
  } catch (error) {
    say(`Could not turn notifications off: ${error.message}`);
  } finally {
    offButton.disabled = false;
  }
});

start().catch((error) => say(`Notifications are unavailable here: ${error.message}`));
