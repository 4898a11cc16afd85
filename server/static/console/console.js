// The staff console: a client of the staff API (API.md, staff section).
// One page; the views are drawn here from the API's JSON. The session
// token lives in sessionStorage and goes out as a Bearer header; the same
// session is kept in the HttpOnly staff cookie the API sets with it.

const root = document.getElementById('console');
const settings = JSON.parse(root.dataset.settings || '{}');
const view = document.getElementById('view');
const announcer = document.getElementById('announce');
const TOKEN = 'dsar.console.token';
const COOKIE = 'dsar.console.cookie'; // set while single sign-on's cookie is the session

let me = null; // the signed-in user {id, email, name, role}

const QUEUE_WORKERS = ['org_owner', 'admin', 'manager'];
const ADMINISTRATORS = ['org_owner', 'admin'];
const CLOSED = settings.closed_statuses || ['completed', 'rejected', 'expired', 'withdrawn'];

// ---- helpers -----------------------------------------------------------

// h builds an element: h('a', {href: '/x', class: 'y'}, 'text', child...).
// Text is always text (never parsed as HTML).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function labelOf(list, value) {
  const o = (list || []).find((x) => x.value === value);
  return o ? o.label : value;
}
const statusLabel = (s) => labelOf(settings.statuses, s);
const typeLabel = (t) => labelOf(settings.request_types, t);
const requestorLabel = (t) => labelOf(settings.requestor_types, t);
const roleLabel = (r) => labelOf(settings.roles, r);

function date(v) {
  if (!v) return '';
  return new Date(v).toISOString().slice(0, 10);
}
function dateTime(v) {
  if (!v) return '';
  return new Date(v).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

function announce(text) {
  announcer.textContent = '';
  // A fresh text node makes screen readers read it even when it repeats.
  setTimeout(() => { announcer.textContent = text; }, 50);
}

let nextId = 0;
const uid = (p) => `${p}-${++nextId}`;

// field builds a label and a control; the control gets an id and name.
function field(labelText, control, hint) {
  const id = control.id || uid(control.name || 'f');
  control.id = id;
  return h('div', {class: 'field'},
    h('label', {for: id}, labelText, hint ? h('span', {class: 'hint'}, ' ', hint) : null),
    control);
}

function select(name, options, value, anyLabel) {
  const s = h('select', {name});
  if (anyLabel !== undefined) s.append(h('option', {value: ''}, anyLabel));
  for (const o of options) s.append(h('option', {value: o.value, selected: o.value === value}, o.label));
  return s;
}

// humanBytes says a size as the server's pages do (server/upload.go).
function humanBytes(n) {
  const MiB = 1 << 20;
  if (n >= MiB) return n % MiB === 0 ? `${n / MiB} MiB` : `${(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${Math.floor(n / 1024)} KiB`;
  return `${n} bytes`;
}

// outcomesFor are the outcomes a task of a request of type may end with
// (the server's settings give them by type; the API refuses any other).
const outcomesFor = (type) => {
  const allowed = (settings.task_outcomes_for || {})[type];
  return (settings.task_outcomes || []).filter((o) => !allowed || allowed.includes(o.value));
};

// ---- the API -------------------------------------------------------------

class APIError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `the server answered ${status}`);
    this.status = status;
    this.code = e.code || '';
    this.fields = e.fields || {};
  }
}

async function api(method, path, body, extraHeaders) {
  const headers = {Accept: 'application/json', ...(extraHeaders || {})};
  const token = sessionStorage.getItem(TOKEN);
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    // The Bearer token is the session when there is one; without one (single
    // sign-on sets only the cookie) the cookie is. Either way the answers'
    // cookies are kept: every new session's (after the password, the second
    // factor or its enrolment) replaces the last, and signing out clears it,
    // so the staff cookie is always the console's session, for the Temporal
    // UI's calls to /codec (README, "Running in production").
    res = await fetch(path, {method, headers, body: payload, credentials: 'same-origin'});
  } catch (err) {
    throw new APIError(0, {error: {message: 'The service could not be reached. Check the connection and try again.'}});
  }
  if (res.status === 204) return null;
  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) data = await res.json();
  if (!res.ok) {
    const err = new APIError(res.status, data);
    if (res.status === 401 && path !== '/api/v1/sessions') {
      signedOut('Your session has ended. Please sign in again.');
    }
    throw err;
  }
  return data;
}

// blobs are the object URLs of the files shown, freed when the view changes.
const blobs = [];

// fetchBlob fetches a file with the Bearer header and returns a blob URL,
// its type and the name the server gives it ('' if none).
async function fetchBlob(path) {
  const res = await fetch(path, {headers: {Authorization: `Bearer ${sessionStorage.getItem(TOKEN)}`}, credentials: 'omit'});
  if (!res.ok) {
    let data = null;
    if ((res.headers.get('Content-Type') || '').includes('json')) data = await res.json();
    throw new APIError(res.status, data);
  }
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  blobs.push(url);
  return {url, type: blob.type, name: attachmentName(res.headers.get('Content-Disposition'))};
}

// attachmentName is the file name of a Content-Disposition header, as Go's
// mime.FormatMediaType writes it (a token, a quoted string, or RFC 2231's
// filename* for a name beyond ASCII); '' if it has none.
function attachmentName(cd) {
  let m = /filename\*=utf-8''([^;]+)/i.exec(cd || '');
  if (m) {
    try { return decodeURIComponent(m[1]); } catch (err) { /* not percent-encoded: try the plain name */ }
  }
  m = /filename="((?:[^"\\]|\\.)*)"/i.exec(cd || '');
  if (m) return m[1].replace(/\\(.)/g, '$1');
  m = /filename=([^;\s]+)/i.exec(cd || '');
  return m ? m[1] : '';
}

// downloadLink is a link to a file of the API. A plain link would go
// without the session's Bearer header: a click fetches the file with it
// and saves it under name (else the server's name); done is announced.
function downloadLink(path, text, {name, done, ...attrs} = {}) {
  const a = h('a', {...attrs, href: path, download: name || true}, text);
  let shown = null; // the error of the last try
  a.addEventListener('click', async (ev) => {
    ev.preventDefault();
    if (a.hasAttribute('aria-busy')) return;
    a.setAttribute('aria-busy', 'true');
    if (shown) { shown.remove(); shown = null; }
    try {
      const f = await fetchBlob(path);
      const saved = name || f.name || 'download';
      const save = h('a', {href: f.url, download: saved, hidden: true});
      document.body.append(save);
      save.click();
      save.remove();
      announce(done || `${saved} is saved.`);
    } catch (err) {
      if (!(err instanceof APIError)) console.error(err);
      shown = errorBox(err);
      a.after(shown);
    } finally {
      a.removeAttribute('aria-busy');
    }
  });
  return a;
}

// showError puts the API's error beside what caused it: the message in the
// form's error box, each named field marked and explained next to its control.
function showError(form, err) {
  clearErrors(form);
  let box = form.querySelector('.form-error');
  if (!box) {
    box = h('div', {class: 'form-error'});
    form.prepend(box);
  }
  let msg = err.message;
  if (err.status === 409) msg = `Not possible now: ${err.message}`;
  box.hidden = false;
  box.className = 'form-error errors';
  box.setAttribute('role', 'alert');
  box.replaceChildren(h('p', {}, msg));
  const names = Object.keys(err.fields || {});
  if (names.length) {
    const ul = h('ul');
    for (const name of names) {
      const control = form.querySelector(`[name="${CSS.escape(name)}"]`);
      // A group of checkboxes is marked as a whole, by its fieldset.
      const group = control && (control.type === 'checkbox' || control.type === 'radio') ? control.closest('fieldset') : null;
      const target = group || control;
      let label = name;
      if (group) label = group.querySelector('legend').textContent;
      else if (control && control.labels && control.labels.length) label = control.labels[0].textContent;
      ul.append(h('li', {}, `${label}: ${err.fields[name]}`));
      if (target) {
        target.setAttribute('aria-invalid', 'true');
        const note = h('p', {class: 'field-error', id: uid('err')}, err.fields[name]);
        target.setAttribute('aria-describedby', note.id);
        (group || control.closest('.field') || control.parentElement).append(note);
      }
    }
    box.append(ul);
  }
}

function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) el.remove();
  for (const el of form.querySelectorAll('[aria-invalid]')) {
    el.removeAttribute('aria-invalid');
    el.removeAttribute('aria-describedby');
  }
  const box = form.querySelector('.form-error');
  if (box) { box.hidden = true; box.replaceChildren(); }
}

// actionForm wires a form to an API call: on submit it calls send(form),
// shows the error beside the form, or announces done and calls after().
function actionForm(form, send, done, after) {
  form.noValidate = true; // the API checks, and its answer is shown beside each field
  if (!form.querySelector('.form-error')) form.prepend(h('div', {class: 'form-error', hidden: true}));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = ev.submitter || form.querySelector('button[type=submit]');
    clearErrors(form);
    form.setAttribute('aria-busy', 'true');
    if (button) button.disabled = true;
    try {
      const out = await send(form, button);
      announce(typeof done === 'function' ? done(out) : done);
      if (after) await after(out);
    } catch (err) {
      if (!(err instanceof APIError)) console.error(err); // a bug of the console, not an answer of the API
      showError(form, err);
    } finally {
      form.removeAttribute('aria-busy');
      if (button && button.isConnected) button.disabled = false;
    }
  });
  return form;
}

function errorBox(err) {
  return h('div', {class: 'errors', role: 'alert'}, h('p', {}, err.message));
}

// ---- sessions ------------------------------------------------------------

// showOnly shows one of the page's top sections (signin, mfa, enrol, app).
function showOnly(id) {
  for (const s of ['signin', 'mfa', 'enrol', 'app']) document.getElementById(s).hidden = s !== id;
}

function signedOut(message) {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(COOKIE);
  me = null;
  showOnly('signin');
  view.replaceChildren();
  if (message) {
    const form = document.getElementById('signin-form');
    showError(form, new Error(message));
  }
  if (settings.password_login === false) {
    document.getElementById('signin-form').hidden = true;
    document.getElementById('sso-link').focus();
  } else {
    document.getElementById('signin-email').focus();
  }
}

function signedIn(user) {
  me = user;
  showOnly('app');
  document.getElementById('whoami').textContent = `${user.name || user.email} (${roleLabel(user.role)})`;
  for (const li of document.querySelectorAll('[data-roles]')) {
    li.hidden = !li.dataset.roles.split(' ').includes(user.role);
  }
}

// session takes a new session's answer: a full one signs in; a partial one
// asks for what it owes (a code, or setting up a second factor).
async function session(out) {
  if (out.token) {
    sessionStorage.setItem(TOKEN, out.token);
    sessionStorage.removeItem(COOKIE);
  }
  if (out.mfa === 'totp') {
    showOnly('mfa');
    document.getElementById('mfa-code').focus();
  } else if (out.mfa === 'enrol') {
    await enrol();
  } else {
    signedIn(out.user);
    await route(true);
  }
}

// enrol starts setting up the authenticator app: the QR code and the key.
async function enrol() {
  const out = await api('POST', '/api/v1/me/totp');
  document.getElementById('enrol-qr').src = out.qr_png;
  document.getElementById('enrol-secret').textContent = out.secret;
  document.getElementById('enrol-setup').hidden = false;
  document.getElementById('recovery').hidden = true;
  showOnly('enrol');
  document.getElementById('enrol-code').focus();
}

// offerCaptcha puts a fresh captcha into the sign-in form, for an account
// that failed too often: the server asks for one by naming the field
// captcha. Each solution works once, so a used one is replaced.
async function offerCaptcha(form) {
  for (const old of form.querySelectorAll('.signin-captcha')) old.remove();
  if (!document.querySelector('link[href="/static/altcha/altcha.css"]')) {
    document.head.append(h('link', {rel: 'stylesheet', href: '/static/altcha/altcha.css'}));
  }
  await import('/static/altcha/altcha.js');
  const widget = h('altcha-widget', {challengeurl: '/api/v1/captcha', name: 'captcha', workerurl: '/static/altcha/worker.js'});
  form.querySelector('button[type=submit]').closest('p').before(h('div', {class: 'signin-captcha'}, widget));
}

actionForm(document.getElementById('signin-form'), async (form) => {
  const body = {email: form.email.value, password: form.password.value};
  const solved = form.querySelector('input[name="captcha"]');
  if (solved && solved.value) body.captcha = solved.value;
  let out;
  try {
    out = await api('POST', '/api/v1/sessions', body);
  } catch (err) {
    if (body.captcha || (err.fields && err.fields.captcha)) await offerCaptcha(form);
    throw err;
  }
  for (const old of form.querySelectorAll('.signin-captcha')) old.remove();
  form.password.value = '';
  return out;
}, (out) => (out.mfa ? 'Password accepted.' : `Signed in as ${out.user.name || out.user.email}.`), session);

actionForm(document.getElementById('mfa-form'), async (form) => {
  const code = form.code.value.trim();
  const body = /^[0-9]{6}$/.test(code) ? {code} : {recovery_code: code};
  const out = await api('POST', '/api/v1/sessions/current/second-factor', body);
  form.code.value = '';
  return out;
}, (out) => `Signed in as ${out.user.name || out.user.email}.`, session);

let enrolled = null; // the full session the confirmation answered, shown after the recovery codes
actionForm(document.getElementById('enrol-form'), async (form) => {
  const out = await api('POST', '/api/v1/me/totp/confirmation', {code: form.code.value.trim()});
  form.code.value = '';
  return out;
}, 'Two-step sign-in is on. Save your recovery codes.', (out) => {
  enrolled = out;
  if (out.token) sessionStorage.setItem(TOKEN, out.token);
  document.getElementById('recovery-codes').replaceChildren(...out.recovery_codes.map((c) => h('li', {}, h('code', {}, c))));
  document.getElementById('enrol-setup').hidden = true;
  document.getElementById('recovery').hidden = false;
  document.getElementById('recovery-done').focus();
});

document.getElementById('recovery-done').addEventListener('click', async () => {
  const out = enrolled && enrolled.user ? enrolled : await api('GET', '/api/v1/sessions/current');
  enrolled = null;
  signedIn(out.user);
  await route(true);
});

async function signOut() {
  try { await api('DELETE', '/api/v1/sessions/current'); } catch (err) { /* the session may be gone already */ }
  signedOut();
  announce('Signed out.');
}
document.getElementById('signout').addEventListener('click', signOut);
for (const b of document.querySelectorAll('[data-cancel]')) b.addEventListener('click', signOut);

// ---- routing -------------------------------------------------------------

function go(url) {
  history.pushState(null, '', url);
  route(true);
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[href^="/console"]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  go(a.getAttribute('href'));
});
window.addEventListener('popstate', () => route(true));

// generation counts the views drawn, so that a slow view does not draw
// over a newer one the user went to meanwhile.
let generation = 0;

// operatorView is an operator's landing page: they read the requests'
// workflows in the Temporal UI (its codec decodes for them once signed in
// here), not the queue, which holds personal data.
function operatorView() {
  const ui = `${settings.temporal_ui}/namespaces/${encodeURIComponent(settings.namespace)}/workflows`;
  view.replaceChildren(
    h('h1', {}, 'Operations'),
    h('p', {}, 'You are signed in as an operator. The requests\' workflows are in the ',
      h('a', {href: ui, target: '_blank', rel: 'noopener'}, 'Temporal UI'),
      '; it can read them now that you are signed in here. The queue and the requests\' personal data are for the privacy team.'),
    h('p', {}, 'The commands for on-call (finding a request\'s workflow, why it waits, retrying a step) are in the project\'s docs/operations.md.'));
}

async function route(focus) {
  if (!me) return;
  const gen = ++generation;
  while (blobs.length) URL.revokeObjectURL(blobs.pop());
  const path = location.pathname.replace(/\/+$/, '');
  let m;
  let nav = 'queue';
  try {
    if (path === '/console/requests/new') {
      await recordView();
    } else if ((m = path.match(/^\/console\/requests\/([0-9a-f-]{36})$/))) {
      await requestView(m[1]);
    } else if (path === '/console/tasks') {
      nav = 'tasks';
      await tasksView();
    } else if (path === '/console/appeals') {
      nav = 'appeals';
      await appealsView();
    } else if (path === '/console/data-sources') {
      nav = 'data-sources';
      await dataSourcesView();
    } else if (path === '/console/reports') {
      nav = 'reports';
      await reportsView();
    } else if (path === '/console/users') {
      nav = 'users';
      await usersView();
    } else if (path === '/console/password') {
      nav = 'password';
      passwordView();
    } else if (me.role === 'operator') {
      operatorView(); // operators read workflows in the Temporal UI, not the queue
    } else {
      await queueView();
    }
  } catch (err) {
    if (!(err instanceof APIError)) console.error(err);
    const title = err.status === 404 ? 'Not found' : err.status === 403 ? 'Not for your role' : 'Something went wrong';
    if (me && gen === generation) view.replaceChildren(h('h1', {}, title), errorBox(err), h('p', {}, h('a', {href: '/console'}, 'Back to the requests')));
  }
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (focus && gen === generation) {
    const h1 = view.querySelector('h1');
    if (h1) { h1.tabIndex = -1; h1.focus(); document.title = `${h1.textContent} · Staff console`; }
  }
}

// ---- my password -----------------------------------------------------------

// passwordView is the signed-in user's own password change: the current
// password and the new one; the server ends every other session.
function passwordView() {
  const form = h('form', {id: 'password-form'},
    field('Current password', h('input', {type: 'password', name: 'current_password', autocomplete: 'current-password'})),
    field('New password', h('input', {type: 'password', name: 'new_password', autocomplete: 'new-password'}),
      '(at least 12 characters, not a common password; a phrase of a few words is good)'),
    h('p', {}, h('button', {type: 'submit'}, 'Change my password')));
  actionForm(form, async (f) => {
    await api('PUT', '/api/v1/me/password', {current_password: f.current_password.value, new_password: f.new_password.value});
    f.reset();
  }, 'Your password is changed. You were signed out everywhere else.', () => {
    for (const old of view.querySelectorAll('.notice')) old.remove();
    form.after(h('div', {class: 'notice', role: 'status'}, h('p', {}, 'Your password is changed. You were signed out everywhere else.')));
  });
  view.replaceChildren(h('h1', {}, 'Change your password'),
    h('p', {}, 'Changing it signs you out of every other browser and device.'), form);
}

// ---- the queue -------------------------------------------------------------

const FILTERS = ['q', 'status', 'request_type', 'requestor_type', 'country', 'submitted_from', 'submitted_to', 'due_before', 'overdue',
  'awaiting_reply', 'handler_id', 'data_source_id', 'sort', 'include_unverified'];

async function queueView() {
  const params = new URLSearchParams(location.search);
  const heading = h('h1', {}, me.role === 'source_owner' ? 'Requests with my tasks' : 'Requests');
  const dash = h('section', {'aria-labelledby': 'dash-title', class: 'dashboard'}, h('h2', {id: 'dash-title'}, 'At a glance'));
  const filterForm = h('form', {id: 'filters', class: 'filters', role: 'search', 'aria-label': 'Filter the requests'});
  const byDeadline = params.get('sort') === 'deadline';
  const results = h('section', {'aria-labelledby': 'results-title'}, h('h2', {id: 'results-title'}, byDeadline ? 'Soonest deadline first' : 'Newest first'));
  const record = QUEUE_WORKERS.includes(me.role)
    ? h('p', {}, h('a', {href: '/console/requests/new', id: 'record-link'}, 'Record a request received by phone, post, email or in person'))
    : null;
  view.replaceChildren(heading, record || '', dash, filterForm, results);

  let sources = [];
  if (QUEUE_WORKERS.includes(me.role)) {
    try { sources = (await api('GET', '/api/v1/data-sources')).items || []; } catch (err) { sources = []; }
  }
  const counts = await api('GET', '/api/v1/requests/counts');
  const openStatuses = (settings.statuses || []).map((x) => x.value).filter((x) => !CLOSED.includes(x)).join(',');
  const unassigned = 'awaiting_identity,identity_verified';
  const link = (label, n, query) => h('li', {}, h('a', {href: '/console' + (query ? '?' + query : '')},
    h('span', {class: 'count'}, String(n)), ' ', label));
  dash.append(h('ul', {class: 'counts'},
    link('open', counts.open, 'status=' + openStatuses),
    link('unassigned', counts.unassigned, 'status=' + unassigned),
    link('overdue', counts.overdue, 'overdue=true'),
    link('awaiting a reply', counts.awaiting_reply || 0, 'awaiting_reply=true'),
    ...(settings.statuses || []).map((s) => link(s.label, (counts.by_status || {})[s.value] || 0, 'status=' + s.value))));

  const v = (k) => params.get(k) || '';
  filterForm.append(
    h('div', {class: 'form-error', hidden: true}),
    h('div', {class: 'filter-grid'},
      field('Search', h('input', {type: 'search', name: 'q', value: v('q'), autocomplete: 'off', placeholder: 'DSR-0B5F7A3E'}),
        '(a reference or a whole email address)'),
      field('Status', select('status', [{value: openStatuses, label: 'Open (any status before closing)'},
        {value: unassigned, label: 'Unassigned (identity to check, or sources to assign)'}, ...(settings.statuses || [])], v('status'), 'Any')),
      field('Request type', select('request_type', settings.request_types || [], v('request_type'), 'Any')),
      field('Requestor', select('requestor_type', settings.requestor_types || [], v('requestor_type'), 'Any')),
      field('Country', h('input', {type: 'text', name: 'country', value: v('country'), maxlength: 2, size: 3, placeholder: 'DE', autocomplete: 'off'})),
      field('Submitted from', h('input', {type: 'date', name: 'submitted_from', value: v('submitted_from')})),
      field('Submitted to', h('input', {type: 'date', name: 'submitted_to', value: v('submitted_to')})),
      field('Overdue', select('overdue', [{value: 'true', label: 'Overdue only'}, {value: 'false', label: 'Not overdue'}], v('overdue'), 'Any')),
      sources.length ? field('Data source', select('data_source_id', sources.map((s) => ({value: s.id, label: s.name})), v('data_source_id'), 'Any')) : null,
      field('Due before', h('input', {type: 'date', name: 'due_before', value: v('due_before')})),
      field('Messages', select('awaiting_reply', [{value: 'true', label: 'Awaiting our reply'}, {value: 'false', label: 'Nothing unread'}], v('awaiting_reply'), 'Any')),
      QUEUE_WORKERS.includes(me.role) ? field('Handler', select('handler_id', [{value: me.id, label: 'Me'}, ...(v('handler_id') && v('handler_id') !== me.id
        ? [{value: v('handler_id'), label: 'The one chosen'}] : [])], v('handler_id'), 'Anyone')) : null,
      field('Order', select('sort', [{value: 'deadline', label: 'Soonest deadline first'}], v('sort'), 'Newest first')),
      h('div', {class: 'field choice'}, h('input', {type: 'checkbox', name: 'include_unverified', value: 'true', id: 'include-unverified',
        checked: v('include_unverified') === 'true'}),
      h('label', {for: 'include-unverified', class: 'choice'}, 'Show submissions whose email is not verified'))),
    h('p', {class: 'buttons'}, h('button', {type: 'submit'}, 'Apply filters'), ' ',
      h('a', {href: '/console', class: 'button secondary'}, 'Clear')));
  filterForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const k of FILTERS) {
      const el = filterForm.elements[k];
      if (el && el.type === 'checkbox') {
        if (el.checked) q.set(k, 'true');
      } else if (el && el.value.trim()) q.set(k, k === 'country' ? el.value.trim().toUpperCase() : el.value.trim());
    }
    go('/console' + (q.toString() ? '?' + q : ''));
  });

  const tbody = h('tbody');
  const table = h('table', {class: 'queue'},
    h('caption', {class: 'visually-hidden'}, byDeadline ? 'Requests, soonest deadline first' : 'Requests, newest first'),
    h('thead', {}, h('tr', {}, ['Reference', 'Submitted', 'Type', 'Requestor', 'Country', 'Status', 'Due', 'Handler', ''].map((c) => h('th', {scope: 'col'}, c)))),
    tbody);
  const more = h('button', {type: 'button', class: 'secondary', hidden: true}, 'Load more');
  const summary = h('p', {class: 'summary'});
  results.append(h('p', {class: 'buttons'}, exportLink(params)), summary, table, h('p', {}, more));

  let cursor = null;
  let shown = 0;
  const load = async () => {
    const q = new URLSearchParams();
    for (const k of FILTERS) if (params.get(k)) q.set(k, params.get(k));
    q.set('limit', '50');
    if (cursor) q.set('cursor', cursor);
    let page;
    try {
      page = await api('GET', '/api/v1/requests?' + q);
    } catch (err) {
      if (err.status === 422) showError(filterForm, err);
      else results.append(errorBox(err));
      return;
    }
    for (const r of page.items) {
      tbody.append(h('tr', {'data-id': r.id, class: [r.overdue ? 'overdue' : '', r.awaiting_reply ? 'awaiting' : ''].join(' ').trim() || null},
        h('td', {}, h('span', {class: 'reference'}, r.reference)),
        h('td', {}, date(r.submitted_at)),
        h('td', {}, typeLabel(r.request_type)),
        h('td', {}, requestorLabel(r.requestor_type)),
        h('td', {}, r.country + (r.region ? ` (${r.region})` : '')),
        h('td', {}, h('span', {class: 'status status-' + r.status}, statusLabel(r.status)),
          r.awaiting_reply ? h('span', {class: 'badge awaiting'}, 'awaiting reply') : null),
        h('td', {}, date(r.deadline), r.overdue ? h('span', {class: 'badge overdue'}, ' overdue') : null),
        h('td', {class: 'handler'}, r.handler_id === me.id ? 'Me' : (r.handler_name || '')),
        h('td', {}, h('a', {href: `/console/requests/${r.id}`, 'aria-label': `Open request ${r.reference}, ${typeLabel(r.request_type)} of ${date(r.submitted_at)}`}, 'Open'))));
    }
    shown += page.items.length;
    cursor = page.next_cursor;
    more.hidden = !cursor;
    summary.textContent = shown === 0 ? 'No request matches.' : `${shown} request${shown === 1 ? '' : 's'} shown${cursor ? ', more below' : ''}.`;
    return page.items.length;
  };
  more.addEventListener('click', async () => {
    more.disabled = true;
    const n = await load();
    more.disabled = false;
    if (n) announce(`${n} more requests loaded.`);
  });
  await load();
}

// exportLink offers the queue's requests, as filtered, as a CSV file. The
// file is fetched with the session's token (a plain link would carry none)
// and saved from memory.
function exportLink(params) {
  const q = new URLSearchParams();
  for (const k of FILTERS) if (params.get(k)) q.set(k, params.get(k));
  const path = '/api/v1/requests.csv' + (q.toString() ? '?' + q : '');
  return downloadLink(path, 'Export CSV', {class: 'button secondary', id: 'export-csv',
    name: `requests-${new Date().toISOString().slice(0, 10)}.csv`, done: 'The requests are saved as a CSV file.'});
}

// ---- one request -----------------------------------------------------------

async function requestView(id) {
  const gen = generation;
  const r = await api('GET', `/api/v1/requests/${id}`);
  const worker = QUEUE_WORKERS.includes(me.role);
  const open = !CLOSED.includes(r.status);
  // After an action the view is drawn anew; focus goes to the new status.
  const reload = async () => {
    await requestView(id);
    const st = document.getElementById('request-status');
    if (st) st.focus();
  };

  const side = []; // the actions and the messages, beside the request on a wide screen
  const head = [
    h('p', {class: 'crumbs'}, h('a', {href: '/console'}, '← All requests')),
    h('h1', {}, `${typeLabel(r.request_type)} request`),
    h('p', {class: 'lead'}, 'Status: ', h('strong', {id: 'request-status', tabindex: -1, class: 'status status-' + r.status, 'data-status': r.status}, statusLabel(r.status)),
      r.overdue ? h('span', {class: 'badge overdue'}, 'overdue') : null),
  ];
  const parts = [];

  const facts = h('dl', {class: 'facts'});
  const fact = (k, ...v) => facts.append(h('dt', {}, k), h('dd', {}, ...v));
  fact('Reference', h('strong', {id: 'request-reference'}, r.reference || r.id), ' ', h('code', {class: 'request-id'}, r.id));
  fact('Handler', h('span', {id: 'request-handler'}, r.handler_name || 'Nobody yet'));
  fact('Requestor', requestorLabel(r.requestor_type));
  fact('Country', r.country + (r.region ? ` (${r.region})` : ''));
  fact('Writes in', h('span', {id: 'request-language', lang: r.language || 'en'}, r.language_name || 'English'),
    r.language && r.language !== 'en' ? h('span', {class: 'hint'}, ' (their mail and pages are in this language; write your messages and reasons in it too)') : '');
  const manual = r.channel && r.channel !== 'form';
  fact('Arrived by', h('span', {id: 'request-channel', 'data-channel': r.channel || 'form'}, r.channel_label || r.channel || 'Web form'));
  fact(manual ? 'Received' : 'Submitted', dateTime(r.submitted_at));
  if (r.pii_erased) {
    fact('Requester', h('em', {}, 'The personal data of this request has been erased.'));
  } else {
    fact('Name', `${r.first_name} ${r.last_name}`);
    fact('Email', r.email);
    fact('Description', h('span', {class: 'pre'}, r.description || '—'));
  }
  fact('Email verified', r.email_verified_at ? dateTime(r.email_verified_at) : 'not yet');
  fact('Identity', r.identity_required === false ? 'not required: the law forbids asking for proof of identity for this request'
    : r.identity_verified === true ? `verified ${dateTime(r.identity_decided_at)}`
      : r.identity_verified === false ? `refused ${dateTime(r.identity_decided_at)}` : 'not decided');
  if (r.identity_note) fact('Identity note', r.identity_note);
  if (r.closed_at) fact('Closed', dateTime(r.closed_at));
  if (r.close_reasons && r.close_reasons.length) fact('Reasons', r.close_reasons.map((c) => labelOf(settings.reject_reasons, c)).join(' '));
  if (r.close_note) fact('Closing note', r.close_note);
  if (settings.temporal_ui && me.role !== 'source_owner') {
    fact('Workflow', h('a', {href: `${settings.temporal_ui}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/dsar-${r.id}`,
      target: '_blank', rel: 'noopener'}, 'Open in the Temporal UI'));
  }
  parts.push(h('section', {'aria-labelledby': 'facts-title'}, h('h2', {id: 'facts-title'}, 'The request'), facts));

  // The deadline and why.
  const due = h('dl', {class: 'facts'});
  due.append(h('dt', {}, 'Due'), h('dd', {id: 'deadline'}, date(r.deadline), r.overdue ? ' (overdue)' : ''));
  due.append(h('dt', {}, 'Why this due date'), h('dd', {id: 'deadline-why'}, r.deadline_why || r.deadline_reason));
  if (r.deadline_rule && r.deadline_rule.source) due.append(h('dt', {}, 'Law'), h('dd', {id: 'deadline-source'}, r.deadline_rule.source));
  if (r.acknowledge_by) {
    due.append(h('dt', {}, 'Receipt confirmed'), h('dd', {id: 'acknowledged'}, r.acknowledged_at
      ? `${dateTime(r.acknowledged_at)} (due by ${date(r.acknowledge_by)})` : `not yet: due by ${date(r.acknowledge_by)}`));
  }
  if (r.paused) {
    due.append(h('dt', {}, 'Clock stopped'), h('dd', {id: 'paused'}, `since ${dateTime(r.paused.since)}, ${r.paused.reason_label}`));
  }
  if (r.extension_notice_by && !r.extended) {
    due.append(h('dt', {}, 'Extension notice'), h('dd', {}, `an extension must be noticed by ${date(r.extension_notice_by)}`));
  }
  if (r.extended && r.extension) {
    due.append(h('dt', {}, 'Extension'), h('dd', {}, `${r.extension.days} days in all, latest reason: ${r.extension.reason}`, ` (from ${date(r.original_deadline)})`));
  }
  // The rule may allow extending again until the latest deadline.
  const canExtend = !!(r.extension && r.extension.latest_deadline && new Date(r.deadline) < new Date(r.extension.latest_deadline));
  if (canExtend) {
    due.append(h('dt', {}, r.extended ? 'Further extension allowed' : 'Extension allowed'), h('dd', {},
      r.extended ? `until ${date(r.extension.latest_deadline)}` : periodWords(r.extension.max_extension),
      !r.extended ? ` (at the latest ${date(r.extension.latest_deadline)})` : ''));
  }
  parts.push(h('section', {'aria-labelledby': 'due-title'}, h('h2', {id: 'due-title'}, 'Deadline'), due));

  // The identity document and the decision.
  if (worker && r.status === 'awaiting_identity') {
    const sec = h('section', {'aria-labelledby': 'id-title'}, h('h2', {id: 'id-title'}, 'Identity'));
    if (r.identity_document) {
      const shown = h('div', {class: 'document', 'aria-live': 'polite'});
      const btn = h('button', {type: 'button', class: 'secondary', id: 'show-document'}, 'View the identity document');
      btn.addEventListener('click', async () => {
        btn.disabled = true;
        try {
          const doc = await fetchBlob(`/api/v1/requests/${id}/identity-document`);
          if (doc.type.startsWith('image/')) {
            shown.replaceChildren(h('img', {src: doc.url, alt: 'The identity document the requester uploaded', id: 'document-image'}));
          } else {
            shown.replaceChildren(h('a', {href: doc.url, target: '_blank', rel: 'noopener', download: `identity-document-${id}.pdf`}, 'Open the identity document (PDF)'));
          }
          announce('The identity document is shown.');
        } catch (err) {
          shown.replaceChildren(errorBox(err));
        } finally {
          btn.disabled = false;
        }
      });
      sec.append(h('p', {}, `Uploaded ${dateTime(r.identity_document.uploaded_at)}, ${r.identity_document.content_type}, ${Math.ceil(r.identity_document.size / 1024)} KB. Viewing it is recorded in the audit trail.`),
        h('p', {}, btn), shown);
    } else {
      sec.append(h('p', {}, 'No identity document was uploaded.'));
    }
    const note = h('textarea', {name: 'note', rows: 2});
    const form = h('form', {id: 'identity-form'},
      field('Note (for the audit trail)', note),
      h('p', {class: 'buttons'},
        h('button', {type: 'submit', value: 'true', id: 'verify-identity'}, 'Identity verified'), ' ',
        h('button', {type: 'submit', value: 'false', class: 'danger', id: 'refuse-identity'}, 'Refuse identity')));
    actionForm(form, (f, button) => api('POST', `/api/v1/requests/${id}/identity-verification`,
      {verified: button.value === 'true', note: f.note.value}),
    (out) => `Identity decided. Status: ${statusLabel(out.status)}.`, reload);
    sec.append(form);
    parts.push(sec);
  }

  // Tasks.
  const tasks = h('section', {'aria-labelledby': 'tasks-title'}, h('h2', {id: 'tasks-title'}, 'Data source tasks'));
  if (!r.tasks || r.tasks.length === 0) {
    tasks.append(h('p', {}, 'No data source is assigned yet.'));
  } else {
    const tb = h('tbody');
    for (const t of r.tasks) {
      const cell = h('td', {});
      if (t.status === 'declined') {
        cell.append(h('p', {class: 'declined'}, h('strong', {}, 'Declined: '), t.decline_reason));
      } else if (t.status === 'completed') {
        cell.append(h('p', {}, h('span', {class: 'outcome'}, t.outcome_label || 'Done'), recordWords(t.record_count)),
          t.note ? h('p', {}, t.note) : '');
      }
      const auto = t.automation;
      const running = auto && !['done', 'manual'].includes(auto.state);
      if (auto) cell.append(automationBox(id, t, open && t.status !== 'completed', reload));
      const uploads = open && t.status === 'open' && !running;
      const files = fileList(t, t.files || [], uploads ? 'No file attached yet.' : null);
      cell.append(files.el);
      if (open && t.status !== 'completed' && !running) cell.append(await taskForms(id, t, {worker, requestType: r.request_type, files: uploads ? files : null, reload}));
      tb.append(h('tr', {'data-source': t.data_source_id},
        h('th', {scope: 'row'}, t.name), h('td', {class: 'task-status'}, taskStatusLabel(t.status)),
        h('td', {}, dateTime(t.assigned_at)), h('td', {}, dateTime(t.completed_at)), cell));
    }
    tasks.append(h('table', {},
      h('thead', {}, h('tr', {}, ['Data source', 'Status', 'Assigned', 'Completed', 'Outcome and actions'].map((c) => h('th', {scope: 'col'}, c)))), tb));
  }
  parts.push(tasks);
  // The access package, drawn once the audit trail names its approver.
  const packageAt = worker && r.package_required ? parts.length : -1;

  if (worker && r.closing_mail_failed) {
    const sec = h('section', {'aria-labelledby': 'closing-mail-title', id: 'closing-mail'},
      h('h2', {id: 'closing-mail-title'}, 'The closing mail was not delivered'),
      h('p', {}, 'The requester has not been told how the request ended. Their address is kept for a few days so you can ' +
        'send the mail again once the cause is fixed; after that it is erased like the rest of their details.'));
    const form = h('form', {id: 'closing-mail-form'}, h('button', {type: 'submit'}, 'Send the closing mail again'));
    actionForm(form, () => api('POST', `/api/v1/requests/${id}/closing-mail`), 'The closing mail is being sent again.', reload);
    sec.append(form);
    parts.push(sec);
  }
  // An opt-out accepted at submission is acted on before anyone confirms
  // its address: a mistyped one may be corrected until it is confirmed.
  const acceptedUnconfirmed = r.identity_required === false && !r.email_verified_at &&
    r.status !== 'pending_email_verification' && !CLOSED.includes(r.status);
  if (worker && (r.status === 'pending_email_verification' || acceptedUnconfirmed) && !r.pii_erased) {
    const sec = h('section', {'aria-labelledby': 'email-title'}, h('h2', {id: 'email-title'}, 'Correct the email address'),
      h('p', {}, acceptedUnconfirmed
        ? 'Nobody has confirmed this address yet. If it was mistyped, correct it: the links sent to the old one stop working, ' +
          'and this one is told the request is acted on, with a new link. The request stays where it is.'
        : 'If the address was mistyped, correct it: the links sent to the old one stop working and a new link goes to this one.'));
    const form = h('form', {id: 'email-form', class: 'inline-form'},
      field('Email address', h('input', {type: 'email', name: 'email', autocomplete: 'off'})),
      h('button', {type: 'submit', class: 'secondary'}, acceptedUnconfirmed ? 'Correct and tell the new address' : 'Correct and send a new link'));
    actionForm(form, (f) => api('PUT', `/api/v1/requests/${id}/email`, {email: f.email.value}),
      acceptedUnconfirmed ? 'Address corrected; the notice that the request is acted on is on its way to it.'
        : 'Address corrected; a new verification link is on its way.', reload);
    sec.append(form);
    parts.push(sec);
  }
  if (worker && open) {
    // Assign data sources.
    if (['identity_verified', 'in_progress'].includes(r.status)) {
      let sources = [];
      try { sources = (await api('GET', '/api/v1/data-sources')).items || []; } catch (err) { sources = []; }
      const taken = new Set((r.tasks || []).map((t) => t.data_source_id));
      const free = sources.filter((s) => !taken.has(s.id));
      const sec = h('section', {'aria-labelledby': 'assign-title'}, h('h2', {id: 'assign-title'}, 'Assign data sources'));
      if (free.length === 0) {
        sec.append(h('p', {}, sources.length ? 'Every data source is assigned.' : 'There are no data sources yet. ',
          sources.length || !ADMINISTRATORS.includes(me.role) ? null : h('a', {href: '/console/data-sources'}, 'Add one')));
      } else {
        const fs = h('fieldset', {}, h('legend', {}, 'Data sources to search'),
          free.map((s) => {
            const cid = uid('ds');
            return h('div', {class: 'choice'}, h('input', {type: 'checkbox', name: 'data_source_ids', value: s.id, id: cid}),
              h('label', {for: cid, class: 'choice'}, s.name));
          }));
        const form = h('form', {id: 'assign-form'}, fs, h('p', {}, h('button', {type: 'submit'}, 'Assign')));
        actionForm(form, (f) => api('POST', `/api/v1/requests/${id}/assignments`,
          {data_source_ids: [...f.querySelectorAll('input[name=data_source_ids]:checked')].map((c) => c.value)}),
        (out) => `Data sources assigned. Status: ${statusLabel(out.status)}.`, reload);
        sec.append(form);
      }
      parts.push(sec);
    }

    const actions = h('section', {'aria-labelledby': 'actions-title'}, h('h2', {id: 'actions-title'}, 'Close or extend'));
    // Complete.
    const complete = h('form', {id: 'complete-form'},
      h('h3', {}, 'Complete the request'),
      r.package_required ? h('p', {class: 'hint'}, 'An access request completes once its access package is approved: the requester ' +
        'can then download it. To send nothing instead, say why.') : null,
      field('Note to keep with the request', h('textarea', {name: 'note', rows: 2})),
      r.package_required ? field('Nothing to send', h('textarea', {name: 'nothing_to_send', rows: 2}),
        '(only to complete without a package: why the requester gets no data)') : null,
      h('button', {type: 'submit'}, 'Complete the request'));
    actionForm(complete, (f) => api('POST', `/api/v1/requests/${id}/completion`,
      r.package_required ? {note: f.note.value, nothing_to_send: f.nothing_to_send.value} : {note: f.note.value}),
    (out) => `Request completed. Status: ${statusLabel(out.status)}.`, reload);
    actions.append(complete);
    // Extend.
    if (canExtend && r.status !== 'pending_email_verification') {
      const extend = h('form', {id: 'extend-form'},
        field('Days', h('input', {type: 'number', name: 'days', min: 1, step: 1, inputmode: 'numeric'}),
          `(due at the latest ${date(r.extension.latest_deadline)})`),
        field('Reason (the requester is told)', h('textarea', {name: 'reason', rows: 2})),
        h('button', {type: 'submit'}, 'Extend'));
      actionForm(extend, (f) => api('POST', `/api/v1/requests/${id}/extension`,
        {days: f.days.value === '' ? 0 : Number(f.days.value), reason: f.reason.value}),
      (out) => `Deadline extended to ${date(out.deadline)}.`, reload);
      actions.append(h('details', {id: 'extend-details'}, h('summary', {}, 'Extend the deadline'), extend));
    }
    // Stop or restart the clock, where the rule allows it.
    if (r.paused) {
      const resume = h('form', {id: 'resume-form'}, h('button', {type: 'submit'}, 'Restart the clock'));
      actionForm(resume, () => api('POST', `/api/v1/requests/${id}/resume`, {}),
        () => 'The clock runs again; the deadline moved by the days it was stopped.', reload);
      actions.append(resume);
    } else if (r.pause_allowed && r.status !== 'pending_email_verification') {
      const why = h('select', {name: 'reason'}, h('option', {value: 'identity'}, 'Waiting for identity'),
        h('option', {value: 'clarification'}, 'Waiting for clarification'));
      const pause = h('form', {id: 'pause-form'}, field('Why', why),
        field('Note (for staff)', h('textarea', {name: 'note', rows: 2})),
        h('button', {type: 'submit'}, 'Stop the clock'));
      actionForm(pause, (f) => api('POST', `/api/v1/requests/${id}/pause`, {reason: f.reason.value, note: f.note.value}),
        () => 'The clock is stopped: the deadline moves on when it restarts.', reload);
      actions.append(h('details', {id: 'pause-details'}, h('summary', {}, 'Stop the clock'), pause));
    }
    // Reject.
    const reasons = h('fieldset', {}, h('legend', {}, 'Reasons (the requester reads these words)'),
      (settings.reject_reasons || []).map((o) => {
        const cid = uid('reason');
        return h('div', {class: 'choice'}, h('input', {type: 'checkbox', name: 'reasons', value: o.value, id: cid}),
          h('label', {for: cid, class: 'choice'}, h('code', {}, o.value), ' ', o.label));
      }));
    const reject = h('form', {id: 'reject-form'}, reasons,
      field('Internal note', h('textarea', {name: 'note', rows: 2})),
      h('button', {type: 'submit', class: 'danger'}, 'Reject the request'));
    actionForm(reject, (f) => api('POST', `/api/v1/requests/${id}/rejection`,
      {reasons: [...f.querySelectorAll('input[name=reasons]:checked')].map((c) => c.value), note: f.note.value}),
    (out) => `Request rejected. Status: ${statusLabel(out.status)}.`, reload);
    actions.append(h('details', {id: 'reject-details'}, h('summary', {}, 'Reject the request'), reject));
    side.push(actions);
  }

  // Who handles the request.
  if (worker) side.unshift(await handlerSection(r, reload));

  // The legal hold: shown to the queue's workers, placed and lifted by org
  // owners and admins.
  if (worker) side.push(legalHoldSection(r, reload));

  // The appeal right, and the requester's appeal (decided on the Appeals page).
  if (worker && (r.appeal || r.appeal_until)) side.push(appealSection(r));

  // Messages.
  if (worker) side.push(await messagesSection(id, r));

  // The audit trail (queue workers), which also names the people of the timeline.
  const names = new Map([[me.id, me.name]]);
  let auditSection = null;
  if (worker) {
    auditSection = h('section', {'aria-labelledby': 'audit-title'}, h('h2', {id: 'audit-title'}, 'Audit trail'));
    try {
      const audit = await api('GET', `/api/v1/requests/${id}/audit`);
      for (const e of audit.items) if (e.actor_id && e.actor_name) names.set(e.actor_id, e.actor_name);
      auditSection.append(h('p', {}, downloadLink(`/api/v1/requests/${id}/audit.json`, 'Download the audit file for a regulator',
        {id: 'audit-file', class: 'button secondary', done: 'The audit file is saved.'}), ' ',
        h('span', {class: 'hint'}, 'The events with the audit chain\'s hashes and how to verify them (JSON).')));
      auditSection.append(h('details', {}, h('summary', {}, `${audit.items.length} events, oldest first`),
        h('table', {class: 'audit'},
          h('thead', {}, h('tr', {}, ['#', 'When', 'Who', 'Action', 'Detail'].map((c) => h('th', {scope: 'col'}, c)))),
          h('tbody', {}, audit.items.map((e) => h('tr', {},
            h('td', {}, e.seq), h('td', {}, dateTime(e.at)), h('td', {}, e.actor_name || `${e.actor_kind}${e.actor_id ? ':' + e.actor_id : ''}`),
            h('td', {}, e.label || e.action), h('td', {class: 'detail'}, e.detail && Object.keys(e.detail).length ? JSON.stringify(e.detail) : '')))))));
    } catch (err) {
      auditSection.append(errorBox(err));
    }
  }
  const who = (actor) => {
    if (!actor) return '';
    const plain = actor.includes(':') ? actor.slice(actor.indexOf(':') + 1) : actor;
    return names.get(plain) || actor;
  };
  const words = (event) => {
    const t = String(event).replace(/[._]/g, ' ');
    return t.charAt(0).toUpperCase() + t.slice(1);
  };

  // Timeline.
  if (r.timeline && r.timeline.length) {
    parts.push(h('section', {'aria-labelledby': 'timeline-title'}, h('h2', {id: 'timeline-title'}, 'Timeline'),
      h('table', {class: 'timeline'},
        h('thead', {}, h('tr', {}, ['When', 'What', 'Who', 'Detail'].map((c) => h('th', {scope: 'col'}, c)))),
        h('tbody', {}, r.timeline.map((e) => h('tr', {},
          h('td', {}, dateTime(e.at)), h('td', {}, e.label || words(e.event)), h('td', {}, who(e.actor)), h('td', {}, e.detail || '')))))));
  }
  if (auditSection) parts.push(auditSection);
  if (packageAt >= 0) parts.splice(packageAt, 0, await packageSection(r, open, (uid) => names.get(uid) || uid, reload));

  if (gen !== generation) return;
  view.replaceChildren(...head, side.length
    ? h('div', {class: 'request-layout'}, h('div', {class: 'request-main'}, ...parts), h('div', {class: 'request-side'}, ...side))
    : h('div', {}, ...parts));
}

// appealSection shows until when the requester may appeal, and their
// appeal: its status, deadline and decision, with a link to decide it.
function appealSection(r) {
  const sec = h('section', {'aria-labelledby': 'appeal-title', id: 'request-appeal'}, h('h2', {id: 'appeal-title'}, 'Appeal'));
  const a = r.appeal;
  if (!a) {
    sec.append(h('p', {}, `The requester may appeal until ${dateTime(r.appeal_until)}.`,
      r.contact_kept ? ' Their name and email are kept, sealed, until then; the rest of their data is erased.' : ''));
    return sec;
  }
  sec.append(h('p', {}, h('strong', {}, a.status_label), a.overdue ? h('span', {class: 'badge overdue'}, 'overdue') : null),
    h('p', {}, `Filed ${dateTime(a.filed_at)} · decide by ${dateTime(a.deadline)}`, a.decided_at ? ` · decided ${dateTime(a.decided_at)}` : ''),
    a.explanation ? h('p', {class: 'explanation'}, a.explanation) : null,
    a.status === 'open' ? h('p', {}, h('a', {href: '/console/appeals'}, 'Decide it on the Appeals page'),
      r.decided_by === me.id ? h('span', {class: 'hint'}, ' (by a colleague: you decided this request)') : null) : null);
  return sec;
}

// legalHoldSection shows the request's legal hold and, to org owners and
// admins, the form that places it (with a reason) or lifts it.
function legalHoldSection(r, reload) {
  const hold = r.legal_hold || {on: false};
  const sec = h('section', {'aria-labelledby': 'hold-title', id: 'legal-hold'}, h('h2', {id: 'hold-title'}, 'Legal hold'));
  sec.append(hold.on
    ? h('p', {id: 'hold-state'}, h('strong', {}, 'On'), ` since ${dateTime(hold.since)}: ${hold.reason}. `,
      r.pii_erased
        ? 'The retention sweep keeps what is left of this request (its record, messages and package) until the hold is lifted.'
        : 'The erasure at close waits until the hold is lifted; deadlines run as ever.')
    : h('p', {id: 'hold-state'}, 'None. A hold keeps this request\'s data from being erased at close, and from the retention sweep, until it is lifted.'));
  if (!ADMINISTRATORS.includes(me.role)) return sec;
  const form = hold.on
    ? h('form', {id: 'hold-form'}, h('button', {type: 'submit', class: 'secondary'}, 'Lift the legal hold'))
    : h('form', {id: 'hold-form'}, field('Reason (staff only; the audit trail keeps its hash)', h('textarea', {name: 'reason', rows: 2})),
      h('button', {type: 'submit'}, 'Place a legal hold'));
  actionForm(form, (f) => api('POST', `/api/v1/requests/${r.id}/legal-hold`, hold.on ? {on: false} : {on: true, reason: f.reason.value}),
    () => (hold.on ? 'The legal hold is lifted.' : 'The legal hold is on.'), reload);
  sec.append(form);
  return sec;
}

// ---- reports ---------------------------------------------------------------

// fetchText fetches a text answer of the API with the session's token.
async function fetchText(path) {
  const res = await fetch(path, {headers: {Authorization: `Bearer ${sessionStorage.getItem(TOKEN)}`}, credentials: 'omit'});
  if (!res.ok) {
    let data = null;
    if ((res.headers.get('Content-Type') || '').includes('json')) data = await res.json();
    throw new APIError(res.status, data);
  }
  return res.text();
}

// svgChart is one of the server's SVG charts, parsed as SVG (never as
// HTML) and put in the page, where its title and description are read.
async function svgChart(path) {
  const doc = new DOMParser().parseFromString(await fetchText(path), 'image/svg+xml');
  const svg = doc.documentElement;
  if (svg.nodeName !== 'svg') throw new Error('the chart is not SVG');
  return document.importNode(svg, true);
}

// days is a report's number of days, or a dash when there is none.
const days = (v) => (v === null || v === undefined ? '—' : String(v));

// reportsView is the reports page: the yearly metrics per request type
// (CCPA §7102-style), how requests stand against their deadlines (a chart
// with a table beside it per grouping), and the compliance records'
// export. Every figure comes from the compliance records.
async function reportsView() {
  const gen = generation;
  const params = new URLSearchParams(location.search);
  const year = params.get('year') || String(new Date().getUTCFullYear() - 1);
  const rule = params.get('rule') || '';
  const today = new Date().toISOString().slice(0, 10);
  const yearAgo = new Date(Date.now() - 364 * 864e5).toISOString().slice(0, 10);
  const from = params.get('from') || yearAgo;
  const to = params.get('to') || today;
  const qs = (o) => new URLSearchParams(Object.entries(o).filter(([, v]) => v)).toString();

  // Yearly metrics.
  const metricsForm = h('form', {id: 'metrics-form', class: 'inline-form'},
    field('Year', h('input', {type: 'number', name: 'year', value: year, min: 1970, max: 9999})),
    field('Jurisdiction rule', select('rule', settings.rules || [], rule, 'Every rule')),
    h('button', {type: 'submit'}, 'Show'));
  metricsForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go(`/console/reports?${qs({year: metricsForm.year.value, rule: metricsForm.rule.value, from, to})}`);
  });
  const metricsSec = h('section', {'aria-labelledby': 'metrics-title'}, h('h2', {id: 'metrics-title'}, 'Requests of the year'), metricsForm);
  try {
    const m = await api('GET', `/api/v1/reports/metrics?${qs({year, rule})}`);
    const row = (x) => h('tr', {}, h('th', {scope: 'row'}, x.label),
      [x.received, x.complied_whole, x.complied_part, x.denied, x.open].map((n) => h('td', {}, String(n))),
      h('td', {}, days(x.median_days)), h('td', {}, days(x.mean_days)));
    metricsSec.append(h('table', {id: 'metrics-table'},
      h('caption', {}, `Requests received in ${m.year}${m.rule ? `, rule ${labelOf(settings.rules, m.rule)}` : ', every rule'}`),
      h('thead', {}, h('tr', {}, ['Request type', 'Received', 'Complied with in whole', 'In part', 'Denied', 'Still open',
        'Median days to respond', 'Mean days to respond'].map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, m.by_type.map((x) => row(x))),
      h('tfoot', {}, row(m.totals))),
    h('p', {class: 'hint'}, m.note));
  } catch (err) {
    metricsSec.append(errorBox(err));
  }

  // Deadlines.
  const slaForm = h('form', {id: 'sla-form', class: 'inline-form'},
    field('Received from', h('input', {type: 'date', name: 'from', value: from})),
    field('to', h('input', {type: 'date', name: 'to', value: to})),
    h('button', {type: 'submit'}, 'Show'));
  slaForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go(`/console/reports?${qs({year, rule, from: slaForm.from.value, to: slaForm.to.value})}`);
  });
  const slaSec = h('section', {'aria-labelledby': 'sla-title'}, h('h2', {id: 'sla-title'}, 'Deadlines'), slaForm);
  try {
    const sla = await api('GET', `/api/v1/reports/sla?${qs({from, to})}`);
    const t = sla.totals;
    slaSec.append(h('p', {id: 'sla-totals'}, `${t.total} requests: ${t.on_time} on time, ${t.at_risk} at risk, ${t.overdue} overdue, ${t.late} closed late.`),
      h('p', {class: 'hint'}, sla.note));
    const groupings = [['type', 'By request type', sla.by_type], ['rule', 'By jurisdiction rule', sla.by_rule], ['month', 'By month received', sla.trend]];
    for (const [by, title, groups] of groupings) {
      const hid = `sla-${by}-heading`;
      const table = h('table', {class: 'sla-table', id: `sla-${by}-table`},
        h('caption', {}, `${title}: the chart's figures`),
        h('thead', {}, h('tr', {}, ['', 'On time', 'At risk', 'Overdue', 'Closed late', 'All'].map((c, i) => h('th', {scope: 'col'}, c || (by === 'month' ? 'Month' : by === 'rule' ? 'Rule' : 'Request type'))))),
        h('tbody', {}, groups.map((g) => h('tr', {}, h('th', {scope: 'row'}, by === 'rule' ? labelOf(settings.rules, g.label) : g.label),
          [g.on_time, g.at_risk, g.overdue, g.late, g.total].map((n) => h('td', {}, String(n)))))));
      const figure = h('figure', {class: 'chart'});
      try {
        figure.append(await svgChart(`/api/v1/reports/sla.svg?${qs({by, from, to})}`));
      } catch (err) {
        figure.append(errorBox(err));
      }
      slaSec.append(h('h3', {id: hid}, title), h('div', {class: 'chart-pair'}, figure, table));
    }
  } catch (err) {
    slaSec.append(errorBox(err));
  }

  // The records' export.
  const exportForm = h('form', {id: 'records-form', class: 'inline-form'},
    field('Received from', h('input', {type: 'date', name: 'from', value: from})),
    field('to', h('input', {type: 'date', name: 'to', value: to})),
    h('button', {type: 'submit', value: 'csv'}, 'Download CSV'), ' ',
    h('button', {type: 'submit', value: 'json', class: 'secondary'}, 'Download JSON'));
  actionForm(exportForm, async (f, button) => {
    const ext = button && button.value === 'json' ? 'json' : 'csv';
    const file = await fetchBlob(`/api/v1/records.${ext}?${qs({from: f.from.value, to: f.to.value})}`);
    const save = h('a', {href: file.url, download: file.name || `records.${ext}`, hidden: true});
    document.body.append(save);
    save.click();
    save.remove();
    return ext;
  }, (ext) => `The compliance records are saved as a ${ext.toUpperCase()} file.`);
  const exportSec = h('section', {'aria-labelledby': 'records-title'}, h('h2', {id: 'records-title'}, 'Compliance records'),
    h('p', {}, 'One record per request, without personal data, kept for two years after the request closed (by default): what was asked, under which rule, when it was answered, how, and why a denial was given.'),
    exportForm);

  if (gen !== generation) return;
  view.replaceChildren(h('h1', {}, 'Reports'), metricsSec, slaSec, exportSec);
}

// taskStatusLabel is a task's status in words (the server's).
const taskStatusLabel = (s) => labelOf(settings.task_statuses, s);
const modeLabel = (m) => labelOf(settings.source_modes, m || 'manual');
const automationLabel = (s) => labelOf(settings.automation_states, s);
// modeWords says how a data source's tasks are fulfilled, for its row.
const modeWords = (s) => {
  let words = modeLabel(s.mode);
  if (s.mode === 'postgres' || s.mode === 'mysql') words += ` (queue ${s.task_queue})`;
  if (s.mode === 'webhook') words += ` (time limit ${s.time_limit}${s.webhook_url ? `, to ${s.webhook_url}` : ''})`;
  if (s.mode && s.mode !== 'manual' && s.dry_run) words += ', dry run before erasing';
  return words;
};

// recordWords is a task's record count after its outcome, if it has one.
function recordWords(n) {
  return n != null ? ` · ${n} record${n === 1 ? '' : 's'}` : '';
}

// fileItem is a task's file: its name a download, its size, and, once it
// was removed from the access package, when and why.
function fileItem(f) {
  return h('li', {'data-file': f.id, class: f.removed_at ? 'removed' : null},
    downloadLink(f.url, f.name, {name: f.name}), ' ', h('span', {class: 'hint'}, `(${humanBytes(f.size)})`),
    f.removed_at ? h('span', {class: 'removed-reason'}, ` · removed from the package ${dateTime(f.removed_at)}: `, f.removed_reason || 'no reason given') : null);
}

// fileList lists a task's files (null while they are loading); empty, it
// says none (when none is a sentence to say). set fills in the files once
// loaded; add puts an uploaded file at its end; failed says the list could
// not be loaded.
function fileList(t, files, none) {
  const ul = h('ul', {class: 'task-files', 'aria-label': `Files of ${t.name}`}, (files || []).map(fileItem));
  const empty = files ? h('p', {class: 'hint no-files'}, none || '') : h('p', {class: 'hint loading'}, 'Loading the files…');
  const el = h('div', {class: 'task-files-wrap', 'data-source': t.data_source_id}, ul, empty);
  const show = () => {
    ul.hidden = ul.children.length === 0;
    empty.hidden = !ul.hidden || !none;
  };
  if (files) show();
  return {
    el,
    set(list) {
      // A file uploaded before the list came stays in it.
      const listed = new Set(list.map((f) => f.id));
      ul.replaceChildren(...list.map(fileItem), ...[...ul.children].filter((li) => !listed.has(li.dataset.file)));
      empty.className = 'hint no-files';
      empty.textContent = none || '';
      show();
    },
    add(f) { ul.append(fileItem(f)); show(); },
    failed(err) { empty.replaceWith(errorBox(err)); },
  };
}

// uploadForm attaches a file to an open task of request id; the file
// joins the task's list as the API answered it.
function uploadForm(id, t, files) {
  const base = `/api/v1/requests/${id}/tasks/${t.data_source_id}/files`;
  const form = h('form', {class: 'inline-form upload-form', 'data-source': t.data_source_id, enctype: 'multipart/form-data'},
    field(`File for ${t.name}`, h('input', {type: 'file', name: 'file'}), '(text, CSV, JSON, XML, PDF, an image, ZIP or gzip)'),
    h('button', {type: 'submit', class: 'secondary'}, 'Upload'));
  actionForm(form, (f) => api('POST', base, new FormData(f)), (out) => `${out.name} is attached to ${t.name} (${humanBytes(out.size)}).`,
    (out) => {
      files.add({...out, url: `${base}/${out.id}`});
      form.reset();
    });
  return form;
}

// taskForms are the actions on a task that is not completed: attach files
// to it (open tasks, when there is a list of files to add them to);
// complete it with an outcome its request's type allows; decline it with
// a reason (open tasks); give it to one person (queue workers: those who
// may list the users choose anyone active, others the source's owners).
// automationBox shows where the system stands on an automated task and,
// while the request is open, the actions its state allows: retry a step
// that needs attention, approve a dry run's erasure (or not), switch to
// manual.
function automationBox(id, t, open, reload) {
  const a = t.automation;
  const base = `/api/v1/requests/${id}/tasks/${t.data_source_id}/automation`;
  const box = h('div', {class: 'automation', 'data-state': a.state},
    h('p', {}, h('strong', {}, modeLabel(t.mode) + ': '), automationLabel(a.state), a.step ? ` (step: ${a.step})` : ''));
  if (['needs_attention', 'retrying', 'no_connector'].includes(a.state) && a.error) box.append(h('p', {class: 'declined'}, h('strong', {}, 'Error: '), a.error));
  if (a.state === 'manual' && a.error) box.append(h('p', {}, h('strong', {}, 'Why manual: '), a.error));
  if (a.state === 'waiting_approval') box.append(h('p', {}, `The erasure would touch ${a.matched || 0} row(s).`));
  if (!open || ['done', 'manual'].includes(a.state)) return box;
  if (a.state === 'needs_attention') {
    const retry = h('form', {class: 'inline-form automation-retry'}, h('button', {type: 'submit'}, `Retry ${t.name}`));
    actionForm(retry, () => api('POST', `${base}/retry`), `${t.name}: the step runs again.`, reload);
    box.append(retry);
  }
  if (a.state === 'waiting_approval') {
    const approve = h('form', {class: 'inline-form automation-approval'},
      field(`Note on the erasure of ${t.name}`, h('input', {type: 'text', name: 'note'})),
      h('button', {type: 'submit', value: 'true'}, `Approve the erasure`), ' ',
      h('button', {type: 'submit', value: 'false', class: 'secondary'}, 'Do not erase: switch to manual'));
    actionForm(approve, (f, button) => api('POST', `${base}/approval`, {approved: button.value === 'true', note: f.note.value}),
      `${t.name}: dry run decided.`, reload);
    box.append(approve);
  }
  const manual = h('form', {class: 'inline-form automation-manual'},
    field(`Why switch ${t.name} to manual?`, h('input', {type: 'text', name: 'reason'})),
    h('button', {type: 'submit', class: 'secondary'}, 'Switch to manual'));
  actionForm(manual, (f) => api('POST', `${base}/manual`, {reason: f.reason.value}),
    `${t.name} is manual now: its owners do the task.`, reload);
  box.append(manual);
  return box;
}

async function taskForms(id, t, {worker, requestType, files, reload}) {
  const base = `/api/v1/requests/${id}/tasks/${t.data_source_id}`;
  const wrap = h('div', {class: 'task-actions'});
  if (files && t.status === 'open') wrap.append(uploadForm(id, t, files));
  const complete = h('form', {class: 'inline-form task-form', 'data-source': t.data_source_id},
    field(`Outcome for ${t.name}`, select('outcome', outcomesFor(requestType), '', 'Done (no outcome)')),
    field('Records', h('input', {type: 'number', name: 'record_count', min: 0, step: 1, inputmode: 'numeric'}), '(optional)'),
    field(`Note on ${t.name}`, h('input', {type: 'text', name: 'note'})),
    h('button', {type: 'submit'}, `Complete ${t.name}`));
  actionForm(complete, (f) => api('POST', `${base}/completion`, {note: f.note.value, outcome: f.outcome.value || undefined,
    record_count: f.record_count.value === '' ? undefined : Number(f.record_count.value)}),
  (out) => `Task ${t.name} completed. Status: ${statusLabel(out.status)}.`, reload);
  wrap.append(complete);
  if (t.status === 'open') {
    const decline = h('form', {class: 'inline-form decline-form', 'data-source': t.data_source_id},
      field(`Why decline ${t.name}?`, h('input', {type: 'text', name: 'reason'})),
      h('button', {type: 'submit', class: 'secondary'}, `Decline ${t.name}`));
    actionForm(decline, (f) => api('POST', `${base}/decline`, {reason: f.reason.value}),
      `Task ${t.name} declined: it goes back to the request's handler.`, reload);
    wrap.append(decline);
  }
  if (worker) {
    const options = [];
    try {
      if (ADMINISTRATORS.includes(me.role)) {
        for (const u of (await api('GET', '/api/v1/users')).items || []) {
          if (!u.disabled && u.role !== 'operator') options.push({value: u.id, label: `${u.name} (${roleLabel(u.role)})`});
        }
      } else {
        for (const o of (await api('GET', `/api/v1/data-sources/${t.data_source_id}`)).owners || []) {
          options.push({value: o.id, label: o.name || o.email});
        }
      }
    } catch (err) { /* no choices: the form says so */ }
    if (!options.some((o) => o.value === me.id)) options.unshift({value: me.id, label: `${me.name || me.email} (me)`});
    const give = h('form', {class: 'inline-form reassign-form', 'data-source': t.data_source_id},
      field(`Give ${t.name} to`, select('user_id', options, t.assignee_id || '', 'Choose a person')),
      h('button', {type: 'submit', class: 'secondary'}, 'Give the task'));
    actionForm(give, (f) => api('POST', `${base}/assignee`, {user_id: f.user_id.value}),
      `Task ${t.name} given to one person; it is open again.`, reload);
    wrap.append(give);
  }
  return wrap;
}

// packageSection is an access request's package, for its reviewers: its
// status, size and hash, a download of it as the requester will get it,
// and each task file, included or removed and why. While the request is
// ready to complete, the reviewer removes files (saying why) and approves
// it. The API has no package before every task is done, nor after a
// close without one: then the section says so instead of asking.
async function packageSection(r, open, nameOf, reload) {
  const sec = h('section', {'aria-labelledby': 'package-title', id: 'package'}, h('h2', {id: 'package-title'}, 'Access package'));
  const nothing = (r.timeline || []).find((e) => e.event === 'nothing_to_send');
  if (nothing) {
    sec.append(h('p', {id: 'package-none'}, 'Nothing was sent: ', nothing.detail || 'no reason given'));
    return sec;
  }
  if (open && r.status !== 'ready_to_close') {
    sec.append(h('p', {id: 'package-none'}, 'The package is built once every task is done, from the files attached to the tasks.'));
    return sec;
  }
  if (!open && r.status !== 'completed') {
    sec.append(h('p', {id: 'package-none'}, 'The request closed without a package.'));
    return sec;
  }
  let p;
  try {
    p = await api('GET', `/api/v1/requests/${r.id}/package`);
  } catch (err) {
    sec.append(err.status === 404 ? h('p', {id: 'package-none'}, err.message) : errorBox(err));
    return sec;
  }
  const facts = h('dl', {class: 'facts'});
  const fact = (k, ...v) => facts.append(h('dt', {}, k), h('dd', {}, ...v));
  fact('Status', h('strong', {id: 'package-status', 'data-status': p.status, class: 'status'}, p.status_label));
  if (p.status === 'building') {
    sec.append(facts, h('p', {}, 'The package is being built from the tasks\' files. ',
      h('button', {type: 'button', class: 'link', id: 'package-check', onclick: reload}, 'Check again')));
    return sec;
  }
  fact('Size', h('span', {id: 'package-size'}, humanBytes(p.size)));
  fact('SHA-256', h('code', {id: 'package-sha256', class: 'hash'}, p.sha256));
  if (p.built_at) fact('Built', dateTime(p.built_at));
  if (p.approved_at) fact('Approved', dateTime(p.approved_at), p.approved_by ? ` by ${nameOf(p.approved_by)}` : '');
  if (p.approval_note) fact('Approval note', h('span', {class: 'pre'}, p.approval_note));
  if (p.published_at) fact('Published', dateTime(p.published_at));
  if (p.expires_at) fact(p.status === 'expired' ? 'Expired' : 'Available to the requester until', dateTime(p.expires_at));
  sec.append(facts);
  if (p.download_url) {
    sec.append(h('p', {}, downloadLink(p.download_url, 'Download package', {id: 'package-download', class: 'button secondary',
      name: `your-data-${String(r.reference || r.id).toLowerCase()}.zip`, done: 'The access package is saved.'}),
    ' ', h('span', {class: 'hint'}, 'The requester gets this file. Downloading it is recorded in the audit trail.')));
  }

  const sources = new Map((r.tasks || []).map((t) => [t.data_source_id, t.name]));
  const reviewing = open && ['ready', 'approved'].includes(p.status);
  const files = p.files || [];
  if (!files.length) {
    sec.append(h('p', {id: 'package-no-files'}, 'No file is attached to the tasks: the package holds the list of what each data source did.'));
  }
  const rows = files.map((f) => {
    let pick = null;
    if (reviewing && f.included) {
      const cid = uid('rm');
      pick = [h('input', {type: 'checkbox', name: 'removed_file_ids', value: f.id, id: cid}),
        h('label', {for: cid, class: 'visually-hidden'}, `Remove ${f.name}`)];
    }
    const state = f.removed_at ? h('span', {class: 'removed-reason'}, `Removed ${dateTime(f.removed_at)}: `, f.removed_reason || 'no reason given')
      : f.included ? 'In the package' : 'Not in the package';
    return h('tr', {'data-file': f.id, class: f.removed_at ? 'removed' : null},
      reviewing ? h('td', {class: 'pick'}, pick) : null,
      h('th', {scope: 'row'}, downloadLink(f.url, f.name, {name: f.name})),
      h('td', {}, sources.get(f.data_source_id) || ''), h('td', {}, humanBytes(f.size)), h('td', {class: 'file-state'}, state));
  });
  const table = files.length ? h('table', {class: 'package-files'},
    h('thead', {}, h('tr', {}, [reviewing ? 'Remove' : null, 'File', 'Data source', 'Size', 'In the package'].filter((c) => c).map((c) => h('th', {scope: 'col'}, c)))),
    h('tbody', {}, rows)) : null;
  if (!reviewing) {
    if (table) sec.append(table);
    return sec;
  }
  const form = h('form', {id: 'package-form'},
    table ? h('fieldset', {}, h('legend', {}, 'Files of the package (tick those the requester must not get)'), table) : null,
    field('Why are the selected files removed?', h('textarea', {name: 'note', rows: 2}), '(required when you remove a file; otherwise an optional note)'),
    h('button', {type: 'submit', id: 'approve-package'}, 'Approve package'));
  actionForm(form, (f) => api('POST', `/api/v1/requests/${r.id}/package/approval`, {note: f.note.value,
    removed_file_ids: [...f.querySelectorAll('input[name=removed_file_ids]:checked')].map((c) => c.value)}),
  'Access package approved. The request can be completed.', async () => {
    await reload();
    const st = document.getElementById('package-status');
    if (st) { st.tabIndex = -1; st.focus(); }
  });
  sec.append(form);
  return sec;
}

// handlerSection lets a queue worker say who handles the request: any
// active org owner, admin or manager for those who may list the users,
// themselves or nobody for the others.
async function handlerSection(r, reload) {
  const sec = h('section', {'aria-labelledby': 'handler-title'}, h('h2', {id: 'handler-title'}, 'Handler'));
  const options = [{value: me.id, label: `${me.name || me.email} (me)`}];
  if (ADMINISTRATORS.includes(me.role)) {
    try {
      for (const u of (await api('GET', '/api/v1/users')).items || []) {
        if (!u.disabled && QUEUE_WORKERS.includes(u.role) && u.id !== me.id) options.push({value: u.id, label: `${u.name} (${roleLabel(u.role)})`});
      }
    } catch (err) { /* the choices of a manager remain */ }
  }
  if (r.handler_id && !options.some((o) => o.value === r.handler_id)) options.push({value: r.handler_id, label: r.handler_name || r.handler_id});
  const form = h('form', {id: 'handler-form', class: 'inline-form'},
    field('Handled by', select('user_id', options, r.handler_id || '', 'Nobody')),
    h('button', {type: 'submit', class: 'secondary'}, 'Save the handler'));
  actionForm(form, (f) => api('POST', `/api/v1/requests/${r.id}/handler`, {user_id: f.user_id.value || null}),
    (out) => (out.handler_id ? 'Handler saved.' : 'The request has no handler now.'), reload);
  sec.append(form);
  return sec;
}

// periodWords says an ISO 8601 period such as P2M or P45D in words.
function periodWords(p) {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$/.exec(p || '');
  if (!m) return p;
  const words = [];
  [['year', m[1]], ['month', m[2]], ['week', m[3]], ['day', m[4]]].forEach(([unit, n]) => {
    if (n) words.push(`${n} ${unit}${n === '1' ? '' : 's'}`);
  });
  return words.join(' ') || p;
}

// messagesSection shows the request's messages and, unless the requester's
// email was never verified, the form to write to them, also after close.
async function messagesSection(id, r) {
  const sec = h('section', {'aria-labelledby': 'messages-title'}, h('h2', {id: 'messages-title'}, 'Messages with the requester'));
  let data;
  try {
    data = await api('GET', `/api/v1/requests/${id}/messages`);
  } catch (err) {
    sec.append(errorBox(err));
    return sec;
  }
  const items = data.items || [];
  const unread = data.unread || 0;
  if (unread) sec.append(h('p', {class: 'notice', id: 'unread'}, `${unread} new message${unread === 1 ? '' : 's'} from the requester.`));
  if (!items.length) sec.append(h('p', {}, 'No messages yet.'));
  const requesterIdx = items.map((m, i) => (m.from === 'requester' ? i : -1)).filter((i) => i >= 0);
  const fresh = new Set(requesterIdx.slice(requesterIdx.length - unread));
  const list = h('ol', {class: 'messages'}, items.map((m, i) => h('li', {class: [m.from === 'staff' ? 'mine' : '', fresh.has(i) ? 'new' : ''].join(' ').trim() || null},
    h('p', {class: 'message-meta'}, m.from === 'staff' ? (m.author || 'Staff') : 'Requester', ' · ', dateTime(m.sent_at), fresh.has(i) ? ' · new' : ''),
    h('p', {class: 'message-body'}, m.body),
    m.attachments && m.attachments.length ? h('ul', {class: 'attachments'}, m.attachments.map((a) => {
      const b = h('button', {type: 'button', class: 'link'}, `${a.filename} (${Math.ceil(a.size / 1024)} KB)`);
      b.addEventListener('click', async () => {
        try {
          const f = await fetchBlob(a.url);
          const link = h('a', {href: f.url, download: a.filename}, `Save ${a.filename}`);
          b.replaceWith(link);
          link.focus();
        } catch (err) {
          b.after(errorBox(err));
        }
      });
      return h('li', {}, b);
    })) : null)));
  sec.append(list);
  // Nobody can read a message on a request whose email was never verified
  // (the API refuses one while it waits for the verification), except an
  // opt-out accepted at submission: its requester follows it in the portal
  // from the link they were mailed, confirmed or not.
  const canWrite = (!!r.email_verified_at || r.identity_required === false) &&
    !['pending_email_verification', 'expired'].includes(r.status);
  const closed = CLOSED.includes(r.status) || !!r.closed_at;
  if (canWrite) {
    const hint = closed
      ? h('p', {class: 'notice', id: 'closed-message-hint'},
        'This request is closed, so the requester\'s email address has been erased and no email can tell them about a new message. ',
        'Write here to explain the outcome further: the requester will see it when they next sign in to the portal.')
      : null;
    const form = h('form', {id: 'message-form', enctype: 'multipart/form-data'},
      field(closed ? 'Your message (read in the portal)' : 'Your message', h('textarea', {name: 'body', rows: 4})),
      field('Attachments', h('input', {type: 'file', name: 'attachments', multiple: true}), '(PDF, PNG, JPEG, ZIP or text)'),
      h('button', {type: 'submit'}, 'Send the message'));
    const sentWords = (out) => (out && out.notified
      ? 'Message sent. The requester is told by email.'
      : 'Message sent. The requester was not emailed: they will see it when they next sign in to the portal.');
    actionForm(form, (f) => api('POST', `/api/v1/requests/${id}/messages`, new FormData(f)), sentWords, async (out) => {
      await requestView(id);
      const again = document.getElementById('message-form');
      if (again) again.before(h('p', {class: 'notice', id: 'message-sent', role: 'status'}, sentWords(out)));
    });
    if (hint) sec.append(hint);
    sec.append(form);
  }
  return sec;
}

// ---- recording a request that arrived another way -------------------------

// randomKey is an Idempotency-Key: sending the same form twice (a double
// click, a retry after a lost answer) records one request.
function randomKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

// localDate is today's date where the browser is, as YYYY-MM-DD.
function localDate() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

async function recordView() {
  if (!QUEUE_WORKERS.includes(me.role)) {
    throw new APIError(403, {error: {message: 'Recording requests is for managers, administrators and organisation owners.'}});
  }
  const key = randomKey();
  const regions = settings.regions || {};
  const region = select('region', [], '', 'None');
  const regionField = field('State or region', region, '(where the country has them)');
  regionField.hidden = true;
  const country = select('country', settings.countries || [], '', 'Choose a country');
  country.addEventListener('change', () => {
    const list = regions[country.value] || [];
    region.replaceChildren(h('option', {value: ''}, 'None'), ...list.map((o) => h('option', {value: o.value}, o.label)));
    regionField.hidden = list.length === 0;
  });
  const checked = h('input', {type: 'checkbox', name: 'identity_checked', id: uid('idchk')});
  const note = h('textarea', {name: 'identity_note', rows: 2});
  const noteField = field('How was identity checked?', note, '(required when checked; kept in the audit trail)');
  noteField.hidden = true;
  checked.addEventListener('change', () => { noteField.hidden = !checked.checked; });
  const form = h('form', {id: 'record-form'},
    h('fieldset', {}, h('legend', {}, 'How and when it arrived'),
      h('div', {class: 'filter-grid'},
        field('Channel', select('channel', settings.channels || [], '', 'Choose')),
        field('Received on', h('input', {type: 'date', name: 'received_at', value: localDate(), max: localDate()}), '(the deadline counts from this day)'))),
    h('fieldset', {}, h('legend', {}, 'The requester'),
      h('div', {class: 'filter-grid'},
        field('First name', h('input', {type: 'text', name: 'first_name', autocomplete: 'off'})),
        field('Last name', h('input', {type: 'text', name: 'last_name', autocomplete: 'off'})),
        field('Email address', h('input', {type: 'email', name: 'email', autocomplete: 'off'}), '(they are sent a link to verify it)'),
        field('Country of residence', country),
        regionField,
        field('The requester is a', select('requestor_type', settings.requestor_types || [], '', 'Choose')),
        field('Write to them in', select('language', settings.languages || [], 'en'), '(their mail and portal pages)'))),
    h('fieldset', {}, h('legend', {}, 'The request'),
      field('Type of request', select('request_type', settings.request_types || [], '', 'Choose')),
      field('What they asked for', h('textarea', {name: 'description', rows: 4}))),
    h('fieldset', {}, h('legend', {}, 'Identity'),
      h('div', {class: 'choice'}, checked, h('label', {for: checked.id, class: 'choice'}, 'I checked the requester\'s identity another way (for example, on a call with details we hold)')),
      noteField,
      h('p', {class: 'hint'}, 'Either way, the requester must still confirm their email address from the mail they are sent.')),
    h('p', {class: 'buttons'}, h('button', {type: 'submit'}, 'Record the request'), ' ', h('a', {href: '/console', class: 'button secondary'}, 'Cancel')));
  actionForm(form, (f) => {
    const body = {
      channel: f.channel.value, received_at: f.received_at.value,
      first_name: f.first_name.value, last_name: f.last_name.value, email: f.email.value,
      country: f.country.value, region: f.region.value, requestor_type: f.requestor_type.value,
      request_type: f.request_type.value, description: f.description.value,
      identity_checked: f.identity_checked.checked, language: f.language.value,
    };
    if (f.identity_checked.checked) body.identity_note = f.identity_note.value;
    return api('POST', '/api/v1/requests/manual', body, {'Idempotency-Key': key});
  }, 'Request recorded. The requester is sent a link to verify their email address.',
  (out) => go(`/console/requests/${out.id}`));
  view.replaceChildren(
    h('p', {class: 'crumbs'}, h('a', {href: '/console'}, '← All requests')),
    h('h1', {}, 'Record a request'),
    h('p', {}, 'For a request that reached us by phone, post, email or in person. It is handled like one made with the form.'),
    form);
}

// ---- my tasks --------------------------------------------------------------

async function tasksView() {
  const params = new URLSearchParams(location.search);
  const status = params.has('status') ? params.get('status') : 'open';
  const heading = h('h1', {}, me.role === 'source_owner' ? 'My tasks' : 'All tasks');
  const form = h('form', {class: 'filters', role: 'search', 'aria-label': 'Filter the tasks'},
    field('Show', select('status', settings.task_statuses || [], status, 'All tasks')),
    h('button', {type: 'submit'}, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go('/console/tasks?status=' + encodeURIComponent(form.status.value));
  });
  const tbody = h('tbody');
  const more = h('button', {type: 'button', class: 'secondary', hidden: true}, 'Load more');
  const summary = h('p', {class: 'summary'});
  view.replaceChildren(heading, form, summary,
    h('table', {},
      h('thead', {}, h('tr', {}, ['Data source', 'Request', 'Request status', 'Task', 'Due', 'Assigned', ''].map((c) => h('th', {scope: 'col'}, c)))),
      tbody),
    h('p', {}, more));
  // After a task is completed or declined the list is drawn anew; focus
  // goes to its summary.
  const reload = async () => {
    await tasksView();
    const again = view.querySelector('p.summary');
    if (again) { again.tabIndex = -1; again.focus(); }
  };
  // The files of the open tasks come with their requests' details, a few
  // at a time, once the rows are drawn.
  const details = new Map();
  const detailOf = (id) => {
    if (!details.has(id)) details.set(id, api('GET', `/api/v1/requests/${id}`));
    return details.get(id);
  };
  let cursor = null;
  let shown = 0;
  const load = async () => {
    const q = new URLSearchParams({limit: '50'});
    if (status) q.set('status', status);
    if (cursor) q.set('cursor', cursor);
    const page = await api('GET', '/api/v1/tasks?' + q);
    const lists = [];
    for (const t of page.items) {
      tbody.append(h('tr', {class: t.overdue ? 'overdue' : null, 'data-request': t.request_id, 'data-source': t.data_source_id},
        h('th', {scope: 'row'}, t.name), h('td', {}, typeLabel(t.request_type)), h('td', {}, statusLabel(t.request_status)),
        h('td', {}, taskStatusLabel(t.status), t.status === 'completed' ? h('span', {class: 'hint'}, ` · ${t.outcome_label || 'Done'}${recordWords(t.record_count)}`) : null),
        h('td', {}, date(t.deadline), t.overdue ? h('span', {class: 'badge overdue'}, 'overdue') : null),
        h('td', {}, dateTime(t.assigned_at)),
        h('td', {}, h('a', {href: `/console/requests/${t.request_id}`, 'aria-label': `Open the request of the ${t.name} task`}, 'Open'))));
      if (t.status !== 'open' || CLOSED.includes(t.request_status)) continue;
      // An open task's work, in the row below it: its files, a file to
      // attach, its completion.
      const files = fileList(t, null, 'No file attached yet.');
      lists.push([t, files]);
      tbody.append(h('tr', {class: 'task-work', 'data-request': t.request_id, 'data-source': t.data_source_id},
        h('td', {colspan: 7}, files.el,
          await taskForms(t.request_id, t, {worker: false, requestType: t.request_type, files, reload}))));
    }
    eachLimited(lists, 3, async ([t, files]) => {
      try {
        const r = await detailOf(t.request_id);
        const task = (r.tasks || []).find((x) => x.data_source_id === t.data_source_id);
        files.set(task ? task.files || [] : []);
      } catch (err) {
        files.failed(err);
      }
    });
    shown += page.items.length;
    cursor = page.next_cursor;
    more.hidden = !cursor;
    summary.textContent = shown === 0 ? 'No task here.' : `${shown} task${shown === 1 ? '' : 's'}.`;
    return page.items.length;
  };
  more.addEventListener('click', async () => {
    more.disabled = true;
    try { const n = await load(); announce(`${n} more tasks loaded.`); } catch (err) { more.after(errorBox(err)); }
    more.disabled = false;
  });
  await load();
}

// ---- appeals ---------------------------------------------------------------

// appealsView lists the requesters' appeals, open ones first by deadline;
// each open one has its decision form, except for the staff member who
// decided the request (the API refuses them too).
async function appealsView() {
  const params = new URLSearchParams(location.search);
  const status = params.has('status') ? params.get('status') : 'open';
  const form = h('form', {class: 'filters', role: 'search', 'aria-label': 'Filter the appeals'},
    field('Show', select('status', [{value: 'open', label: 'Open'}, {value: 'upheld', label: 'Upheld'},
      {value: 'reversed', label: 'Reversed'}], status, 'All appeals')),
    h('button', {type: 'submit'}, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go('/console/appeals?status=' + encodeURIComponent(form.status.value));
  });
  const out = await api('GET', '/api/v1/appeals' + (status ? '?status=' + encodeURIComponent(status) : ''));
  const list = h('div', {id: 'appeals'});
  if (!out.items.length) list.append(h('p', {class: 'summary'}, 'No appeal here.'));
  for (const a of out.items) {
    const sec = h('section', {class: 'appeal', 'data-appeal': a.id, 'aria-labelledby': `appeal-${a.id}`},
      h('h2', {id: `appeal-${a.id}`}, 'Appeal of request ', h('a', {href: `/console/requests/${a.request_id}`}, a.reference)),
      h('p', {}, h('strong', {class: 'appeal-status'}, a.status_label),
        a.overdue ? h('span', {class: 'badge overdue'}, 'overdue') : null),
      h('p', {}, `Filed ${dateTime(a.filed_at)} · decide by ${dateTime(a.deadline)}`,
        a.decided_at ? ` · decided ${dateTime(a.decided_at)}` : ''),
      a.explanation ? h('p', {class: 'explanation'}, a.explanation) : null);
    if (a.status === 'open' && a.request_decided_by === me.id) {
      sec.append(h('p', {class: 'hint'}, 'You decided this request: a colleague who did not decides its appeal.'));
    } else if (a.status === 'open') {
      const decide = h('form', {class: 'decide-appeal'},
        field('Decision', select('outcome', [{value: 'upheld', label: 'Uphold: the decision stands'},
          {value: 'reversed', label: 'Reverse: reopen the request'}], 'upheld')),
        field('Explanation', h('textarea', {name: 'explanation', maxlength: 5000, rows: 4}),
          '(mailed to the requester and shown in their portal)'),
        h('p', {}, h('button', {type: 'submit'}, 'Decide the appeal')));
      actionForm(decide, async (f) => api('POST', `/api/v1/appeals/${a.id}/decision`,
        {outcome: f.outcome.value, explanation: f.explanation.value}),
      (d) => `Appeal decided: ${d.status_label || d.status}.`, async () => {
        await appealsView();
        const again = view.querySelector('h1');
        if (again) { again.tabIndex = -1; again.focus(); }
      });
      sec.append(decide);
    }
    list.append(sec);
  }
  view.replaceChildren(h('h1', {}, 'Appeals'),
    h('p', {}, 'Requesters appeal a refusal or an answer in part where their law gives the right. Someone who did not decide the request decides the appeal, by its deadline.'),
    form, list);
}

// eachLimited calls fn on each item, at most n at a time.
async function eachLimited(items, n, fn) {
  let next = 0;
  const work = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({length: Math.min(n, items.length)}, work));
}

// ---- data sources ----------------------------------------------------------

// warningsBox shows the warnings an answer carried (the action succeeded,
// but something it left behind needs a person's eye), or null.
function warningsBox(warnings) {
  if (!Array.isArray(warnings) || !warnings.length) return null;
  return h('div', {class: 'notice warnings', id: 'warnings', role: 'alert'},
    h('p', {}, h('strong', {}, 'Please look at this:')), h('ul', {}, warnings.map((w) => h('li', {}, w.message))));
}

// warningWords is the warnings as words to announce after what was done.
const warningWords = (out) => ((out && out.warnings) || []).map((w) => ' ' + w.message).join('');

// secretBox shows a data source's webhook secret, the one time the API
// answers it.
function secretBox(out) {
  if (!out || !out.webhook_secret) return null;
  return h('div', {class: 'notice', id: 'webhook-secret', role: 'alert'},
    h('p', {}, `The webhook secret of ${out.name}, shown this once: put it in the receiver now (docs/webhooks.md).`),
    h('p', {}, h('code', {}, out.webhook_secret)));
}

async function dataSourcesView(warnings, secret) {
  const gen = generation;
  const canEdit = ADMINISTRATORS.includes(me.role);
  const sources = (await api('GET', '/api/v1/data-sources')).items || [];
  let users = [];
  if (canEdit) {
    try { users = (await api('GET', '/api/v1/users')).items || []; } catch (err) { users = []; }
  }
  const parts = [h('h1', {}, 'Data sources')];
  const box = warningsBox(warnings);
  if (box) parts.push(box);
  const shown = secretBox(secret);
  if (shown) parts.push(shown);
  const tbody = h('tbody');
  for (const s of sources) {
    const actions = h('td', {class: 'row-actions'});
    if (canEdit) {
      const edit = h('button', {type: 'button', class: 'secondary'}, 'Edit');
      edit.setAttribute('aria-label', `Edit ${s.name}`);
      edit.addEventListener('click', () => fillForm(s));
      // Deleting asks once more, in the page: the first button shows the
      // form that really deletes.
      const ask = h('button', {type: 'button', class: 'danger', 'aria-label': `Delete ${s.name}`, 'aria-expanded': 'false'}, 'Delete');
      const keep = h('button', {type: 'button', class: 'secondary'}, 'Keep it');
      const del = h('form', {class: 'inline-form', hidden: true},
        h('span', {}, `Delete ${s.name} for good?`), h('button', {type: 'submit', class: 'danger'}, 'Yes, delete'), keep);
      ask.addEventListener('click', () => {
        del.hidden = false;
        ask.setAttribute('aria-expanded', 'true');
        keep.focus();
      });
      keep.addEventListener('click', () => {
        del.hidden = true;
        ask.setAttribute('aria-expanded', 'false');
        ask.focus();
      });
      actionForm(del, () => api('DELETE', `/api/v1/data-sources/${s.id}`), `Data source ${s.name} deleted.`, () => dataSourcesView());
      actions.append(edit, ' ', ask, del);
      if (s.webhook_url) {
        const rotate = h('form', {class: 'inline-form webhook-rotate'},
          h('button', {type: 'submit', class: 'secondary', 'aria-label': `New webhook secret for ${s.name}`}, 'New webhook secret'));
        actionForm(rotate, () => api('POST', `/api/v1/data-sources/${s.id}/webhook-secret`, {}),
          `A new webhook secret for ${s.name}; the old one no longer works.`,
          (out) => dataSourcesView(null, {name: s.name, webhook_secret: out.webhook_secret}));
        actions.append(' ', rotate);
      }
    }
    tbody.append(h('tr', {},
      h('th', {scope: 'row'}, s.name), h('td', {}, s.description || ''), h('td', {class: 'source-mode'}, modeWords(s)),
      h('td', {}, (s.owners || []).map((o) => (o.name || o.email) + (o.disabled ? ' (disabled)' : '')).join(', '),
        (s.owners || []).some((o) => !o.disabled) ? null
          : h('p', {class: 'unowned'}, h('strong', {}, 'No active owner:'), ' its tasks and alerts go to the org owners.')),
      h('td', {}, h('a', {href: `/console?data_source_id=${s.id}`}, 'Requests')), actions));
  }
  parts.push(sources.length
    ? h('table', {id: 'data-sources'}, h('thead', {}, h('tr', {}, ['Name', 'Description', 'Fulfilment', 'Owners', '', ''].map((c) => h('th', {scope: 'col'}, c)))), tbody)
    : h('p', {}, 'No data source yet.'));

  let form;
  let editing = null;
  const fillForm = (s) => {
    editing = s;
    form.querySelector('h2').textContent = `Edit ${s.name}`;
    form.name.value = s.name;
    form.description.value = s.description || '';
    const owners = new Set((s.owners || []).map((o) => o.id));
    for (const c of form.querySelectorAll('input[name=owner_ids]')) c.checked = owners.has(c.value);
    form.mode.value = s.mode || 'manual';
    form.task_queue.value = s.task_queue || '';
    form.dry_run.checked = !!s.dry_run;
    form.time_limit.value = s.time_limit || '';
    form.webhook_url.value = s.webhook_url || '';
    form.querySelector('button[type=submit]').textContent = 'Save';
    if (!form.querySelector('.cancel')) {
      const cancel = h('button', {type: 'button', class: 'secondary cancel'}, 'Cancel');
      cancel.addEventListener('click', () => dataSourcesView());
      form.querySelector('.buttons').append(cancel);
    }
    form.name.focus();
  };
  if (canEdit) {
    const ownersSet = h('fieldset', {}, h('legend', {}, 'Owners (they complete this source\'s tasks)'),
      users.filter((u) => !u.disabled).map((u) => {
        const cid = uid('owner');
        return h('div', {class: 'choice'}, h('input', {type: 'checkbox', name: 'owner_ids', value: u.id, id: cid}),
          h('label', {for: cid, class: 'choice'}, `${u.name} (${u.email}, ${roleLabel(u.role)})`));
      }));
    form = h('form', {id: 'data-source-form'},
      h('h2', {}, 'Add a data source'),
      field('Name', h('input', {type: 'text', name: 'name', required: true})),
      field('Description', h('textarea', {name: 'description', rows: 2})),
      ownersSet,
      h('fieldset', {}, h('legend', {}, 'Fulfilment (access and deletion requests)'),
        field('Mode', select('mode', settings.source_modes || [], 'manual')),
        field('Task queue', h('input', {type: 'text', name: 'task_queue', autocomplete: 'off'}),
          '(PostgreSQL and MySQL: the connector\'s queue; left empty, the default one)'),
        h('div', {class: 'choice'}, h('input', {type: 'checkbox', name: 'dry_run', id: 'source-dry-run'}),
          h('label', {for: 'source-dry-run', class: 'choice'}, 'Dry run: an erasure first counts the rows and waits for an approval')),
        field('Time limit', h('input', {type: 'text', name: 'time_limit', autocomplete: 'off', placeholder: '72h'}),
          '(webhook: how long the owner\'s system has to answer a job)'),
        field('Webhook URL', h('input', {type: 'url', name: 'webhook_url', autocomplete: 'off', placeholder: 'https://'}),
          '(webhook: where the signed jobs go; the secret is shown once, when saved)')),
      h('p', {class: 'buttons'}, h('button', {type: 'submit'}, 'Add the data source')));
    actionForm(form, (f) => {
      const body = {name: f.name.value, description: f.description.value,
        owner_ids: [...f.querySelectorAll('input[name=owner_ids]:checked')].map((c) => c.value),
        mode: f.mode.value, dry_run: f.dry_run.checked};
      if (f.task_queue.value.trim()) body.task_queue = f.task_queue.value;
      if (f.time_limit.value.trim()) body.time_limit = f.time_limit.value;
      if (f.webhook_url.value.trim() || (editing && editing.webhook_url)) body.webhook_url = f.webhook_url.value.trim();
      return editing ? api('PATCH', `/api/v1/data-sources/${editing.id}`, body) : api('POST', '/api/v1/data-sources', body);
    }, (out) => `Data source ${out.name} saved.${warningWords(out)}`, (out) => dataSourcesView(out && out.warnings, out));
    parts.push(form);
  }
  if (gen !== generation) return;
  view.replaceChildren(...parts);
}

// ---- users -----------------------------------------------------------------

async function usersView(warnings) {
  const gen = generation;
  const users = (await api('GET', '/api/v1/users')).items || [];
  const tbody = h('tbody');
  for (const u of users) {
    const self = u.id === me.id; // an org owner cannot demote or disable themselves
    const roleField = field(`Role of ${u.name}`, select('role', settings.roles || [], u.role));
    roleField.querySelector('label').className = 'visually-hidden';
    const roleForm = h('form', {class: 'inline-form'}, roleField,
      h('button', {type: 'submit', class: 'secondary'}, 'Change role'));
    actionForm(roleForm, (f) => api('PATCH', `/api/v1/users/${u.id}`, {role: f.role.value}),
      (out) => `${out.name} is now ${roleLabel(out.role)}.`, () => usersView());
    const toggle = h('form', {class: 'inline-form'},
      h('button', {type: 'submit', class: u.disabled ? 'secondary' : 'danger', 'aria-label': `${u.disabled ? 'Enable' : 'Disable'} ${u.name}`},
        u.disabled ? 'Enable' : 'Disable'));
    actionForm(toggle, () => api('PATCH', `/api/v1/users/${u.id}`, {disabled: !u.disabled}),
      (out) => `${out.name} is ${out.disabled ? 'disabled' : 'enabled'}.${warningWords(out)}`, (out) => usersView(out.warnings));
    const pw = h('form', {class: 'inline-form'},
      field(`New password for ${u.name}`, h('input', {type: 'password', name: 'password', autocomplete: 'new-password'})),
      h('button', {type: 'submit', class: 'secondary'}, 'Set'));
    actionForm(pw, (f) => api('PATCH', `/api/v1/users/${u.id}`, {password: f.password.value}),
      (out) => `New password set for ${out.name}; their sessions have ended.`, () => usersView());
    tbody.append(h('tr', {class: u.disabled ? 'disabled' : null, 'data-user': u.email},
      h('th', {scope: 'row'}, u.name, self ? ' (you)' : ''), h('td', {}, u.email), h('td', {}, self ? roleLabel(u.role) : roleForm),
      h('td', {}, u.disabled ? 'disabled' : 'active'),
      h('td', {class: 'row-actions'}, self ? '' : toggle, h('details', {}, h('summary', {}, 'Password'), pw))));
  }
  const form = h('form', {id: 'user-form'},
    h('h2', {}, 'Add a user'),
    h('div', {class: 'filter-grid'},
      field('Name', h('input', {type: 'text', name: 'name', autocomplete: 'off'})),
      field('Email', h('input', {type: 'email', name: 'email', autocomplete: 'off'})),
      field('Role', select('role', settings.roles || [], 'manager')),
      field('Password', h('input', {type: 'password', name: 'password', autocomplete: 'new-password'}), '(at least 12 characters, not a common password)')),
    h('button', {type: 'submit'}, 'Add the user'));
  actionForm(form, (f) => api('POST', '/api/v1/users', {name: f.name.value, email: f.email.value, role: f.role.value, password: f.password.value}),
    (out) => `User ${out.name} added.`, () => usersView());
  if (gen !== generation) return;
  view.replaceChildren(h('h1', {}, 'Users'), ...[warningsBox(warnings)].filter(Boolean),
    h('table', {id: 'users'}, h('thead', {}, h('tr', {}, ['Name', 'Email', 'Role', 'State', ''].map((c) => h('th', {scope: 'col'}, c)))), tbody),
    form);
}

// ---- start -----------------------------------------------------------------

async function start() {
  document.getElementById('sso').hidden = !settings.sso;
  if (settings.password_login === false) document.getElementById('signin-form').hidden = true;
  // Single sign-on comes back with ?signed_in=sso and its session in the cookie.
  if (new URLSearchParams(location.search).has('signed_in')) {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.setItem(COOKIE, '1');
    history.replaceState(null, '', '/console');
  }
  if (!sessionStorage.getItem(TOKEN) && !sessionStorage.getItem(COOKIE)) {
    signedOut();
    return;
  }
  try {
    await session(await api('GET', '/api/v1/sessions/current'));
  } catch (err) {
    if (!me) signedOut(err.status === 401 ? 'Your session has ended. Please sign in again.' : err.message);
  }
}

start();
