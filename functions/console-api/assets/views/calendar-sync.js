// Calendar sync: seed 002's "Webhook Status Dashboard" — totals, failed count, last sync
// attempt, the mappings with their states and errors, "Retry failed syncs" and retry one.

import { get, post, seg } from '../api.js';
import { h, clear, badge, button, code, dash, errorNotice, facts, field, loading, notice, pageHead, pager, panel, rate, stat, stats, table, time } from '../ui.js';

const PAGE = 50;

export async function render(ctx) {
  const summary = h('div', {}, loading());
  const integration = h('div', {}, loading());
  const status = field({ name: 'status', label: 'Status', type: 'select', options: [['', 'All'], ['synced', 'Synced'], ['pending', 'Pending'], ['failed', 'Failed']] });
  const body = h('div', {}, loading());

  const showSummary = (data) => {
    const c = data.counts || {};
    const total = (c.synced ?? 0) + (c.pending ?? 0) + (c.failed ?? 0);
    const last = (data.mappings || []).map((m) => m.lastSyncAttempt).filter(Boolean).sort().pop();
    clear(
      summary,
      stats(
        stat('Total events', String(total)),
        stat('Synced', String(c.synced ?? 0), { kind: 'ok' }),
        stat('Pending', String(c.pending ?? 0), { kind: c.pending ? 'warn' : null }),
        stat('Failed syncs', String(c.failed ?? 0), { kind: c.failed ? 'bad' : null }),
        stat('Last sync attempt', last ? time(last) : '—'),
      ),
    );
  };

  const p = pager(async (cursor) => {
    try {
      const data = await get('/api/admin/sync-mappings', { status: status.read(), limit: PAGE, cursor });
      if (!status.read() && !cursor) showSummary(data);
      clear(
        body,
        table(
          [
            { label: 'Sentra event', cell: (m) => code(m.sentraEventId) },
            { label: 'GHL appointment', cell: (m) => (m.ghlAppointmentId ? code(m.ghlAppointmentId) : h('span', { class: 'muted' }, '—')) },
            { label: 'Status', cell: (m) => badge(m.syncStatus) },
            { label: 'Attempts', cell: (m) => String(m.attempts ?? 0), cls: 'num' },
            { label: 'Last sync attempt', cell: (m) => time(m.lastSyncAttempt) },
            { label: 'Error', cell: (m) => (m.syncError ? h('span', { class: 'error-text clip', title: m.syncError }, m.syncError) : h('span', { class: 'muted' }, '—')) },
            { label: 'Updated', cell: (m) => time(m.updatedAt) },
            {
              label: 'Actions',
              cell: (m) =>
                m.syncStatus === 'failed' || m.syncStatus === 'pending'
                  ? button(
                      'Retry',
                      async () => {
                        const r = await post(`/api/admin/sync-mappings/${seg(m.sentraEventId)}/retry`);
                        p.reload();
                        return r.retried === false ? 'Nothing to retry: the mapping is not pending or failed.' : `Sync of event ${m.sentraEventId} re-queued.`;
                      },
                      { cls: 'btn-small' },
                    )
                  : h('span', { class: 'muted' }, '—'),
            },
          ],
          data.mappings || [],
          { empty: 'No calendar events synced yet (only onboarding and handover events are sent to GHL).', rowClass: (m) => `status-${m.syncStatus}` },
        ),
      );
      return data.pagination;
    } catch (e) {
      clear(body, errorNotice(e));
      if (!status.read() && !cursor) clear(summary, errorNotice(e));
      throw e;
    }
  });
  status.input.addEventListener('change', () => p.reset());

  ctx.main.append(
    pageHead('Calendar sync', {
      actions: [
        button(
          'Retry failed syncs',
          async () => {
            const r = await post('/api/admin/sync-mappings/retry-failed');
            status.input.value = '';
            await p.reset();
            return `${r.retried ?? 0} failed syncs re-queued${r.hasMore ? ' (more remain: press again)' : ''}.`;
          },
          { kind: 'primary' },
        ),
      ],
      sub: 'Onboarding and handover calendar events sent to GoHighLevel, with the GHL appointment each one maps to.',
    }),
    summary,
    h('div', { class: 'grid-2 grid-2-wide' }, panel('Mappings', { actions: [button('Refresh', () => p.reload())] }, h('div', { class: 'filters' }, status.wrap), body, p.el), panel('GHL webhook', {}, integration)),
  );

  get('/api/integrations')
    .then((d) => {
      const g = d.integrations && d.integrations.ghl;
      clear(
        integration,
        g
          ? facts([
              ['State', g.enabled ? badge('enabled') : badge('disabled')],
              ['Webhook URL', code(dash(g.webhookUrl), 'wrap')],
              ['Success rate (24 h)', rate(g.successRate)],
              ['Attempts (24 h)', `${g.succeeded ?? 0} succeeded, ${g.failed ?? 0} failed`],
              ['Retries', `${g.retryAttempts} after ${g.retryDelay} s`],
              ['Last error', g.lastError ? h('span', { class: 'error-text' }, g.lastError) : 'none'],
            ])
          : notice('info', 'No GHL integration: PUT /api/integrations/ghl with the GHL webhook URL. Until then events are saved with sync status not_applicable.'),
      );
    })
    .catch((e) => clear(integration, errorNotice(e)));
  await p.reset();
}
