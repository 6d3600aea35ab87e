// The console's shell: sign-in, sign-out, hash routing (the deep links of DESIGN §8) and the
// navigation. Each view module renders into <main> and calls only the JSON API.

import { api, onUnauthorized, session, forgetWorkspaceLookup, workspaceId } from './api.js';
import { h, clear, errorNotice, pageHead, toast } from './ui.js';
import * as overview from './views/overview.js';
import * as mockExams from './views/mock-exams.js';
import * as webhooks from './views/webhooks.js';
import * as calendarSync from './views/calendar-sync.js';
import * as syncJobs from './views/sync-jobs.js';
import * as users from './views/users.js';

const SECTIONS = {
  overview: 'Overview',
  'mock-exams': 'Mock exams',
  webhooks: 'Webhooks',
  'calendar-sync': 'Calendar sync',
  'sync-jobs': 'Sync jobs',
  users: 'Users',
};

// [pattern, section, render]: the first match wins; captures are the view's params.
const ROUTES = [
  [/^\/overview$/, 'overview', overview.render],
  [/^\/mock-exams$/, 'mock-exams', mockExams.renderList],
  [/^\/mock-exams\/([^/]+)$/, 'mock-exams', mockExams.renderExam],
  [/^\/webhooks$/, 'webhooks', webhooks.renderList],
  [/^\/webhooks\/([^/]+)$/, 'webhooks', webhooks.renderWebhook],
  [/^\/calendar-sync$/, 'calendar-sync', calendarSync.render],
  [/^\/sync-jobs$/, 'sync-jobs', syncJobs.renderList],
  [/^\/sync-jobs\/([^/]+)$/, 'sync-jobs', syncJobs.renderJob],
  [/^\/sync-jobs\/([^/]+)\/events\/([^/]+)$/, 'sync-jobs', syncJobs.renderEvent],
  [/^\/users$/, 'users', users.render],
];

const $ = (id) => document.getElementById(id);

function route(hash) {
  const path = (hash || '').replace(/^#/, '');
  for (const [pattern, section, render] of ROUTES) {
    const m = pattern.exec(path);
    if (m) {
      let params;
      try {
        params = m.slice(1).map(decodeURIComponent);
      } catch {
        return null;
      }
      return { section, render, params };
    }
  }
  return null;
}

// Timers and other things a view started, stopped when the next view renders.
let leaving = [];
let generation = 0;

function render() {
  for (const fn of leaving.splice(0)) {
    try {
      fn();
    } catch {
      // a view's clean-up never blocks the next view
    }
  }
  generation += 1;
  const dlg = $('dialog');
  if (dlg.open && !dlg.dataset.sticky) dlg.close();
  if (!session.key()) {
    showSignin();
    return;
  }
  showShell();
  const found = route(location.hash);
  if (!found) {
    if (!location.hash || location.hash === '#' || location.hash === '#/') {
      history.replaceState(null, '', '#/overview');
      render();
      return;
    }
    markNav(null);
    document.title = 'Not found · booking-sync console';
    clear($('view'), pageHead('Page not found'), h('p', {}, 'This console has no page at ', h('code', {}, location.hash), '. ', h('a', { href: '#/overview' }, 'Go to the overview'), '.'));
    return;
  }
  markNav(found.section);
  document.title = `${SECTIONS[found.section]} · booking-sync console`;
  const main = clear($('view'));
  const mine = generation;
  const ctx = {
    main,
    params: found.params,
    onLeave: (fn) => leaving.push(fn),
    current: () => mine === generation,
  };
  Promise.resolve()
    .then(() => found.render(ctx))
    .catch((e) => {
      if (ctx.current() && !(e && e.status === 401)) main.append(errorNotice(e));
    });
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

function markNav(section) {
  for (const a of document.querySelectorAll('.nav a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function showSignin(message) {
  $('shell').hidden = true;
  $('signin').hidden = false;
  document.title = 'Sign in · booking-sync console';
  const box = $('signin-error');
  box.replaceChildren();
  if (message) box.append(h('div', { class: 'notice notice-error', role: 'alert' }, message));
  $('api-key').value = '';
  $('api-key').focus();
}

function showShell() {
  $('signin').hidden = true;
  $('shell').hidden = false;
  const label = $('workspace-label');
  const ws = session.workspace();
  label.textContent = ws ? `Workspace ${ws}` : 'Signed in';
  if (!ws) {
    workspaceId().then((r) => {
      if (r.id && session.key()) label.textContent = `Workspace ${r.id}`;
    });
  }
}

async function signIn(ev) {
  ev.preventDefault();
  const key = $('api-key').value.trim();
  const box = $('signin-error');
  box.replaceChildren();
  if (!key) {
    box.append(h('div', { class: 'notice notice-error', role: 'alert' }, 'Paste an API key first.'));
    return;
  }
  const btn = $('signin-button');
  btn.disabled = true;
  try {
    // Any Bearer route proves the key; this one is cheap and the overview needs it anyway.
    await api('GET', '/api/integrations', { key });
  } catch (e) {
    box.append(h('div', { class: 'notice notice-error', role: 'alert' }, e.message));
    btn.disabled = false;
    return;
  }
  btn.disabled = false;
  session.start(key);
  $('api-key').value = '';
  // The deep link that was asked for, else the overview.
  if (!route(location.hash)) history.replaceState(null, '', '#/overview');
  render();
}

function signOut() {
  session.end();
  forgetWorkspaceLookup();
  history.replaceState(null, '', location.pathname);
  for (const fn of leaving.splice(0)) {
    try {
      fn();
    } catch {
      // nothing to keep
    }
  }
  clear($('view'));
  showSignin();
}

onUnauthorized((message) => {
  if (!session.key()) return;
  session.end();
  forgetWorkspaceLookup();
  for (const fn of leaving.splice(0)) {
    try {
      fn();
    } catch {
      // nothing to keep
    }
  }
  clear($('view'));
  // The hash stays: signing in again returns to this page.
  showSignin(`Signed out: ${message}`);
  const dlg = $('dialog');
  if (dlg.open) dlg.close();
  toast('Your API key was not accepted any more: sign in again.', 'error');
});

$('signin-form').addEventListener('submit', signIn);
$('signout').addEventListener('click', signOut);
window.addEventListener('hashchange', render);
window.addEventListener('unhandledrejection', (ev) => {
  // Every action handles its own errors; this keeps a stray one out of the browser console.
  ev.preventDefault();
  const e = ev.reason;
  if (!(e && e.status === 401)) toast(e && e.message ? e.message : String(e), 'error');
});
render();
