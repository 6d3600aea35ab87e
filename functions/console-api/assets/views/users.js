// Users (seed 001): the filtered list with cursor paging, "Start export" (CSV or JSON, consent
// only) with its progress and download link, and the export audit.

import { get, seg } from '../api.js';
import { h, clear, badge, button, code, dash, errorNotice, field, loading, notice, pageHead, pager, panel, table, time, toast } from '../ui.js';

const POLL_MS = 1000;

export async function render(ctx) {
  const search = field({ name: 'search', label: 'Search', placeholder: 'name, email or Instagram' });
  const hasTag = field({ name: 'hasTag', label: 'Has tag', placeholder: 'vip' });
  const optedIn = field({ name: 'optedIn', label: 'Opted in on', type: 'select', options: [['', 'Any'], ['messenger', 'Messenger'], ['instagram', 'Instagram'], ['whatsapp', 'WhatsApp'], ['telegram', 'Telegram']] });
  const createdAfter = field({ name: 'createdAfter', label: 'Created after', type: 'date' });
  const createdBefore = field({ name: 'createdBefore', label: 'Created before', type: 'date' });
  const sortBy = field({ name: 'sortBy', label: 'Sort by', type: 'select', options: [['createdAt', 'Created'], ['updatedAt', 'Updated'], ['firstName', 'First name'], ['lastName', 'Last name']] });
  const sortOrder = field({ name: 'sortOrder', label: 'Order', type: 'select', options: [['desc', 'Newest / Z–A first'], ['asc', 'Oldest / A–Z first']] });
  const consent = field({ name: 'exportConsentOnly', label: 'Export consent only', type: 'checkbox' });
  const limit = field({ name: 'limit', label: 'Per page', type: 'select', value: '50', options: [['25', '25'], ['50', '50'], ['100', '100'], ['250', '250']] });

  const filters = () => ({
    search: search.read(),
    hasTag: hasTag.read(),
    optedIn: optedIn.read(),
    createdAfter: createdAfter.read(),
    createdBefore: createdBefore.read(),
    sortBy: sortBy.read(),
    sortOrder: sortOrder.read(),
    exportConsentOnly: consent.read() ? 'true' : '',
  });

  const body = h('div', {}, loading());
  const total = h('span', { class: 'muted' });
  const p = pager(async (cursor) => {
    try {
      const data = await get('/api/admin/users', { ...filters(), limit: limit.read(), cursor });
      const pg = data.pagination || {};
      total.textContent = pg.total !== null && pg.total !== undefined ? `${pg.total} users match` : '';
      clear(
        body,
        table(
          [
            { label: 'Name', cell: (u) => h('div', {}, h('strong', {}, dash(u.fullName || [u.firstName, u.lastName].filter(Boolean).join(' '))), h('div', { class: 'muted small' }, u.id)) },
            { label: 'Email', cell: (u) => dash(u.email) },
            { label: 'Phone', cell: (u) => dash(u.phone) },
            { label: 'Instagram', cell: (u) => (u.instagramUsername ? `@${u.instagramUsername}` : '—') },
            { label: 'Tags', cell: (u) => h('span', { class: 'chips' }, (u.tags || []).map((t) => h('span', { class: 'chip' }, t.name))) },
            { label: 'Opted in', cell: (u) => optIns(u.optIns) },
            { label: 'Export consent', cell: (u) => (u.exportConsent && u.exportConsent.given ? badge('active', 'given') : badge('none', 'no')) },
            { label: 'Created', cell: (u) => time(u.timestamps ? u.timestamps.createdAt : u.createdAt) },
          ],
          data.users || [],
          { empty: 'No users match these filters.' },
        ),
      );
      return pg;
    } catch (e) {
      clear(body, errorNotice(e));
      throw e;
    }
  });

  const form = h('form', { class: 'filters', novalidate: true }, search.wrap, hasTag.wrap, optedIn.wrap, createdAfter.wrap, createdBefore.wrap, sortBy.wrap, sortOrder.wrap, limit.wrap, consent.wrap, h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-secondary' }, 'Apply filters')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    p.reset();
  });

  // --- export ---
  const format = field({ name: 'format', label: 'Format', type: 'select', options: [['csv', 'CSV'], ['json', 'JSON']] });
  const consentOnly = field({ name: 'consentOnly', label: 'Only users who gave export consent', type: 'checkbox', value: true });
  const progress = h('div', { class: 'export-progress' });
  const audit = h('div', {}, loading());
  let timer = null;
  const stop = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  ctx.onLeave(stop);

  const auditPager = pager(async (cursor) => {
    try {
      const data = await get('/api/admin/exports', { limit: 10, cursor });
      clear(
        audit,
        table(
          [
            { label: 'Created', cell: (x) => h('span', { title: x.id }, time(x.createdAt)) },
            { label: 'Format', cell: (x) => `${String(x.format || '').toUpperCase()} (${dash(x.mode)})` },
            { label: 'Status', cell: (x) => badge(x.status) },
            { label: 'Rows', cell: (x) => dash(x.rowCount), cls: 'num' },
            { label: 'SHA-256', cell: (x) => (x.sha256 ? h('code', { title: x.sha256 }, `${x.sha256.slice(0, 10)}…`) : '—') },
            { label: 'API key', cell: (x) => (x.apiKeyId ? h('code', { class: 'clip', title: x.apiKeyId }, x.apiKeyId) : '—') },
            { label: 'Filters', cell: (x) => h('code', { class: 'clip', title: JSON.stringify(x.filters || {}) }, JSON.stringify(x.filters || {})) },
          ],
          data.exports || [],
          { empty: 'No export yet.' },
        ),
      );
      return data.pagination;
    } catch (e) {
      clear(audit, errorNotice(e));
      throw e;
    }
  });

  const show = (x) => {
    const rows = x.rowCount !== null && x.rowCount !== undefined ? `${x.rowCount} rows written` : 'rows being written…';
    clear(
      progress,
      h(
        'div',
        { class: 'export-card' },
        h('div', { class: 'export-line' }, badge(x.status), ' ', code(x.id), ' ', h('span', { class: 'export-rows' }, x.status === 'pending' ? 'waiting for the export worker…' : rows)),
        x.status === 'running' || x.status === 'pending' ? h('progress', { class: 'export-bar', 'aria-label': 'Export progress' }) : null,
        x.status === 'done'
          ? h('div', { class: 'export-done' }, x.downloadUrl ? h('a', { class: 'btn btn-primary', href: x.downloadUrl, download: `users-${x.id}.${x.format || 'csv'}`, rel: 'noopener' }, 'Download') : notice('info', 'Done; no download link (a direct export is served in its answer).'), x.sha256 ? h('span', { class: 'muted small' }, 'SHA-256 ', h('code', {}, x.sha256)) : null)
          : null,
        x.status === 'failed' ? notice('error', x.error || 'The export failed.') : null,
      ),
    );
  };

  const poll = async (id) => {
    stop();
    let x;
    try {
      x = (await get(`/api/admin/exports/${seg(id)}`)).export;
    } catch (e) {
      clear(progress, errorNotice(e));
      return;
    }
    if (!ctx.current()) return;
    show(x);
    if (x.status === 'done' || x.status === 'failed') {
      auditPager.reload();
      toast(x.status === 'done' ? `Export ${x.id} is ready: ${x.rowCount ?? 0} rows.` : `Export ${x.id} failed.`, x.status === 'done' ? 'ok' : 'error');
      return;
    }
    timer = setTimeout(() => poll(id), POLL_MS);
  };

  const start = button(
    'Start export',
    async () => {
      const f = filters();
      f.exportConsentOnly = consentOnly.read() ? 'true' : '';
      delete f.sortBy;
      delete f.sortOrder;
      const r = await get(`/api/admin/export/users/${format.read()}`, { ...f, async: 'true' });
      const x = r.export;
      show(x);
      auditPager.reload();
      poll(x.id);
      return `Export ${x.id} started.`;
    },
    { kind: 'primary' },
  );

  ctx.main.append(
    pageHead('Users', { sub: 'Users of this workspace, their consent and tags; exports honour consent and are audited with the SHA-256 of their bytes.' }),
    panel('Users', { actions: [total, button('Refresh', () => p.reload())] }, form, body, p.el),
    h(
      'div',
      { class: 'grid-2' },
      panel('Export', {}, h('p', { class: 'muted' }, 'Exports the users matching the filters above as a file in the export bucket (kept 7 days).'), h('div', { class: 'filters' }, format.wrap, consentOnly.wrap, h('div', { class: 'field field-button' }, start)), progress),
      panel('Export audit', { actions: [button('Refresh', () => auditPager.reload())] }, audit, auditPager.el),
    ),
  );
  await Promise.all([p.reset(), auditPager.reset()]);
}

function optIns(o) {
  const on = Object.entries(o || {})
    .filter(([, v]) => v)
    .map(([k]) => k);
  return on.length ? h('span', { class: 'chips' }, on.map((k) => h('span', { class: 'chip' }, k))) : h('span', { class: 'muted' }, 'none');
}
