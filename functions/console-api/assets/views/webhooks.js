// Webhooks: outbound subscriptions (seed 001) — list, add, edit, disable, delete, secrets
// (shown once), test sends, and the delivery log with its filters, retry and recover.

import { del, get, patch, post, seg } from '../api.js';
import {
  h, clear, badge, button, code, confirmDialog, dash, errorNotice, facts, field, formDialog, link, list, loading, ms, num, openDialog, pageHead,
  pager, panel, pretty, revealDialog, stat, stats, table, time, toLocalInput, toRfc3339, toast,
} from '../ui.js';

const PAGE = 25;
const EVENT_TYPES = 'user.created, user.updated, user.deleted, booking.created, booking.updated, booking.cancelled, booking.completed, qr.scanned, qr.validated, tag.added, tag.removed, customfield.updated, mock_exam.bookings_changed, mock_exam.updated';

function state(w) {
  if (!w.active) return badge('disabled');
  if ((w.consecutiveFailures ?? 0) > 0) return badge('failing', `failing (${w.consecutiveFailures})`);
  return badge('active');
}

function chips(items) {
  return h('span', { class: 'chips' }, (items || []).map((e) => h('span', { class: 'chip' }, e)));
}

// --- the list ------------------------------------------------------------------------------

export async function renderList(ctx) {
  const body = h('div', {}, loading());
  const log = deliveryLog({ path: '/api/admin/deliveries', title: 'Delivery log (all webhooks)', showWebhook: true });
  const p = pager(async (cursor) => {
    try {
      const data = await get('/api/admin/webhooks', { limit: PAGE, cursor });
      clear(
        body,
        table(
          [
            { label: 'Webhook', cell: (w) => h('div', {}, link(w.name || w.id, `#/webhooks/${seg(w.id)}`), h('div', { class: 'muted small wrap' }, w.url)) },
            { label: 'Events', cell: (w) => chips(w.events) },
            { label: 'State', cell: (w) => h('div', {}, state(w), w.disabledReason ? h('div', { class: 'small error-text' }, w.disabledReason) : null) },
            { label: 'Delivered', cell: (w) => `${w.successCount ?? 0}`, cls: 'num' },
            { label: 'Failed', cell: (w) => `${w.failedCount ?? 0}`, cls: 'num' },
            { label: 'Last delivery', cell: (w) => (w.lastDeliveryStatus ? h('div', {}, badge(w.lastDeliveryStatus), ' ', time(w.lastDeliveryAt)) : h('span', { class: 'muted' }, 'none yet')) },
          ],
          data.webhooks || [],
          { empty: 'No webhooks yet: "Add webhook" subscribes a URL to events.' },
        ),
      );
      return data.pagination;
    } catch (e) {
      clear(body, errorNotice(e));
      throw e;
    }
  });
  ctx.main.append(
    pageHead('Webhooks', {
      actions: [button('Add webhook', async () => webhookForm(null), { kind: 'primary' })],
      sub: 'Signed outbound deliveries (Standard Webhooks and X-Webhook-Signature), retried with backoff; endpoints that keep failing are disabled.',
    }),
    panel('Subscriptions', { actions: [button('Refresh', () => p.reload())] }, body, p.el),
    log.el,
  );
  await Promise.all([p.reset(), log.start()]);
}

/** Add (existing = null) or edit a subscription. */
function webhookForm(existing, onSaved) {
  const w = existing || {};
  const fields = [
    { name: 'name', label: 'Name', value: w.name, required: true },
    { name: 'url', label: 'Endpoint URL', type: 'url', value: w.url, required: true, placeholder: 'https://example.com/webhooks', hint: 'https only in production; the local stack also allows http and loopback.' },
    { name: 'events', label: 'Events', type: 'textarea', value: (w.events || ['*']).join(', '), required: true, hint: `Comma-separated; * for all, prefix.* for a family. Types: ${EVENT_TYPES}.` },
    { name: 'description', label: 'Description', type: 'textarea', rows: 2, value: w.description },
    { name: 'retryAttempts', label: 'Retry attempts', type: 'number', min: 0, max: 10, value: w.retryAttempts ?? 3 },
    { name: 'retryDelay', label: 'Retry delay (seconds)', type: 'number', min: 1, max: 3600, value: w.retryDelay ?? 60 },
    { name: 'timeoutMs', label: 'Timeout (ms)', type: 'number', min: 1000, max: 25000, value: w.timeoutMs ?? 10000 },
    { name: 'maxConsecutiveFailures', label: 'Disable after failures in a row', type: 'number', min: 1, value: w.maxConsecutiveFailures ?? 5 },
  ];
  if (!existing) fields.push({ name: 'active', label: 'Active', type: 'checkbox', value: true });
  formDialog({
    title: existing ? `Edit webhook ${w.name}` : 'Add webhook',
    fields: fields.map((f) => ({ ...f, cls: ['retryAttempts', 'retryDelay', 'timeoutMs', 'maxConsecutiveFailures'].includes(f.name) ? 'field-half' : '' })),
    submitText: existing ? 'Save changes' : 'Add webhook',
    submit: async (v) => {
      const body = {
        name: v.name,
        url: v.url,
        events: list(v.events),
        description: v.description || (existing ? null : undefined),
        retryAttempts: num(v.retryAttempts),
        retryDelay: num(v.retryDelay),
        timeoutMs: num(v.timeoutMs),
        maxConsecutiveFailures: num(v.maxConsecutiveFailures),
      };
      if (!existing) body.active = v.active;
      const r = existing ? await patch(`/api/admin/webhooks/${seg(w.id)}`, body) : await post('/api/admin/webhooks', body);
      return r.webhook;
    },
    after: (saved) => {
      if (existing) {
        toast('Webhook saved.');
        if (onSaved) onSaved(saved);
        return;
      }
      location.hash = `#/webhooks/${seg(saved.id)}`;
      revealDialog('Webhook added', 'Copy the signing secret now: it is shown only this once (and again after "Rotate secret").', [['Signing secret', saved.secret]]);
    },
  });
}

// --- one subscription ----------------------------------------------------------------------

export async function renderWebhook(ctx) {
  const [id] = ctx.params;
  const top = h('div', {}, loading());
  const log = deliveryLog({ path: `/api/admin/webhooks/${seg(id)}/deliveries`, title: 'Delivery log', webhookId: id });
  const actions = h('div', { class: 'actions' });
  ctx.main.append(h('div', { class: 'page-head' }, h('nav', { class: 'trail', 'aria-label': 'Breadcrumb' }, link('Webhooks', '#/webhooks'), ' / ', h('span', {}, id)), h('div', { class: 'page-title' }, h('h1', {}, 'Webhooks'), actions)), top);
  const since = field({ name: 'since', label: 'Failed since', type: 'datetime-local', value: toLocalInput(new Date(Date.now() - 24 * 3600 * 1000)) });
  const recoverBox = panel(
    'Recover failed deliveries',
    {},
    h('p', { class: 'muted' }, 'Re-queues every failed delivery created since the time below, each with a fresh round of retries.'),
    h(
      'div',
      { class: 'filters' },
      since.wrap,
      button('Recover', async () => {
        const at = toRfc3339(since.read());
        if (!at) throw new Error('Choose the time to recover from.');
        const r = await post(`/api/admin/webhooks/${seg(id)}/recover`, { since: at });
        log.reload();
        return `${r.recovered ?? 0} failed deliveries re-queued${r.hasMore ? ' (more remain: press Recover again)' : ''}.`;
      }),
    ),
  );

  const load = async () => {
    let w;
    try {
      w = (await get(`/api/admin/webhooks/${seg(id)}`)).webhook;
    } catch (e) {
      clear(top, errorNotice(e));
      clear(actions);
      return false;
    }
    clear(
      actions,
      button(
        'Send test',
        async () => {
          const r = await post(`/api/admin/webhooks/${seg(id)}/test`);
          const a = r.attempt || {};
          log.reload();
          if (a.statusCode >= 200 && a.statusCode < 300) return `Test delivered: HTTP ${a.statusCode} in ${ms(a.durationMs)}.`;
          toast(`Test failed: ${a.error || `HTTP ${a.statusCode}`}${a.durationMs !== undefined ? ` after ${ms(a.durationMs)}` : ''}.`, 'error');
          return '';
        },
        { kind: 'primary' },
      ),
      button('Edit', async () => webhookForm(w, () => load())),
      w.active
        ? button('Disable', async () => {
            if (!(await confirmDialog({ title: 'Disable this webhook?', message: `No events are delivered to ${w.url} until it is enabled again.`, confirmText: 'Disable' }))) return '';
            await patch(`/api/admin/webhooks/${seg(id)}`, { active: false });
            await load();
            return 'Webhook disabled.';
          })
        : button('Enable', async () => {
            await patch(`/api/admin/webhooks/${seg(id)}`, { active: true });
            await load();
            return 'Webhook enabled: its failure streak was reset.';
          }),
      button('Rotate secret', async () => {
        if (!(await confirmDialog({ title: 'Rotate the signing secret?', message: 'A new secret signs from now on; the old one keeps signing alongside it for 24 hours, so receivers can switch over.', confirmText: 'Rotate secret', danger: false }))) return '';
        const r = await post(`/api/admin/webhooks/${seg(id)}/rotate-secret`);
        revealDialog('New signing secret', 'Copy the new secret now: it is shown only this once. The previous one stays valid for 24 hours.', [['Signing secret', r.webhook.secret]]);
        await load();
        return '';
      }),
      button(
        'Delete',
        async () => {
          if (!(await confirmDialog({ title: 'Delete this webhook?', message: `${w.name} (${w.url}) and its delivery log are deleted. This cannot be undone.`, confirmText: 'Delete' }))) return '';
          await del(`/api/admin/webhooks/${seg(id)}`);
          location.hash = '#/webhooks';
          return 'Webhook deleted.';
        },
        { kind: 'danger' },
      ),
    );
    clear(
      top,
      panel(
        w.name,
        {},
        stats(
          stat('Delivered', String(w.successCount ?? 0), { kind: 'ok' }),
          stat('Failed', String(w.failedCount ?? 0), { kind: w.failedCount ? 'bad' : null }),
          stat('Failures in a row', String(w.consecutiveFailures ?? 0), { kind: w.consecutiveFailures ? 'warn' : null, note: `disabled at ${w.maxConsecutiveFailures}` }),
          stat('Last delivery', w.lastDeliveryStatus ? w.lastDeliveryStatus : 'none', { kind: w.lastDeliveryStatus === 'failed' ? 'bad' : w.lastDeliveryStatus === 'success' ? 'ok' : null, note: time(w.lastDeliveryAt) }),
        ),
        facts([
          ['State', h('span', {}, state(w), w.disabledReason ? h('span', { class: 'error-text' }, ` ${w.disabledReason}`) : null)],
          ['Endpoint URL', code(w.url, 'wrap')],
          ['Events', chips(w.events)],
          ['Description', dash(w.description)],
          ['Retries', `${w.retryAttempts} after ${w.retryDelay} s (doubling), timeout ${ms(w.timeoutMs)}`],
          ['Webhook id', code(w.id)],
          ['Created', time(w.createdAt)],
          w.previousSecretExpiresAt ? ['Previous secret valid until', time(w.previousSecretExpiresAt)] : null,
        ]),
      ),
    );
    return true;
  };
  if (await load()) {
    ctx.main.append(log.el, recoverBox);
    await log.start();
  }
}

// --- the delivery log ----------------------------------------------------------------------

/**
 * A delivery log with the API's filters (DESIGN §8): status, event, since, until. On the
 * workspace-wide log each row names its webhook.
 */
function deliveryLog({ path, title, webhookId, showWebhook }) {
  const status = field({ name: 'status', label: 'Status', type: 'select', options: [['', 'All'], ['pending', 'Pending'], ['success', 'Success'], ['failed', 'Failed']] });
  const event = field({ name: 'event', label: 'Event', placeholder: 'booking.* or user.created' });
  const since = field({ name: 'since', label: 'Since', type: 'datetime-local' });
  const until = field({ name: 'until', label: 'Until', type: 'datetime-local' });
  const body = h('div', { class: 'delivery-log' }, loading());
  const p = pager(async (cursor) => {
    try {
      const data = await get(path, { status: status.read(), event: event.read(), since: toRfc3339(since.read()), until: toRfc3339(until.read()), limit: PAGE, cursor });
      const rows = data.deliveries || [];
      const columns = [
        { label: 'Time', cell: (d) => time(d.createdAt) },
        { label: 'Event', cell: (d) => h('span', {}, code(d.event, 'event-type'), d.test ? h('span', { class: 'chip' }, 'test') : null) },
        showWebhook ? { label: 'Webhook', cell: (d) => (d.webhookId ? link(d.webhookId, `#/webhooks/${seg(d.webhookId)}`) : '—') } : null,
        { label: 'Status', cell: (d) => badge(d.status) },
        { label: 'HTTP', cell: (d) => dash(d.statusCode), cls: 'num' },
        { label: 'Duration', cell: (d) => ms(d.durationMs), cls: 'num' },
        { label: 'Attempts', cell: (d) => String(d.attempts ?? 0), cls: 'num' },
        { label: 'Error', cell: (d) => (d.error ? h('span', { class: 'error-text clip', title: d.error }, d.error) : h('span', { class: 'muted' }, '—')) },
        { label: 'Response', cell: (d) => (d.responseBody ? h('code', { class: 'clip', title: d.responseBody }, d.responseBody) : h('span', { class: 'muted' }, '—')) },
        {
          label: 'Actions',
          cell: (d) =>
            h(
              'div',
              { class: 'row-actions' },
              button('Details', async () => details(d), { cls: 'btn-small' }),
              d.status !== 'pending'
                ? button(
                    'Retry',
                    async () => {
                      await post(`/api/admin/webhooks/${seg(d.webhookId || webhookId)}/deliveries/${seg(d.id)}/retry`);
                      p.reload();
                      return 'Delivery re-queued.';
                    },
                    { cls: 'btn-small' },
                  )
                : null,
            ),
        },
      ].filter(Boolean);
      clear(body, table(columns, rows, { empty: 'No deliveries match.', rowClass: (d) => `status-${d.status}` }));
      return data.pagination;
    } catch (e) {
      clear(body, errorNotice(e));
      throw e;
    }
  });
  const form = h('form', { class: 'filters', novalidate: true }, status.wrap, event.wrap, since.wrap, until.wrap, h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-secondary' }, 'Apply filters')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    p.reset();
  });
  status.input.addEventListener('change', () => p.reset());
  const el = panel(title, { actions: [button('Refresh', () => p.reload())] }, form, body, p.el);
  return { el, start: () => p.reset(), reload: () => p.reload() };
}

function details(d) {
  openDialog(
    `Delivery ${d.id}`,
    { wide: true },
    facts([
      ['Event', code(d.event)],
      ['Event id', code(dash(d.eventId))],
      ['Status', badge(d.status)],
      ['Attempts', String(d.attempts ?? 0)],
      ['HTTP status', dash(d.statusCode)],
      ['Duration', ms(d.durationMs)],
      ['Error', d.error ? h('span', { class: 'error-text' }, d.error) : '—'],
      ['Created', time(d.createdAt)],
      ['Next attempt', time(d.nextAttemptAt)],
    ]),
    h('h3', {}, 'Attempt log'),
    table(
      [
        { label: '#', cell: (a) => String(a.attempt), cls: 'num' },
        { label: 'At', cell: (a) => time(a.at) },
        { label: 'HTTP', cell: (a) => dash(a.statusCode), cls: 'num' },
        { label: 'Duration', cell: (a) => ms(a.durationMs), cls: 'num' },
        { label: 'Error', cell: (a) => (a.error ? h('span', { class: 'error-text' }, a.error) : '—') },
        { label: 'Response', cell: (a) => (a.responseBody ? h('code', { class: 'clip', title: a.responseBody }, a.responseBody) : '—') },
      ],
      d.attemptLog || [],
      { empty: 'No attempt yet.' },
    ),
    h('h3', {}, 'Response excerpt'),
    d.responseBody ? h('pre', { class: 'code-block' }, d.responseBody) : h('p', { class: 'muted' }, 'No response body.'),
    d.payload !== undefined && d.payload !== null ? [h('h3', {}, 'Payload'), h('pre', { class: 'code-block' }, pretty(d.payload))] : null,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn btn-primary', onclick: () => document.getElementById('dialog').close() }, 'Close')),
  );
  return '';
}
