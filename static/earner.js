// Earner pages, enhanced: resumable uploads with a progress bar per file, reflection
// character counts, drafts saved on the server as they are typed, the packet's live status
// and study-group comments without reload, and copy-link on the wallet.
// Every form works without this file. Data comes from data- attributes (no inline scripts).
//
// Uploads use the session protocol of /uploads (see app/views/earner/uploads.py): create a
// session, PATCH 1 MiB chunks with Upload-Offset, and after a dropped connection ask the
// server for its offset and continue from there, backing off between tries.

import { subscribe } from '/static/bell.js';
// Copy-link on the wallet's share boxes is the badge pages' own (it runs on import).
import '/static/badges.js';

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;
const RETRIES_BEFORE_PAUSE = 8; // then wait for the person (or the network) to come back
const CHUNK_TIMEOUT_MS = 120000; // a chunk that has not finished by then is a dead connection
// 409s that mean "ask where the upload stands"; any other 409 (the packet was submitted
// meanwhile, say) is a refusal to show.
const RESUMABLE = new Set(['wrong_offset', 'finishing']);

const packet = document.querySelector('[data-packet]');
const csrfToken = () =>
  document.querySelector('[data-csrf-token]')?.dataset.csrfToken ??
  document.querySelector('input[name="csrf_token"]')?.value ??
  '';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const backoff = (failures) =>
  Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (failures - 1)) * (0.75 + Math.random() / 2);

class HttpError extends Error {
  constructor(status, body) {
    super(body?.detail || `The server answered ${status}.`);
    this.status = status;
    this.body = body;
  }
}
class NetworkError extends Error {}

// XMLHttpRequest rather than fetch: only it reports upload progress.
function send(method, url, { body = null, headers = {}, onProgress = null } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.timeout = CHUNK_TIMEOUT_MS;
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('X-CSRF-Token', csrfToken());
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    if (onProgress) xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {} // a proxy's HTML error page, say
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new HttpError(xhr.status, data));
    };
    xhr.onerror = xhr.ontimeout = xhr.onabort = () => reject(new NetworkError('network'));
    xhr.send(body);
  });
}

// Worth trying again: the network, or the server (restarting, overloaded); not a refusal.
const transient = (error) =>
  error instanceof NetworkError || (error instanceof HttpError && error.status >= 500);

function uploadUi(form) {
  const box = form.querySelector('[data-progress]');
  const bar = box.querySelector('progress');
  const text = box.querySelector('[data-upload-state]');
  const resume = box.querySelector('[data-resume]');
  const button = form.querySelector('[data-testid="upload-button"]');
  let lastSpoken = -1;
  const state = (name, message) => {
    box.hidden = false;
    box.classList.remove('retrying', 'failed', 'done');
    if (name) box.classList.add(name);
    text.textContent = message;
  };
  return {
    start(file) {
      button.disabled = true;
      form.setAttribute('aria-busy', 'true');
      bar.hidden = false;
      bar.value = 0;
      lastSpoken = -1;
      resume.hidden = true;
      state('', `Uploading ${file.name}…`);
    },
    progress(sent, total) {
      const percent = total ? Math.floor((sent / total) * 100) : 100;
      bar.value = percent;
      // Screen readers hear every tenth percent, not every progress event.
      if (Math.floor(percent / 10) !== lastSpoken) {
        lastSpoken = Math.floor(percent / 10);
        state('', `Uploading… ${percent}%`);
      }
    },
    retrying(failures, waitMs) {
      state('retrying', `Connection lost. Retrying… (try ${failures}, in ${Math.round(waitMs / 1000)} s)`);
    },
    paused() {
      state('retrying', 'Upload paused: no connection. It continues when you are back online.');
      resume.hidden = false;
      return new Promise((resolve) => {
        const go = () => {
          resume.hidden = true;
          resume.removeEventListener('click', go);
          window.removeEventListener('online', go);
          resolve();
        };
        resume.addEventListener('click', go);
        window.addEventListener('online', go);
      });
    },
    finished(message, name) {
      button.disabled = false;
      form.removeAttribute('aria-busy');
      // A refused file: the message alone (no bar that looks complete), and the picker
      // emptied so it does not name a file that was not taken.
      if (name === 'failed') {
        bar.hidden = true;
        for (const input of form.querySelectorAll('input[type="file"]')) input.value = '';
      }
      state(name, message);
    },
  };
}

function showArtifact(form, artifact) {
  const current = form.closest('.criterion')?.querySelector('[data-current]');
  if (!current) return;
  const line = document.createElement('p');
  const link = document.createElement('a');
  link.href = artifact.href;
  link.textContent = artifact.filename;
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = ` ${artifact.size} · ${artifact.type_name}`;
  line.append(link, meta);
  current.replaceChildren(line);
  crossOffMissing(form.closest('.criterion')?.dataset.criterionTitle);
}

// The "Still needed" list is rendered with the page; an upload done in place answers one.
function crossOffMissing(title) {
  const list = document.querySelector('[data-missing-list]');
  if (!list || !title) return;
  for (const item of list.querySelectorAll('[data-missing]')) {
    if (item.dataset.missing !== title) continue;
    const separator = item.nextElementSibling;
    if (separator && !separator.dataset.missing) separator.remove();
    item.remove();
  }
  const left = list.querySelectorAll('[data-missing]');
  if (left.length === 0) list.hidden = true;
  else if (!left[left.length - 1].nextElementSibling?.dataset.missing) {
    left[left.length - 1].nextElementSibling?.remove(); // no trailing "; "
  }
}

// Run `step`; on a transient failure, back off and run `recover` (which re-reads the server's
// view) before trying again. Refusals (4xx) are thrown to the caller.
async function persist(ui, step, recover = async () => {}) {
  let failures = 0;
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (!transient(error)) throw error;
      failures += 1;
      if (failures > RETRIES_BEFORE_PAUSE) {
        await ui.paused();
        failures = 0;
      } else {
        const wait = backoff(failures);
        ui.retrying(failures, wait);
        await sleep(wait);
      }
      try {
        await recover();
      } catch (again) {
        if (!transient(again)) throw again;
      }
    }
  }
}

async function upload(form, file) {
  const ui = uploadUi(form);
  ui.start(file);
  const name = encodeURIComponent(file.name); // headers carry Latin-1 only
  try {
    const session = await persist(ui, () =>
      send('POST', '/uploads', {
        body: JSON.stringify({
          submission_id: form.dataset.submissionId,
          criterion_id: form.dataset.criterionId,
          filename: file.name,
          size: file.size,
        }),
        headers: { 'Content-Type': 'application/json', 'X-Filename': name },
      }),
    );
    let offset = session.offset;
    let result = null;
    const where = async () => {
      const now = await send('GET', session.url);
      offset = now.offset;
      if (now.complete) result = now;
    };
    while (!result) {
      const answer = await persist(
        ui,
        async () => {
          if (result) return result; // asking for the offset found it done
          const start = offset;
          // The last, possibly empty, chunk makes the server assemble and check the file.
          const chunk = file.slice(start, Math.min(start + session.chunk_size, file.size));
          try {
            return await send('PATCH', session.url, {
              body: chunk.size ? chunk : null,
              headers: {
                'Content-Type': 'application/offset+octet-stream',
                'Upload-Offset': String(start),
                'X-Filename': name,
              },
              onProgress: (loaded) => ui.progress(start + loaded, file.size),
            });
          } catch (error) {
            if (!(error instanceof HttpError && RESUMABLE.has(error.body?.error))) throw error;
            await where(); // the server is elsewhere: continue from its offset
            if (!result && offset === start) await sleep(RETRY_FIRST_MS); // being assembled
            return result ?? { offset, complete: false };
          }
        },
        where,
      );
      if (answer.complete) result = answer;
      else offset = answer.offset;
      ui.progress(offset, file.size);
    }
    ui.progress(file.size, file.size);
    showArtifact(form, result.artifact);
    ui.finished(`Uploaded ${result.artifact.filename}.`, 'done');
    for (const input of form.querySelectorAll('input[type="file"]')) input.value = '';
  } catch (error) {
    const gone = error instanceof HttpError && error.status === 404;
    ui.finished(gone ? 'This upload expired. Choose the file again.' : error.message, 'failed');
  }
}

function enhanceUploads() {
  for (const form of document.querySelectorAll('form[data-upload]')) {
    const inputs = [...form.querySelectorAll('input[type="file"]')];
    const begin = (file) => {
      if (form.getAttribute('aria-busy') !== 'true') upload(form, file);
    };
    form.addEventListener('submit', (event) => {
      const file = inputs.map((input) => input.files?.[0]).find(Boolean);
      if (!file) return; // the server answers "Choose a file first."
      event.preventDefault();
      begin(file);
    });
    // Picking a file or coming back from the camera is intent enough on a phone, so the
    // Upload button is only for pages without JavaScript.
    const button = form.querySelector('[data-testid="upload-button"]');
    if (button) button.hidden = true;
    for (const input of inputs) {
      input.addEventListener('change', () => input.files?.[0] && begin(input.files[0]));
    }
  }
}

function enhanceCounters() {
  for (const area of document.querySelectorAll('textarea[data-count]')) {
    const counter = area.form?.querySelector('[data-counter]');
    if (!counter) continue;
    const max = Number(counter.dataset.max || area.maxLength);
    const update = () => {
      const used = area.value.length;
      counter.textContent = `${used.toLocaleString('en')} of ${max.toLocaleString('en')} characters`;
    };
    area.addEventListener('input', update);
    update();
  }
}

// The live status: on an event about this packet, refetch status.json and swap the live parts.
function watchPacket(root) {
  const id = root.dataset.submissionId;
  const kinds = new Set(root.dataset.liveKinds.split(' '));
  const region = root.querySelector('[data-live-region]');
  const status = root.querySelector('[data-status]');
  let busy = false;
  let again = false;

  // Once the earner sends a form (submit, withdraw...), its own response decides the next page;
  // a live refresh must not reload over it.
  let leaving = false;
  document.addEventListener('submit', () => {
    leaving = true;
  });

  function apply(data) {
    if (leaving) return;
    if (String(data.editable) !== root.dataset.editable) {
      location.reload(); // the evidence forms come or go: the whole page changes
      return;
    }
    status.dataset.statusKey = data.status.key;
    status.querySelector('[data-status-label]').textContent = data.status.label;
    status.querySelector('[data-status-label]').className = `state state-${data.status.key}`;
    status.querySelector('[data-status-detail]').textContent = data.status.detail;
    const step = ['not_yet', 'passed'].includes(data.status.key) ? 'outcome' : data.status.key;
    for (const li of root.querySelectorAll('[data-step]')) {
      if (li.dataset.step === step) li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
    }
    // Keep anything typed into the region (an appeal being written) across the swap.
    const typed = new Map([...region.querySelectorAll('textarea')].map((t) => [t.name, t.value]));
    region.innerHTML = data.fragment; // server-rendered by the page's own escaped template
    for (const area of region.querySelectorAll('textarea')) {
      if (typed.get(area.name)) area.value = typed.get(area.name);
    }
  }

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const response = await fetch(root.dataset.statusUrl, {
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (response.ok) apply(await response.json());
    } catch {} // offline: the next event or reconnect refreshes
    busy = false;
    if (again) {
      again = false;
      refresh();
    }
  }

  // One websocket per page: bell.js (loaded on every signed-in page) owns it and shows the
  // offline banner; after a reconnect live.js replays what was missed, which lands here.
  subscribe((message) => {
    if (message.type === 'resync') return refresh();
    if (message.type !== 'notification') return;
    const { kind, payload } = message.notification;
    if (kind === 'group.comment' && payload?.submission_id === id) return showComment(root, payload);
    if (kinds.has(kind) && (!payload?.submission_id || payload.submission_id === id)) refresh();
  });
  // Something may have happened between rendering and connecting: look once.
  refresh();
}

// Drafts that never lose work: every change to a reflection or link is PUT to the server after
// a short pause (and at once when the page is hidden or left), so a reload or another device
// finds it. The line under the field says whether it is saved.
const SAVE_PAUSE_MS = 700;

function enhanceAutosave() {
  for (const field of document.querySelectorAll('[data-autosave]')) {
    const said = field.form?.querySelector('[data-save-state]');
    let timer = null;
    let saving = null;
    let dirty = false;
    let failures = 0;
    const tell = (text, name) => {
      if (!said) return;
      said.textContent = text;
      said.dataset.state = name;
    };
    // Until the server has it, what was typed also waits in this browser's storage: a page
    // closed while offline gets it back on the next visit, and sends it then.
    const key = `mcx:draft:${field.dataset.autosave}`;
    const keep = () => {
      try {
        localStorage.setItem(key, field.value);
      } catch {} // storage full or disabled: the server copy is the only one
    };
    const forget = () => {
      try {
        localStorage.removeItem(key);
      } catch {}
    };
    const save = async ({ keepalive = false } = {}) => {
      clearTimeout(timer);
      timer = null;
      if (saving) {
        dirty = true; // saved again when the one in flight is done
        return;
      }
      dirty = false;
      const value = field.value;
      saving = fetch(field.dataset.autosave, {
        method: 'PUT',
        credentials: 'same-origin',
        keepalive,
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          'X-CSRF-Token': csrfToken(),
        },
        body: JSON.stringify({ [field.dataset.autosaveField]: value }),
      })
        .then(async (response) => {
          const data = await response.json().catch(() => ({}));
          if (response.ok) {
            failures = 0;
            if (field.value === value) forget();
            const at = new Date(data.saved_at).toLocaleTimeString([], {
              hour: '2-digit',
              minute: '2-digit',
            });
            const min = Number(field.dataset.minWords || 0);
            const max = Number(field.dataset.maxWords || 0);
            let words = '';
            if (min && max) words = ` ${data.words} words (write ${min}–${max}).`;
            else if (min) words = ` ${data.words} of at least ${min} words.`;
            else if (max) words = ` ${data.words} of at most ${max} words.`;
            tell(data.kept ? `Saved at ${at}.${words}` : `Cleared at ${at}.`, 'saved');
            const card = field.closest('.criterion');
            const current = card?.querySelector('[data-current]');
            if (current && data.kept && current.querySelector('.missing')) {
              const line = document.createElement('p');
              line.className = 'meta';
              line.textContent = 'Saved.';
              current.replaceChildren(line);
              crossOffMissing(card.dataset.criterionTitle);
            }
          } else if (response.status >= 500) {
            throw new Error('server');
          } else {
            tell(`Not saved: ${data.detail || 'the server refused it.'}`, 'refused');
          }
        })
        .catch(() => {
          failures += 1;
          tell('Not saved yet: no connection. Trying again…', 'retrying');
          dirty = true;
        })
        .finally(() => {
          saving = null;
          if (dirty) timer = setTimeout(save, Math.min(30000, SAVE_PAUSE_MS * 2 ** failures));
        });
    };
    field.addEventListener('input', () => {
      keep();
      tell('Saving…', 'pending');
      clearTimeout(timer);
      timer = setTimeout(save, SAVE_PAUSE_MS);
    });
    const flush = () => {
      if (timer) save({ keepalive: true });
    };
    document.addEventListener('visibilitychange', () => document.hidden && flush());
    window.addEventListener('pagehide', flush);
    let unsent = null;
    try {
      unsent = localStorage.getItem(key);
    } catch {}
    if (unsent !== null && unsent !== field.value) {
      field.value = unsent;
      field.dispatchEvent(new Event('input')); // counters follow; saved after the pause
      tell('Restored what you typed while offline; saving…', 'pending');
    } else if (unsent !== null) {
      forget();
    }
  }
}

// A study-group member's comment on one of this packet's artifacts, as it arrives.
function showComment(root, payload) {
  const box = root.querySelector(`[data-comments-for="${CSS.escape(payload.criterion_id)}"]`);
  if (!box) return;
  const list = box.querySelector('[data-comment-list]');
  if (list.querySelector(`[data-comment-id="${CSS.escape(payload.id)}"]`)) return;
  const item = document.createElement('li');
  item.dataset.testid = 'group-comment';
  item.dataset.commentId = payload.id;
  const who = document.createElement('strong');
  who.textContent = payload.author;
  const when = document.createElement('span');
  when.className = 'meta';
  when.textContent = ` ${payload.created_at}`;
  item.append(who, when, document.createElement('br'), payload.body);
  list.append(item);
  box.hidden = false;
}

enhanceUploads();
enhanceCounters();
enhanceAutosave();
if (packet) watchPacket(packet);
