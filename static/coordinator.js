// The coordinator's live queue: re-reads queue.json and redraws the two tables.
//
// Coordinators receive no feed events from the hub unless they are also reviewers in this
// credential's pool, so polling is the rule: every 10 s while the tab is visible, and at once
// when it becomes visible again. When this person is in the pool, any feed event for this
// credential (or a resync) refreshes immediately as a bonus. Without JavaScript the page
// still shows the queue as of its load, with a Refresh link.
import { subscribe } from '/static/bell.js';

const POLL_MS = 10000;
const root = document.querySelector('[data-queue]');

function cell(tag, text, label) {
  const element = document.createElement(tag);
  element.setAttribute('role', tag === 'th' ? 'rowheader' : 'cell');
  if (tag === 'th') element.scope = 'row';
  if (label) element.dataset.label = label;
  if (text instanceof Node) element.append(text);
  else element.textContent = text ?? '';
  return element;
}

function clock(iso) {
  if (!iso) return '';
  const time = document.createElement('time');
  time.dateTime = iso;
  time.textContent = new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return time;
}

function taskLink(task) {
  const link = document.createElement('a');
  link.href = `/coordinate/submissions/${encodeURIComponent(task.submission_id)}`;
  link.textContent = `Task ${task.task_id.slice(0, 8)}`;
  return link;
}

const capital = (text) => (text ? text[0].toUpperCase() + text.slice(1) : '');

function row(task, cells) {
  const tr = document.createElement('tr');
  tr.setAttribute('role', 'row');
  tr.dataset.taskId = task.task_id;
  tr.append(cell('th', taskLink(task)), ...cells);
  return tr;
}

function emptyRow(columns, text) {
  const tr = document.createElement('tr');
  tr.setAttribute('role', 'row');
  const td = cell('td', text);
  td.colSpan = columns;
  td.className = 'empty';
  tr.append(td);
  return tr;
}

function openRow(task) {
  const waiting = document.createElement('time');
  waiting.dateTime = task.waiting_since;
  waiting.textContent = task.waiting;
  return row(task, [
    cell('td', capital(task.pool), 'Pool'),
    cell('td', capital(task.reason), 'Reason'),
    cell('td', waiting, 'Waiting'),
  ]);
}

function claimedRow(task) {
  const lease = document.createElement('span');
  lease.append(clock(task.lease_expires_at), ` (${task.lease_left})`);
  return row(task, [
    cell('td', capital(task.pool), 'Pool'),
    cell('td', task.reviewer || '—', 'Reviewer'),
    cell('td', clock(task.claimed_at), 'Claimed at'),
    cell('td', lease, 'Lease ends'),
    cell('td', task.waiting, 'Waited'),
  ]);
}

function render(queue) {
  root.querySelector('[data-queue-open]').replaceChildren(
    ...(queue.open.length ? queue.open.map(openRow) : [emptyRow(4, 'No open tasks.')]),
  );
  root.querySelector('[data-queue-claimed]').replaceChildren(
    ...(queue.claimed.length ? queue.claimed.map(claimedRow) : [emptyRow(6, 'No claimed tasks.')]),
  );
  const summary = root.querySelector('[data-queue-summary]');
  const text = `${queue.open.length} open · ${queue.claimed.length} claimed`;
  if (summary.textContent !== text) summary.textContent = text; // aria-live: speak changes only
  const asOf = root.querySelector('[data-queue-as-of]');
  asOf.dateTime = queue.as_of;
  asOf.textContent = new Date(queue.as_of).toLocaleTimeString();
}

let inFlight = false;

async function refresh() {
  if (inFlight) return;
  inFlight = true;
  try {
    const response = await fetch(root.dataset.queueUrl, {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
    if (response.ok) render(await response.json());
  } catch {
    // Offline or a deploy in progress: the next tick tries again.
  } finally {
    inFlight = false;
  }
}

if (root) {
  root.querySelector('[data-queue-auto]').hidden = false;
  setInterval(() => document.visibilityState === 'visible' && refresh(), POLL_MS);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') refresh();
  });
  const credentialId = root.dataset.credentialId;
  subscribe((message) => {
    const ours = message.type?.startsWith('task.') && message.credential_id === credentialId;
    if (ours || message.type === 'resync') refresh();
  });
}
