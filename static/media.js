// Recordings (templates/media/_player.html): tap a moment to seek the player there; mark a
// moment at the player's current time without leaving the page; follow a recording being
// prepared ("Preparing your video: 40 %") until its phone-friendly copy is ready.
// Every form also works without this script.
import { subscribe } from '/static/bell.js';

const POLL_MS = 2000;
const POLL_LIMIT = 900; // 30 minutes of polling at most, then the page's state stands

function clock(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function seekTo(root, seconds) {
  const media = root.querySelector('[data-media]');
  if (!media || !Number.isFinite(seconds)) return;
  const go = () => {
    media.currentTime = seconds;
    media.dataset.seekedTo = String(seconds);
  };
  if (media.readyState >= 1) go();
  else media.addEventListener('loadedmetadata', go, { once: true });
  media.scrollIntoView?.({ block: 'nearest' });
}

function momentItem(moment, root, form) {
  const item = document.createElement('li');
  item.setAttribute('data-testid', 'moment');
  item.dataset.momentId = moment.moment_id;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'seek';
  button.dataset.seek = String(moment.at_seconds);
  button.setAttribute('data-testid', 'moment-seek');
  button.textContent = clock(moment.at_seconds);
  item.append(button, ' ');
  if (moment.criterion) {
    const tag = document.createElement('span');
    tag.className = 'tag';
    tag.textContent = moment.criterion;
    item.append(tag, ' ');
  }
  const text = document.createElement('span');
  text.className = 'moment-comment';
  text.textContent = moment.comment;
  item.append(text);
  if (form) {
    const remove = document.createElement('form');
    remove.method = 'post';
    remove.className = 'inline';
    remove.action = `${form.action}/${moment.moment_id}/delete`;
    remove.dataset.momentDelete = '';
    for (const name of ['csrf_token', 'lease_version']) {
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = name;
      input.value = form.elements[name].value;
      remove.append(input);
    }
    const go = document.createElement('button');
    go.type = 'submit';
    go.className = 'link-button';
    go.textContent = 'Remove';
    go.setAttribute('aria-label', `Remove the moment at ${clock(moment.at_seconds)}`);
    remove.append(go);
    item.append(' ', remove);
  }
  return item;
}

function insertSorted(list, item, at) {
  const after = [...list.children].find((li) => Number(li.querySelector('[data-seek]')?.dataset.seek) > at);
  list.insertBefore(item, after ?? null);
}

function enhanceMarking(root) {
  const form = root.querySelector('[data-mark-form]');
  if (!form) return;
  const media = root.querySelector('[data-media]');
  const at = form.querySelector('[data-mark-at]');
  const now = form.querySelector('[data-mark-now]');
  const said = form.querySelector('[data-mark-error]');
  const list = root.querySelector('[data-moment-list]');
  const empty = root.querySelector('[data-moments-empty]');
  now.hidden = false;
  const fill = () => {
    at.value = clock(media.currentTime || 0);
  };
  now.addEventListener('click', fill);
  media.addEventListener('pause', fill); // pausing is how a reviewer marks a moment
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!at.value) fill();
    const parts = at.value.split(':').map(Number);
    const seconds = parts.reduce((total, part) => total * 60 + part, 0);
    const body = {
      lease_version: Number(form.elements.lease_version.value),
      artifact_id: form.elements.artifact_id.value,
      at_seconds: seconds,
      comment: form.elements.comment.value,
    };
    if (form.elements.criterion_id.value) body.criterion_id = form.elements.criterion_id.value;
    const taskId = form.action.split('/').at(-2);
    said.hidden = true;
    let response;
    try {
      response = await fetch(`/api/v1/tasks/${taskId}/moments`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          'X-CSRF-Token': form.elements.csrf_token.value,
        },
        body: JSON.stringify(body),
      });
    } catch {
      said.textContent = 'Not saved: you seem to be offline. Try again.';
      said.hidden = false;
      return;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      said.textContent = data.detail || 'That moment could not be saved.';
      said.hidden = false;
      if (response.status === 409) location.reload(); // the claim is over: the page says so
      return;
    }
    insertSorted(list, momentItem(data, root, form), data.at_seconds);
    empty.hidden = true;
    form.elements.comment.value = '';
  });
}

function followPreparation(root) {
  const state = root.dataset.state;
  if (state !== 'pending' && state !== 'working') return;
  const status = root.querySelector('[data-media-status]');
  let polls = 0;
  let timer = null;
  // A page with a review being written is never reloaded under the reviewer's fingers.
  const writing = document.querySelector('[data-review-form]');
  const done = (data) => {
    clearTimeout(timer);
    if (!writing) return location.reload();
    status.hidden = false;
    status.textContent =
      data?.state === 'failed'
        ? data.status
        : 'A phone-friendly copy is ready: reload the page (your draft is saved) to play it.';
  };
  const look = async () => {
    polls += 1;
    try {
      const response = await fetch(`/api/v1/artifacts/${root.dataset.artifactId}/media`, {
        headers: { Accept: 'application/json' },
      });
      if (response.ok) {
        const data = await response.json();
        if (data.state === 'ready' || data.state === 'failed') return done(data);
        if (data.state === 'working') show(data.progress);
      }
    } catch {} // offline: try again on the next tick
    if (polls < POLL_LIMIT) timer = setTimeout(look, POLL_MS);
  };
  timer = setTimeout(look, POLL_MS);
  const show = (percent) => {
    status.hidden = false;
    status.textContent = `Preparing your ${root.dataset.kind || 'recording'}: ${percent} %`;
    const bar = document.createElement('progress');
    bar.max = 100;
    bar.value = percent;
    bar.setAttribute('aria-label', 'Preparing');
    bar.dataset.testid = 'media-progress';
    status.append(' ', bar);
  };
  subscribe((message) => {
    const n = message.notification;
    if (message.type !== 'notification' || !n) return;
    if (n.kind === 'media.progress' && n.payload?.artifact_id === root.dataset.artifactId) {
      return show(n.payload.progress); // live, from the worker
    }
    if ((n.kind === 'media.ready' || n.kind === 'media.failed') && n.payload?.artifact_id === root.dataset.artifactId) {
      done(null);
    }
  });
}

// A link from the feedback ("?t=6.5") opens the recording at that moment.
const startAt = Number(new URLSearchParams(location.search).get('t'));

for (const root of document.querySelectorAll('[data-player]')) {
  root.addEventListener('click', (event) => {
    const button = event.target.closest('[data-seek]');
    if (button) seekTo(root, Number(button.dataset.seek));
  });
  enhanceMarking(root);
  followPreparation(root);
  if (startAt > 0 && root.querySelector('[data-media]')) seekTo(root, startAt);
}
