// Mock exams: the list (capacity, bookings, HubSpot sync state) and an exam's page with its
// bookings and "Send count to HubSpot".

import { get, post, seg } from '../api.js';
import { h, clear, badge, button, dash, errorNotice, facts, field, link, loading, ms, notice, pageHead, pager, panel, stat, stats, table, time } from '../ui.js';

const PAGE = 25;

function syncState(x) {
  const v = x.version ?? 0;
  const synced = x.lastSyncedVersion ?? 0;
  return synced >= v ? badge('in sync') : badge('behind', `behind (${synced} → ${v})`);
}

function fill(x) {
  const cap = x.capacity ?? 0;
  const total = x.totalBookings ?? 0;
  return h('span', { class: 'fill' }, h('meter', { min: 0, max: Math.max(cap, 1), value: Math.min(total, Math.max(cap, 1)), 'aria-label': `${total} of ${cap} seats booked` }), h('span', { class: 'num' }, `${total} / ${cap}`));
}

export async function renderList(ctx) {
  const body = h('div', {}, loading());
  const p = pager(async (cursor) => {
    try {
      const data = await get('/api/mock-exams', { limit: PAGE, cursor });
      clear(
        body,
        table(
          [
            { label: 'Exam', cell: (x) => h('div', {}, link(x.name || x.id, `#/mock-exams/${seg(x.id)}`), h('div', { class: 'muted small' }, x.id)) },
            { label: 'Exam date', cell: (x) => dash(x.examDate) },
            { label: 'Capacity', cell: (x) => String(x.capacity ?? '—'), cls: 'num' },
            { label: 'Total bookings', cell: (x) => fill(x) },
            { label: 'HubSpot sync', cell: syncState },
            { label: 'Version', cell: (x) => `${x.version ?? 0}`, cls: 'num' },
          ],
          data.mockExams || [],
          { empty: 'No mock exams yet: PUT /api/mock-exams/{id} creates one.' },
        ),
      );
      return data.pagination;
    } catch (e) {
      clear(body, errorNotice(e));
      throw e;
    }
  });
  ctx.main.append(
    pageHead('Mock exams', { sub: 'Seats booked per exam and whether HubSpot has the current count (lastSyncedVersion = version).' }),
    panel('All mock exams', { actions: [button('Refresh', () => p.reload())] }, body, p.el),
  );
  await p.reset();
}

export async function renderExam(ctx) {
  const [id] = ctx.params;
  const head = h('div', {}, loading());
  const result = h('div', { class: 'result' });
  ctx.main.append(
    pageHead('Mock exams', { trail: [link('Mock exams', '#/mock-exams'), ' / ', h('span', {}, id)] }),
    head,
  );
  let exam;
  const loadExam = async () => {
    try {
      const data = await get(`/api/mock-exams/${seg(id)}`);
      exam = data.mockExam;
    } catch (e) {
      clear(head, errorNotice(e));
      return false;
    }
    clear(
      head,
      panel(
        exam.name || exam.id,
        {
          actions: [
            button(
              'Send count to HubSpot',
              async () => {
                const r = await post('/api/integrations/hubspot/test', { mockExamId: id });
                const a = r.attempt || {};
                const ok = a.statusCode >= 200 && a.statusCode < 300 && !a.error;
                clear(result, notice(ok ? 'ok' : 'error', `HubSpot answered ${a.statusCode ?? 'nothing'} in ${ms(a.durationMs)} for total_bookings ${r.totalBookings ?? exam.totalBookings}${a.error ? `: ${a.error}` : ''}.`));
                await loadExam();
                return ok ? `Sent ${r.totalBookings ?? exam.totalBookings} to HubSpot.` : '';
              },
              { kind: 'primary', title: 'POST /api/integrations/hubspot/test: sends the current count now' },
            ),
          ],
        },
        stats(stat('Total bookings', String(exam.totalBookings ?? 0)), stat('Capacity', String(exam.capacity ?? 0)), stat('Seats left', String(Math.max((exam.capacity ?? 0) - (exam.totalBookings ?? 0), 0))), stat('HubSpot', (exam.lastSyncedVersion ?? 0) >= (exam.version ?? 0) ? 'In sync' : 'Behind', { kind: (exam.lastSyncedVersion ?? 0) >= (exam.version ?? 0) ? 'ok' : 'warn' })),
        facts([
          ['Exam id', h('code', {}, exam.id)],
          ['Exam date', dash(exam.examDate)],
          ['Version', String(exam.version ?? 0)],
          ['Last synced version', String(exam.lastSyncedVersion ?? 0)],
          ['Sync state', syncState(exam)],
        ]),
        result,
      ),
    );
    return true;
  };
  if (!(await loadExam())) return;

  const status = field({ name: 'status', label: 'Status', type: 'select', options: [['', 'All'], ['active', 'Active'], ['cancelled', 'Cancelled'], ['completed', 'Completed']] });
  const body = h('div', {}, loading());
  const p = pager(async (cursor) => {
    try {
      const data = await get(`/api/mock-exams/${seg(id)}/bookings`, { status: status.read(), limit: PAGE, cursor });
      clear(
        body,
        table(
          [
            { label: 'Booking', cell: (b) => h('code', {}, b.id) },
            { label: 'Contact', cell: (b) => dash(b.contactId) },
            { label: 'Status', cell: (b) => badge(b.status === 'cancelled' ? 'cancelled' : b.status) },
            { label: 'Created', cell: (b) => time(b.createdAt) },
            { label: 'QR scanned', cell: (b) => time(b.qrCode && b.qrCode.scannedAt) },
          ],
          data.bookings || [],
          { empty: 'No bookings match.' },
        ),
      );
      return data.pagination;
    } catch (e) {
      clear(body, errorNotice(e));
      throw e;
    }
  });
  status.input.addEventListener('change', () => p.reset());
  ctx.main.append(panel('Bookings', { actions: [button('Refresh', () => p.reload())] }, h('div', { class: 'filters' }, status.wrap), body, p.el));
  await p.reset();
}
