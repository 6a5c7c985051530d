// The reviewer's pages, enhanced: a live feed (cards slide in and out), one-tap claims, the
// lease countdown, draft autosave and a double-tap-proof submit. Every form on these pages
// works without this file. Data comes in data- attributes; text is only set as textContent.
// Live events come over the page's one websocket, which bell.js opens and shares.
import { subscribe } from '/static/bell.js';

const root = document.querySelector('[data-reviewer-page]');
const URGENT_MS = 5 * 60 * 1000;
const GONE = 'This review is no longer yours: the claim was released or its time ran out.';
const TIME_UP = 'Time is up: this claim has expired, so this review can no longer be saved or submitted.';

// Countdowns follow the server's clock, not a phone's clock that may be minutes off.
const skew = root ? Date.parse(root.dataset.serverNow) - Date.now() : 0;
const serverNow = () => Date.now() + (Number.isFinite(skew) ? skew : 0);
const loadedAt = serverNow();
const reduceMotion = () => globalThis.matchMedia?.('(prefers-reduced-motion: reduce)').matches;

function newKey() {
  // crypto.randomUUID needs a secure context; a phone on the school LAN may not have one.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// Never throws: status 0 means the network failed (the caller may retry with the same key).
async function api(url, { method = 'GET', body, key, keepalive = false } = {}) {
  const headers = { Accept: 'application/json', 'X-CSRF-Token': root.dataset.csrf };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (key) headers['Idempotency-Key'] = key;
  const init = { method, headers, keepalive, credentials: 'same-origin' };
  if (body !== undefined) init.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    return { status: 0, ok: false, data: {} };
  }
  const data = await response.json().catch(() => ({})); // a proxy's HTML error page: no detail
  return { status: response.status, ok: response.ok, data };
}

function announce(text) {
  const region = root.querySelector('[data-announce]');
  if (!region) return;
  region.textContent = ''; // cleared first, so the same sentence twice is read twice
  setTimeout(() => (region.textContent = text), 50);
}

function waitingText(ms) {
  // The same words as waiting_text in app/views/reviewer/cards.py.
  const minutes = Math.floor(Math.max(ms, 0) / 60000);
  if (minutes < 1) return 'waiting under a minute';
  if (minutes < 60) return `waiting ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `waiting ${hours} h` : `waiting ${Math.floor(hours / 24)} days`;
}

// Ticks every second, but speaks (aria-live) only when it matters: 5 min, 1 min, time up.
function startCountdowns(onExpire) {
  const tick = () => {
    for (const el of root.querySelectorAll('[data-countdown][data-expires-at]')) {
      const left = Date.parse(el.dataset.expiresAt) - serverNow();
      const text = el.querySelector('[data-countdown-text]');
      if (!Number.isFinite(left)) continue;
      if (left <= 0) {
        if (el.dataset.said === 'expired') continue;
        el.dataset.said = 'expired';
        el.classList.remove('urgent');
        el.classList.add('expired');
        text.textContent = 'Time is up';
        onExpire();
        continue;
      }
      const seconds = Math.ceil(left / 1000);
      text.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')} left`;
      el.classList.remove('expired');
      el.classList.toggle('urgent', left < URGENT_MS);
      const stage = left < 60000 ? 'one' : left < URGENT_MS ? 'five' : '';
      if (!stage) delete el.dataset.said; // (extended) warn again next time
      else if (el.dataset.said !== stage) {
        el.dataset.said = stage;
        announce(stage === 'one' ? 'One minute left on this review.' : 'Less than 5 minutes left on this review.');
      }
    }
  };
  tick();
  setInterval(tick, 1000);
  return tick;
}

function feedPage() {
  const list = root.querySelector('[data-feed]');
  const template = root.querySelector('[data-card-template]');
  const empty = root.querySelector('[data-feed-empty]');
  const message = root.querySelector('[data-feed-message]');
  const held = root.querySelector('[data-held]');
  const pending = new Set(); // my claims in flight: their own task.claimed is not a loss
  const slot = (el, name) => el.querySelector(`[data-slot="${name}"]`);
  const cards = () => [...list.querySelectorAll('[data-task-card]:not(.leaving)')];
  // A card is one packet's open work in one pool: data-task-ids holds all its tasks.
  const idsOf = (li) => (li.dataset.taskIds || li.dataset.taskId).split(' ').filter(Boolean);
  const findCard = (id) => cards().find((li) => idsOf(li).includes(id));
  const neededText = (n) => (n > 1 ? `${n} reviewers needed` : '');
  function forgetTask(li, id) {
    // Someone took one of the card's tasks: the card stays while the packet needs more.
    const left = idsOf(li).filter((t) => t !== id);
    if (left.length === 0) return remove(li);
    li.dataset.taskIds = left.join(' ');
    li.dataset.taskId = left[0];
    Object.assign(slot(li, 'needed'), { textContent: neededText(left.length), hidden: left.length < 2 });
  }
  const updateEmpty = () => (empty.hidden = cards().length > 0);
  let toastTimer = null;
  function say(text) {
    Object.assign(message, { textContent: '', hidden: false, className: 'error toast' });
    setTimeout(() => (message.textContent = text), 50); // a fresh alert is announced again
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (message.hidden = true), 8000);
  }
  function fill(li, t) {
    li.dataset.taskId = t.task_id;
    li.dataset.taskIds = (t.task_ids ?? [t.task_id]).join(' ');
    Object.assign(slot(li, 'needed'), { textContent: t.needed_label ?? '', hidden: !t.needed_label });
    slot(li, 'credential').textContent = t.credential;
    slot(li, 'claim-name').textContent = ` ${t.credential}`;
    slot(li, 'pool').textContent = t.pool_label;
    Object.assign(slot(li, 'reason'), { textContent: t.reason_label ?? '', hidden: !t.reason_label });
    slot(li, 'evidence').textContent = t.evidence.join(', ');
    slot(li, 'evidence-line').hidden = t.evidence.length === 0;
    const waited = waitingText(serverNow() - Date.parse(t.waiting_since));
    Object.assign(slot(li, 'waiting'), { dateTime: t.waiting_since, textContent: waited });
    li.querySelector('[data-claim-form]').action = `/review/tasks/${t.task_id}/claim`;
  }
  function insert(t, after) {
    const li = template.content.querySelector('[data-task-card]').cloneNode(true);
    fill(li, t);
    li.classList.add('entering');
    if (after) after.after(li);
    else list.prepend(li);
    // Two frames: the first paints it hidden, so the second can transition it in.
    if (reduceMotion()) li.classList.remove('entering');
    else requestAnimationFrame(() => requestAnimationFrame(() => li.classList.remove('entering')));
    return li;
  }
  function remove(li) {
    if (li.classList.contains('leaving')) return;
    const hadFocus = li.contains(document.activeElement);
    li.classList.add('leaving');
    updateEmpty();
    const done = () => {
      if (!li.isConnected) return;
      li.remove();
      if (hadFocus) root.querySelector('#feed-title')?.focus(); // focus never falls to <body>
    };
    if (reduceMotion()) return done();
    li.addEventListener('transitionend', done, { once: true });
    setTimeout(done, 400);
  }
  function reconcile(tasks) {
    const wanted = new Set(tasks.map((t) => t.task_id));
    for (const li of cards()) if (!wanted.has(li.dataset.taskId)) remove(li);
    const added = [];
    let previous = null;
    for (const t of tasks) {
      const li = findCard(t.task_id);
      if (li) fill(li, t);
      else added.push(t.credential);
      previous = li ?? insert(t, previous);
    }
    updateEmpty();
    if (added.length === 1) announce(`New work: ${added[0]}.`);
    else if (added.length > 1) announce(`${added.length} new pieces of work.`);
  }
  function showHeld(claim) {
    const countdown = held.querySelector('[data-countdown]');
    held.hidden = !claim;
    if (!claim) return void delete countdown.dataset.expiresAt;
    slot(held, 'held-credential').textContent = claim.credential;
    slot(held, 'held-link').href = claim.url;
    countdown.dataset.expiresAt = claim.lease_expires_at;
  }
  let timer = null, busy = false, again = false;
  const scheduleRefresh = (delay = 250) => {
    clearTimeout(timer);
    timer = setTimeout(refresh, delay); // a burst of events costs one fetch
  };
  async function refresh() {
    if (busy) return void (again = true);
    busy = true;
    const r = await api('/review/feed.json'); // offline: the live client resyncs us later
    if (r.ok) reconcile(r.data.tasks);
    if (r.ok) showHeld(r.data.claim);
    busy = false;
    if (again) scheduleRefresh(); // what came in meanwhile
    again = false;
  }

  // The one tap: the JSON API answers 201 or 409 without leaving the page; a retry after a
  // dropped connection reuses the Idempotency-Key, so it cannot claim twice.
  async function tap(form, url, li = null) {
    const button = form.querySelector('button');
    if (button.disabled) return;
    button.disabled = true;
    form.dataset.key ||= newKey();
    if (li) pending.add(li.dataset.taskId);
    let r = await api(url, { method: 'POST', key: form.dataset.key });
    // Someone was quicker to this task: the packet's other tasks in the card, in turn.
    for (const other of li ? idsOf(li).slice(1) : []) {
      if (!(r.status === 409 && r.data.error === 'already_taken')) break;
      pending.add(other);
      r = await api(`/api/v1/tasks/${other}/claim`, { method: 'POST', key: newKey() });
      pending.delete(other);
    }
    if (li) pending.delete(li.dataset.taskId);
    if (r.status === 201) return location.assign(`/review/tasks/${r.data.task_id}`);
    button.disabled = false;
    if (r.status === 0) return say('Could not reach MCX. Check your connection and try again.');
    delete form.dataset.key; // answered: the next tap is a new request
    if (r.status === 401) return location.assign('/login?next=/review');
    say(r.data.detail || 'That did not work. Try again.');
    if (li && (r.data.error === 'already_taken' || r.status === 404)) remove(li);
    else scheduleRefresh(0);
  }
  // One listener for every claim form: those on the page and those that slide in later.
  root.addEventListener('submit', (event) => {
    const form = event.target;
    const li = form.closest('[data-task-card]');
    if (!form.matches('[data-claim-form], [data-claim-next-form]')) return;
    event.preventDefault();
    tap(form, li ? `/api/v1/tasks/${li.dataset.taskId}/claim` : '/api/v1/tasks/claim-next', li);
  });
  setInterval(() => {
    for (const time of list.querySelectorAll('time[datetime]')) {
      time.textContent = waitingText(serverNow() - Date.parse(time.dateTime));
    }
  }, 60000);
  startCountdowns(() => scheduleRefresh(0));

  // Arrivals are fetched (the server decides eligibility, order and evidence kinds); a task
  // someone took is simply removed; `resync` means events were missed: fetch everything.
  const ARRIVALS = new Set(['task.opened', 'task.released', 'task.expired']);
  const TAKEN = new Set(['task.claimed', 'task.cancelled']);
  subscribe((m) => {
    if (ARRIVALS.has(m.type)) scheduleRefresh();
    else if (m.type === 'resync' || m.notification?.kind === 'claim.expired') scheduleRefresh(0);
    else if (TAKEN.has(m.type) && !pending.has(m.task_id)) {
      const li = findCard(m.task_id);
      if (li) forgetTask(li, m.task_id);
    }
  });
}

function taskPage() {
  const taskId = root.dataset.taskId;
  const leaseVersion = Number(root.dataset.leaseVersion);
  const form = root.querySelector('[data-review-form]');
  const status = root.querySelector('[data-save-status]');
  const taskMessage = root.querySelector('[data-task-message]');
  const submitError = root.querySelector('[data-submit-error]');
  const submitButton = root.querySelector('[data-submit-button]');
  const preview = root.querySelector('[data-recommendation]');
  const countdown = root.querySelector('[data-countdown]');
  const criteria = [...form.querySelectorAll('[data-criterion]')];
  let expired = false, submitting = false;
  let saveTimer = null, saving = false, dirty = false, retryDelay = 2000;
  let submitKey = null;
  const setStatus = (text, failing = false) =>
    Object.assign(status, { textContent: text, className: `save-status${failing ? ' failing' : ''}` });
  function expire(detail) {
    if (expired) return;
    expired = true;
    clearTimeout(saveTimer);
    root.classList.add('expired');
    for (const button of root.querySelectorAll('form button')) button.disabled = true;
    const back = Object.assign(document.createElement('a'), { href: '/review', textContent: 'Back to the feed' });
    taskMessage.replaceChildren(`${detail} `, back);
    taskMessage.hidden = false;
    taskMessage.focus();
    setStatus('Not saved: this review is no longer yours.', true);
  }
  function localise() {
    const until = root.querySelector('[data-lease-until]');
    const when = new Date(countdown.dataset.expiresAt);
    if (Number.isNaN(when.getTime())) return;
    until.dateTime = when.toISOString();
    until.textContent = when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  function collect() {
    const scores = [];
    for (const fieldset of criteria) {
      const chosen = fieldset.querySelector('input[type="radio"]:checked');
      const comment = fieldset.querySelector('textarea').value;
      // A comment is stored with its level; say so rather than drop it silently.
      fieldset.querySelector('[data-comment-hint]').hidden = Boolean(chosen) || !comment.trim();
      if (chosen) scores.push({ criterion_id: fieldset.dataset.criterion, level_id: chosen.value, comment });
    }
    return { lease_version: leaseVersion, scores, feedback: form.elements.feedback.value };
  }
  // The server decides the real recommendation; this only mirrors the rubric's passing rule.
  function updatePreview() {
    const minLevel = Number(form.dataset.minLevel);
    const minPoints = form.dataset.minPoints === '' ? null : Number(form.dataset.minPoints);
    const chosen = criteria.map((f) => f.querySelector('input[type="radio"]:checked')).filter(Boolean);
    let text = `Recommendation: score every criterion first (${chosen.length} of ${criteria.length}).`;
    let kind = '';
    if (chosen.length === criteria.length) {
      const points = chosen.reduce((sum, input) => sum + Number(input.dataset.points), 0);
      const pass =
        chosen.every((input) => Number(input.dataset.position) >= minLevel) &&
        (minPoints === null || points >= minPoints);
      text = `Recommendation: ${pass ? 'Pass' : 'Not yet'} (${points} points). MCX confirms it when you submit.`;
      kind = pass ? ' pass' : ' not-yet';
    }
    preview.hidden = false;
    preview.className = `recommendation${kind}`;
    if (preview.textContent !== text) preview.textContent = text;
  }

  const scheduleSave = (delay = 1200) => {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, delay);
  };
  async function save({ keepalive = false } = {}) {
    if (expired || submitting) return;
    if (saving) return void (dirty = true); // the save under way saves again when it is done
    clearTimeout(saveTimer);
    saving = true;
    dirty = false;
    setStatus('Saving…');
    const r = await api(`/api/v1/tasks/${taskId}/review`, { method: 'PUT', body: collect(), keepalive });
    saving = false;
    if (submitting) return;
    if (r.ok) {
      retryDelay = 2000;
      return dirty ? scheduleSave() : setStatus('Saved');
    }
    if (r.status === 409 && r.data.error === 'claim_gone') return expire(r.data.detail || GONE);
    if (r.status === 401) return setStatus('Not saved: log in again, then reload this page.', true);
    if ([400, 403, 413, 422].includes(r.status)) {
      return setStatus(`Not saved: ${r.data.detail || 'reload the page and try again.'}`, true);
    }
    dirty = true; // the network or a server hiccup: try again, backing off
    setStatus('Not saved — retrying', true);
    scheduleSave(retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }
  form.addEventListener('input', (event) => {
    if (expired) return;
    dirty = true;
    setStatus('Unsaved changes');
    scheduleSave();
    if (event.target.type === 'radio') updatePreview();
  });
  document.addEventListener('visibilitychange', () => {
    // Phones kill background tabs: save now, and let the request outlive the page.
    if (document.visibilityState === 'hidden' && dirty) save({ keepalive: true });
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (expired) return;
    if (event.submitter?.hasAttribute('formaction')) return void save(); // "Save draft": now
    if (submitting) return;
    submitting = true;
    clearTimeout(saveTimer);
    Object.assign(submitButton, { disabled: true, textContent: 'Submitting…' });
    submitError.hidden = true;
    submitKey ||= newKey(); // a double tap or a retry is the same submit, answered once
    const r = await api(`/api/v1/tasks/${taskId}/review`, { method: 'POST', body: collect(), key: submitKey });
    if (r.status === 201) return location.assign(`/review/tasks/${taskId}/done`);
    submitting = false;
    Object.assign(submitButton, { disabled: false, textContent: 'Submit review' });
    if (r.status === 409 && r.data.error === 'claim_gone') return expire(r.data.detail || GONE);
    const fallback = r.status ? 'Not sent. Try again.' : 'Not sent: check your connection and tap Submit again.';
    Object.assign(submitError, { textContent: r.data.detail || fallback, hidden: false });
    submitError.focus();
  });
  const extendForm = root.querySelector('[data-extend-form]');
  extendForm?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = extendForm.querySelector('button');
    button.disabled = true;
    const r = await api(`/api/v1/tasks/${taskId}/extend`, { method: 'POST', body: { lease_version: leaseVersion } });
    if (r.ok) {
      countdown.dataset.expiresAt = r.data.lease_expires_at;
      localise();
      tick();
      root.querySelector('[data-extended-note]').hidden = false;
      extendForm.remove();
      return announce('Extended: you have more time for this review.');
    }
    if (r.status === 409 && r.data.error === 'claim_gone') return expire(r.data.detail || GONE);
    button.disabled = false;
    Object.assign(taskMessage, { textContent: r.data.detail || 'Could not reach MCX. Try again.', hidden: false });
  });
  localise();
  updatePreview();
  const tick = startCountdowns(() => expire(TIME_UP));
  subscribe((m) => {
    const n = m.type === 'notification' ? m.notification : null;
    // Only news from after this page was drawn: a replayed old expiry is about an old claim.
    const fresh = n && Date.parse(n.created_at) >= loadedAt - 5000;
    if (fresh && n.kind === 'claim.expired' && n.payload?.task_id === taskId) expire(GONE);
  });
}

if (root?.dataset.reviewerPage === 'feed') feedPage();
else if (root?.dataset.reviewerPage === 'task') taskPage();
