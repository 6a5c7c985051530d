// Queue health stays live: the server renders the section (figures and SVG charts); this
// re-reads it every 15 s while the tab is visible, and at once when it becomes visible.
const POLL_MS = 15000;
const root = document.querySelector('[data-health]');
let busy = false;

async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const response = await fetch(root.dataset.healthUrl, { credentials: 'same-origin' });
    if (response.ok) {
      const html = await response.text();
      const doc = new DOMParser().parseFromString(html, 'text/html');
      const fresh = doc.querySelector('[data-health-section]');
      if (fresh) root.replaceChildren(document.importNode(fresh, true));
    }
  } catch {
    // Offline or a deploy in progress: the next tick tries again.
  } finally {
    busy = false;
  }
}

if (root) {
  setInterval(() => document.visibilityState === 'visible' && refresh(), POLL_MS);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') refresh();
  });
}
