// DOM helpers. Text always goes in as text nodes (never innerHTML), nothing sets an inline
// style (the CSP allows only /console/style.css), and nothing writes to the browser console.

/** h('a', {href, class, onclick}, child, ...): an element; strings become text nodes. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (name === 'text') {
      el.textContent = value;
    } else if (['value', 'checked', 'selected', 'disabled', 'hidden', 'open'].includes(name)) {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** A dialog of a view's own making: title, body, actions. */
export function openDialog(title, { wide } = {}, ...children) {
  const dlg = dialogShell(title);
  if (wide) dlg.classList.add('dialog-wide');
  append(dlg, children);
  dlg.showModal();
  return dlg;
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
export const newId = (prefix) => `${prefix}-${++uid}`;

// --- formatting ---------------------------------------------------------------------------

const pad = (n) => String(n).padStart(2, '0');

/** Local date and time, seconds included; the ISO value in the title. */
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', {}, String(iso));
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return h('time', { datetime: iso, title: iso }, text);
}

export function rate(fraction) {
  if (fraction === null || fraction === undefined) return '—';
  const pct = fraction * 100;
  return `${pct === 100 || pct === 0 ? pct.toFixed(0) : pct.toFixed(1)}%`;
}

export function ms(n) {
  if (n === null || n === undefined) return '—';
  return n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n} ms`;
}

export const dash = (v) => (v === null || v === undefined || v === '' ? '—' : String(v));

/** `datetime-local` input value → RFC 3339 (UTC), or '' when empty. */
export function toRfc3339(local) {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** A Date → `datetime-local` input value. */
export function toLocalInput(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function pretty(value) {
  if (typeof value === 'string') {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}

const BADGE = {
  ok: ['success', 'processed', 'synced', 'active', 'done', 'enabled', 'in sync', 'delivered'],
  bad: ['failed', 'disabled', 'error', 'behind'],
  warn: ['pending', 'running', 'retrying', 'failing'],
};

/** A status pill; its colour follows the status word. */
export function badge(status, label) {
  const s = String(status ?? 'unknown').toLowerCase();
  const kind = Object.keys(BADGE).find((k) => BADGE[k].includes(s)) || 'muted';
  return h('span', { class: `badge badge-${kind}` }, label ?? String(status ?? 'unknown'));
}

export function code(text, cls) {
  return h('code', { class: cls || null }, text);
}

// --- layout -------------------------------------------------------------------------------

/** The page head: the section's h1, an optional trail and the page's actions. */
export function pageHead(title, { trail, actions, sub } = {}) {
  return h(
    'div',
    { class: 'page-head' },
    trail ? h('nav', { class: 'trail', 'aria-label': 'Breadcrumb' }, trail) : null,
    h('div', { class: 'page-title' }, h('h1', {}, title), actions ? h('div', { class: 'actions' }, actions) : null),
    sub ? h('div', { class: 'page-sub' }, sub) : null,
  );
}

export function panel(title, { actions, cls } = {}, ...children) {
  return h(
    'section',
    { class: `panel ${cls || ''}` },
    title || actions
      ? h('div', { class: 'panel-head' }, title ? h('h2', {}, title) : h('span'), actions ? h('div', { class: 'actions' }, actions) : null)
      : null,
    h('div', { class: 'panel-body' }, children),
  );
}

export function stat(label, value, { kind, href, note } = {}) {
  const inner = [h('div', { class: 'stat-label' }, label), h('div', { class: `stat-value ${kind ? `stat-${kind}` : ''}` }, value), note ? h('div', { class: 'stat-note' }, note) : null];
  return href ? h('a', { class: 'stat', href }, inner) : h('div', { class: 'stat' }, inner);
}

export function stats(...items) {
  return h('div', { class: 'stats' }, items);
}

/** Facts as a definition list: [[label, value], ...]. */
export function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.filter(Boolean).map(([k, v]) => h('div', { class: 'fact' }, h('dt', {}, k), h('dd', {}, v === null || v === undefined || v === '' ? '—' : v))),
  );
}

export function notice(kind, ...children) {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, children);
}

export const errorNotice = (e) => notice('error', e && e.message ? e.message : String(e));

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading muted' }, text);
}

/**
 * A table: columns [{label, cell(row) → node|string, cls}], one row per item. Wide tables
 * scroll sideways inside their panel on a phone.
 */
export function table(columns, rows, { empty = 'Nothing here yet.', rowClass, caption } = {}) {
  if (!rows.length) return h('p', { class: 'empty muted' }, empty);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'data' },
      caption ? h('caption', { class: 'sr-only' }, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.cls || null }, c.label)))),
      h(
        'tbody',
        {},
        rows.map((r) => h('tr', { class: rowClass ? rowClass(r) : null }, columns.map((c) => h('td', { class: c.cls || null, 'data-label': c.label }, c.cell(r))))),
      ),
    ),
  );
}

// --- actions and messages ----------------------------------------------------------------

/** A transient message (the API's success or its error message). */
export function toast(message, kind = 'ok') {
  const box = document.getElementById('toasts');
  const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, h('span', {}, message), h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 10000 : 5000);
  return t;
}

/**
 * A button that runs an async action: disabled while it runs; a failure shows the API's
 * error message. `run` may return a success message to show.
 */
export function button(text, run, { kind = 'secondary', title, type = 'button', cls } = {}) {
  const b = h('button', { type, class: `btn btn-${kind} ${cls || ''}`, title: title || null }, text);
  if (run) {
    b.addEventListener('click', async (ev) => {
      ev.preventDefault();
      if (b.disabled) return;
      b.disabled = true;
      b.setAttribute('aria-busy', 'true');
      try {
        const message = await run(ev);
        if (typeof message === 'string' && message) toast(message, 'ok');
      } catch (e) {
        if (e && e.status !== 401) toast(e && e.message ? e.message : String(e), 'error');
      } finally {
        b.disabled = false;
        b.removeAttribute('aria-busy');
      }
    });
  }
  return b;
}

export function link(text, href, cls) {
  return h('a', { href, class: cls || null }, text);
}

/** "Copy": puts `value()` on the clipboard. */
export function copyButton(value, label = 'Copy') {
  const b = h('button', { type: 'button', class: 'btn btn-secondary btn-small', 'aria-label': label === 'Copy' ? null : label }, 'Copy');
  b.addEventListener('click', async () => {
    const text = typeof value === 'function' ? value() : value;
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      ok = copyByTextarea(text);
    }
    toast(ok ? 'Copied to the clipboard.' : 'Copy failed: select the text and copy it.', ok ? 'ok' : 'error');
  });
  return b;
}

function copyByTextarea(text) {
  const ta = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

/** A value to copy: the text in a code box and its "Copy" button. */
export function copyable(label, value, cls) {
  return h('div', { class: 'copyable' }, h('div', { class: 'copyable-label' }, label), h('div', { class: 'copyable-row' }, h('code', { class: `copyable-value ${cls || ''}` }, value), copyButton(value, `Copy ${label.toLowerCase()}`)));
}

// --- dialogs -------------------------------------------------------------------------------

// What to do when the dialog closes (Esc included). A `close` event is dispatched after the
// fact, so one left over from the previous dialog may arrive while the next one is open:
// only a close that left the dialog closed counts.
let onDialogClose = null;

function dialogShell(title, describedBy, onClose) {
  const dlg = document.getElementById('dialog');
  if (!dlg.dataset.listening) {
    dlg.dataset.listening = 'true';
    dlg.addEventListener('close', () => {
      if (dlg.open) return;
      delete dlg.dataset.sticky;
      const fn = onDialogClose;
      onDialogClose = null;
      if (fn) fn();
    });
  }
  onDialogClose = null;
  if (dlg.open) dlg.close();
  delete dlg.dataset.sticky;
  onDialogClose = onClose || null;
  dlg.classList.remove('dialog-wide');
  dlg.replaceChildren();
  dlg.setAttribute('aria-labelledby', 'dialog-title');
  if (describedBy) dlg.setAttribute('aria-describedby', describedBy);
  else dlg.removeAttribute('aria-describedby');
  dlg.append(h('h2', { id: 'dialog-title', class: 'dialog-title' }, title));
  return dlg;
}

/** Asks first: resolves true when the user confirms. */
export function confirmDialog({ title, message, confirmText, danger = true }) {
  return new Promise((resolve) => {
    let answered = false;
    const dlg = dialogShell(title, 'dialog-message', () => done(false));
    const done = (answer) => {
      if (answered) return;
      answered = true;
      if (dlg.open) dlg.close();
      resolve(answer);
    };
    dlg.append(
      h('p', { id: 'dialog-message', class: 'dialog-message' }, message),
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => done(false) }, 'Cancel'), h('button', { type: 'button', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, onclick: () => done(true) }, confirmText)),
    );
    dlg.showModal();
  });
}

/**
 * A form in the dialog. `fields` are field() specs; `submit(values)` runs on "submitText"
 * and may return a message; an error keeps the dialog open and shows the API's message.
 * `after(result)` runs once the dialog has closed (e.g. to reveal a secret).
 */
export function formDialog({ title, fields, submitText, submit, intro, after }) {
  const dlg = dialogShell(title);
  const errorBox = h('div', { class: 'dialog-error' });
  const built = fields.map((f) => field(f));
  const form = h('form', { class: 'form', novalidate: true }, intro ? h('p', { class: 'muted' }, intro) : null, built.map((b) => b.wrap), errorBox);
  const submitBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, submitText);
  form.append(h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => dlg.close() }, 'Cancel'), submitBtn));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const values = Object.fromEntries(built.map((b) => [b.name, b.read()]));
    submitBtn.disabled = true;
    errorBox.replaceChildren();
    try {
      const result = await submit(values);
      dlg.close();
      if (typeof result === 'string' && result) toast(result, 'ok');
      if (after) after(result);
    } catch (e) {
      if (e && e.status === 401) {
        dlg.close();
      } else {
        errorBox.replaceChildren(errorNotice(e));
      }
    } finally {
      submitBtn.disabled = false;
    }
  });
  dlg.append(form);
  dlg.showModal();
  const first = form.querySelector('input, select, textarea');
  if (first) first.focus();
}

/** Shows values the API reveals once (secrets), each with "Copy". */
export function revealDialog(title, message, items) {
  const dlg = dialogShell(title);
  append(dlg, [
    h('p', { class: 'dialog-message' }, message),
    items.map(([label, value]) => copyable(label, value, 'secret-value')),
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn btn-primary', onclick: () => dlg.close() }, 'Done')),
  ]);
  // Survives the page change that usually follows (the secret must be seen).
  dlg.dataset.sticky = 'true';
  dlg.showModal();
}

// --- fields --------------------------------------------------------------------------------

/**
 * A labelled field. spec: {name, label, type (text|number|url|password|select|textarea|
 * checkbox|date|datetime-local), value, options [[value, text]], required, placeholder, hint}.
 * Returns {wrap, input, name, read()}.
 */
export function field(spec) {
  const id = spec.id || newId(`f-${spec.name}`);
  const hintId = spec.hint ? `${id}-hint` : null;
  let input;
  if (spec.type === 'select') {
    input = h('select', { id, name: spec.name, 'aria-describedby': hintId }, (spec.options || []).map(([v, t]) => h('option', { value: v, selected: String(spec.value ?? '') === String(v) }, t)));
  } else if (spec.type === 'textarea') {
    input = h('textarea', { id, name: spec.name, rows: spec.rows || 3, placeholder: spec.placeholder || null, 'aria-describedby': hintId, spellcheck: 'false' });
    input.value = spec.value ?? '';
  } else if (spec.type === 'checkbox') {
    input = h('input', { id, name: spec.name, type: 'checkbox', checked: Boolean(spec.value), 'aria-describedby': hintId });
  } else {
    input = h('input', { id, name: spec.name, type: spec.type || 'text', placeholder: spec.placeholder || null, autocomplete: spec.autocomplete || 'off', 'aria-describedby': hintId, spellcheck: 'false', min: spec.min ?? null, max: spec.max ?? null, step: spec.step ?? null });
    input.value = spec.value ?? '';
  }
  if (spec.required) input.required = true;
  const label = h('label', { for: id }, spec.label);
  const hint = spec.hint ? h('div', { id: hintId, class: 'hint' }, spec.hint) : null;
  const wrap = spec.type === 'checkbox' ? h('div', { class: `field field-check ${spec.cls || ''}` }, input, label, hint) : h('div', { class: `field ${spec.cls || ''}` }, label, input, hint);
  const read = () => (spec.type === 'checkbox' ? input.checked : input.value.trim());
  return { wrap, input, name: spec.name, read };
}

/** Numbers typed in a field: '' → undefined (the API's default), else a number. */
export function num(v) {
  if (v === '' || v === undefined || v === null) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}

/** 'a, b\nc' → ['a', 'b', 'c']. */
export function list(v) {
  return String(v || '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

// --- paging --------------------------------------------------------------------------------

/**
 * Cursor paging: "Previous" / "Next" over the API's nextCursor. `load(cursor)` fetches a page
 * and returns its pagination. Returns {el, reset(), reload()}.
 */
export function pager(load) {
  const cursors = [null];
  let index = 0;
  let hasMore = false;
  const info = h('span', { class: 'pager-info muted' });
  const prev = h('button', { type: 'button', class: 'btn btn-secondary btn-small' }, 'Previous');
  const next = h('button', { type: 'button', class: 'btn btn-secondary btn-small' }, 'Next');
  const el = h('div', { class: 'pager' }, prev, info, next);
  const sync = () => {
    prev.disabled = index === 0;
    next.disabled = !hasMore;
    info.textContent = `Page ${index + 1}`;
  };
  const go = async () => {
    prev.disabled = true;
    next.disabled = true;
    try {
      const p = (await load(cursors[index])) || {};
      hasMore = Boolean(p.hasMore && p.nextCursor);
      cursors[index + 1] = p.nextCursor || null;
    } catch {
      hasMore = false; // the view shows the error
    }
    sync();
  };
  prev.addEventListener('click', () => {
    if (index > 0) {
      index -= 1;
      go();
    }
  });
  next.addEventListener('click', () => {
    if (hasMore) {
      index += 1;
      go();
    }
  });
  sync();
  return {
    el,
    reset() {
      cursors.length = 1;
      index = 0;
      return go();
    },
    reload: () => go(),
  };
}
