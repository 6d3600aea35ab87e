// Overview: what needs attention, each item linking to its page.

import { get, seg, workspaceId } from '../api.js';
import { h, clear, badge, button, dash, errorNotice, facts, link, loading, notice, pageHead, panel, rate, stat, stats, table, time } from '../ui.js';

const EXAM_SCAN = 200;

export async function render(ctx) {
  const tiles = {
    hubspot: stat('HubSpot success (24 h)', '…', { href: '#/mock-exams' }),
    behind: stat('Exams behind HubSpot', '…', { href: '#/mock-exams' }),
    webhooks: stat('Webhooks failing or disabled', '…', { href: '#/webhooks' }),
    ghl: stat('GHL syncs failed', '…', { href: '#/calendar-sync' }),
    jobs: stat('Sync jobs success today', '…', { href: '#/sync-jobs' }),
  };
  const boxes = {
    hubspot: h('div', {}, loading()),
    behind: h('div', {}, loading()),
    webhooks: h('div', {}, loading()),
    ghl: h('div', {}, loading()),
    jobs: h('div', {}, loading()),
  };
  ctx.main.append(
    pageHead('Overview', {
      actions: [button('Refresh', async () => load(ctx, tiles, boxes))],
      sub: 'Sync health of this workspace: HubSpot counters, outbound webhooks, GHL calendar sync and inbound sync jobs.',
    }),
    stats(tiles.hubspot, tiles.behind, tiles.webhooks, tiles.ghl, tiles.jobs),
    h(
      'div',
      { class: 'grid-2' },
      panel('HubSpot counter sync', { actions: [link('Mock exams', '#/mock-exams', 'btn btn-link')] }, boxes.hubspot),
      panel('Exams whose HubSpot count is behind', { actions: [link('All mock exams', '#/mock-exams', 'btn btn-link')] }, boxes.behind),
      panel('Webhooks needing attention', { actions: [link('All webhooks', '#/webhooks', 'btn btn-link')] }, boxes.webhooks),
      panel('GHL calendar sync', { actions: [link('Calendar sync', '#/calendar-sync', 'btn btn-link')] }, boxes.ghl),
    ),
    panel('Sync jobs today', { actions: [link('All sync jobs', '#/sync-jobs', 'btn btn-link')] }, boxes.jobs),
  );
  await load(ctx, tiles, boxes);
}

function setTile(tile, value, kind) {
  const v = tile.querySelector('.stat-value');
  v.textContent = value;
  v.className = `stat-value ${kind ? `stat-${kind}` : ''}`;
}

async function load(ctx, tiles, boxes) {
  for (const b of Object.values(boxes)) clear(b, loading());
  await Promise.all([integrations(tiles, boxes), exams(tiles, boxes), subscriptions(tiles, boxes), jobs(tiles, boxes)]);
}

async function integrations(tiles, boxes) {
  let data;
  try {
    data = await get('/api/integrations');
  } catch (e) {
    setTile(tiles.hubspot, 'error', 'bad');
    setTile(tiles.ghl, 'error', 'bad');
    clear(boxes.hubspot, errorNotice(e));
    clear(boxes.ghl, errorNotice(e));
    return;
  }
  const hs = data.integrations && data.integrations.hubspot;
  if (!hs) {
    setTile(tiles.hubspot, '—');
    clear(boxes.hubspot, notice('info', 'No HubSpot integration yet: PUT /api/integrations/hubspot with the workflow webhook URL.'));
  } else {
    const r = hs.successRate;
    setTile(tiles.hubspot, rate(r), r === null || r === undefined ? null : r >= 0.99 ? 'ok' : 'bad');
    clear(
      boxes.hubspot,
      facts([
        ['Success rate (24 h)', h('span', {}, rate(r), ' ', r !== null && r !== undefined && r < 0.99 ? badge('failing', 'below 99 %') : null)],
        ['Attempts (24 h)', `${hs.succeeded ?? 0} succeeded, ${hs.failed ?? 0} failed`],
        ['Last error', hs.lastError ? h('span', { class: 'error-text' }, hs.lastError) : 'none'],
        ['Last error at', time(hs.lastErrorAt)],
        ['Webhook URL', h('code', { class: 'wrap' }, dash(hs.webhookUrl))],
      ]),
    );
  }
  const ghl = data.integrations && data.integrations.ghl;
  boxes.ghlIntegration = ghl;
  await ghlSync(tiles, boxes, ghl);
}

async function ghlSync(tiles, boxes, ghl) {
  let data;
  try {
    data = await get('/api/admin/sync-mappings', { limit: 1 });
  } catch (e) {
    setTile(tiles.ghl, 'error', 'bad');
    clear(boxes.ghl, errorNotice(e));
    return;
  }
  const c = data.counts || {};
  setTile(tiles.ghl, String(c.failed ?? 0), c.failed ? 'bad' : 'ok');
  clear(
    boxes.ghl,
    stats(stat('Synced', String(c.synced ?? 0), { kind: 'ok' }), stat('Pending', String(c.pending ?? 0), { kind: c.pending ? 'warn' : null }), stat('Failed', String(c.failed ?? 0), { kind: c.failed ? 'bad' : null })),
    ghl
      ? facts([
          ['GHL webhook', ghl.enabled ? badge('enabled') : badge('disabled')],
          ['Success rate (24 h)', rate(ghl.successRate)],
          ['Last error', ghl.lastError ? h('span', { class: 'error-text' }, ghl.lastError) : 'none'],
        ])
      : notice('info', 'No GHL integration: calendar events are saved with sync status not_applicable.'),
  );
}

async function exams(tiles, boxes) {
  let data;
  try {
    data = await get('/api/mock-exams', { limit: EXAM_SCAN });
  } catch (e) {
    setTile(tiles.behind, 'error', 'bad');
    clear(boxes.behind, errorNotice(e));
    return;
  }
  const all = data.mockExams || [];
  const behind = all.filter((x) => (x.lastSyncedVersion ?? 0) < (x.version ?? 0));
  setTile(tiles.behind, String(behind.length), behind.length ? 'warn' : 'ok');
  clear(
    boxes.behind,
    behind.length
      ? table(
          [
            { label: 'Exam', cell: (x) => link(x.name || x.id, `#/mock-exams/${seg(x.id)}`) },
            { label: 'Bookings', cell: (x) => `${x.totalBookings ?? 0} / ${x.capacity ?? '—'}`, cls: 'num' },
            { label: 'Version', cell: (x) => `${x.lastSyncedVersion ?? 0} → ${x.version ?? 0}`, cls: 'num' },
          ],
          behind.slice(0, 10),
        )
      : h('p', { class: 'empty muted' }, `HubSpot has the current count of every exam${data.pagination && data.pagination.hasMore ? ` (first ${all.length} exams checked)` : ''}.`),
    behind.length > 10 ? h('p', { class: 'muted' }, `${behind.length - 10} more behind.`) : null,
  );
}

async function subscriptions(tiles, boxes) {
  let data;
  try {
    data = await get('/api/admin/webhooks', { limit: 200 });
  } catch (e) {
    setTile(tiles.webhooks, 'error', 'bad');
    clear(boxes.webhooks, errorNotice(e));
    return;
  }
  const all = data.webhooks || [];
  const attention = all.filter((w) => !w.active || (w.consecutiveFailures ?? 0) > 0 || w.lastDeliveryStatus === 'failed');
  setTile(tiles.webhooks, String(attention.length), attention.length ? 'bad' : 'ok');
  clear(
    boxes.webhooks,
    attention.length
      ? table(
          [
            { label: 'Webhook', cell: (w) => link(w.name || w.id, `#/webhooks/${seg(w.id)}`) },
            { label: 'State', cell: (w) => (w.active ? badge('failing', `${w.consecutiveFailures ?? 0} failing in a row`) : badge('disabled')) },
            { label: 'Reason / last delivery', cell: (w) => (w.disabledReason ? h('span', { class: 'error-text' }, w.disabledReason) : time(w.lastDeliveryAt)) },
          ],
          attention,
        )
      : h('p', { class: 'empty muted' }, all.length ? `All ${all.length} webhooks are active and delivering.` : 'No webhooks yet.'),
  );
}

async function jobs(tiles, boxes) {
  const ws = await workspaceId();
  if (!ws.id) {
    setTile(tiles.jobs, '?');
    clear(boxes.jobs, notice('info', 'The workspace of this key is unknown, so sync jobs cannot be listed here (', ws.error || 'no workspace id', '). ', link('Open Sync jobs', '#/sync-jobs'), ' to enter it.'));
    return;
  }
  let list;
  try {
    list = await get(`/api/workspaces/${seg(ws.id)}/sync-jobs`, { limit: 50 });
  } catch (e) {
    setTile(tiles.jobs, 'error', 'bad');
    clear(boxes.jobs, errorNotice(e));
    return;
  }
  const all = list.syncJobs || [];
  const midnight = new Date();
  midnight.setUTCHours(0, 0, 0, 0);
  const withStats = await Promise.all(all.map((j) => today(ws.id, j, midnight)));
  let succeeded = 0;
  let finished = 0;
  for (const r of withStats) {
    if (r.today) {
      succeeded += r.today.succeeded;
      finished += r.today.succeeded + r.today.failed;
    }
  }
  const overall = finished ? succeeded / finished : null;
  setTile(tiles.jobs, rate(overall), overall === null ? null : overall >= 0.99 ? 'ok' : 'bad');
  clear(
    boxes.jobs,
    table(
      [
        { label: 'Sync job', cell: (r) => link(r.job.name || r.job.id, `#/sync-jobs/${seg(r.job.id)}`) },
        { label: 'Source', cell: (r) => sourceName(r.job.source) },
        { label: 'State', cell: (r) => (r.job.enabled ? badge('enabled') : badge('disabled')) },
        { label: 'Events today', cell: (r) => (r.today ? `${r.today.received}${r.today.partial ? '+' : ''}` : '—'), cls: 'num' },
        { label: 'Success rate today', cell: (r) => (r.today ? rate(r.today.rate) : h('span', { class: 'error-text' }, r.error)), cls: 'num' },
        { label: 'Failed today', cell: (r) => (r.today ? String(r.today.failed) : '—'), cls: 'num' },
        { label: 'Pending', cell: (r) => (r.today ? String(r.today.pending) : '—'), cls: 'num' },
      ],
      withStats,
      { empty: 'No sync jobs yet.' },
    ),
  );
}

const TODAY_SCAN = 200;

/**
 * Today's outcome of a job (since midnight UTC, as the stats' `today`): the newest events
 * are read until one from before midnight (at most TODAY_SCAN; `partial` past that).
 */
async function today(ws, job, midnight) {
  try {
    const page = await get(`/api/workspaces/${seg(ws)}/sync-jobs/${seg(job.id)}/webhook/events`, { limit: TODAY_SCAN });
    const events = (page.events || []).filter((e) => new Date(e.receivedAt) >= midnight);
    const count = (...statuses) => events.filter((e) => statuses.includes(e.status)).length;
    const succeeded = count('processed', 'skipped');
    const failed = count('failed');
    const partial = events.length === (page.events || []).length && Boolean(page.pagination && page.pagination.hasMore);
    return {
      job,
      today: { received: events.length, succeeded, failed, pending: count('pending'), rate: succeeded + failed ? succeeded / (succeeded + failed) : null, partial },
    };
  } catch (e) {
    return { job, error: e.message };
  }
}

export function sourceName(source) {
  return { stripe: 'Stripe', close: 'Close', generic: 'Standard Webhooks' }[source] || dash(source);
}
