// Sync jobs (seed 003): "Add sync job" (Webhook Sync from Stripe, Close or any Standard
// Webhooks sender), the saved job's URL and secret to paste into the provider, a job's stats,
// events, retries, replay and secret, and an event's raw payload.

import { del, get, patch, post, seg, session, workspaceId } from '../api.js';
import {
  h, clear, badge, button, code, confirmDialog, copyable, copyButton, dash, errorNotice, facts, field, formDialog, link, list, loading, ms, notice,
  pageHead, pager, panel, pretty, rate, revealDialog, stat, stats, table, time, toLocalInput, toRfc3339, toast,
} from '../ui.js';
import { sourceName } from './overview.js';

const PAGE = 25;

const WHERE = {
  stripe: ['Stripe: Dashboard → Developers → Webhooks → Add endpoint. Paste the webhook URL and pick the events; Stripe then shows the endpoint\'s signing secret (whsec_…): that is this job\'s secret.'],
  close: ['Close: Settings → API → Webhooks. Add a webhook with the webhook URL; Close answers with its signature_key (hex): that is this job\'s secret.'],
  generic: ['Standard Webhooks sender: give it the webhook URL and the secret; it signs each post with webhook-id, webhook-timestamp and webhook-signature.'],
};

const SECRET_HINT = {
  stripe: 'The signing secret Stripe shows for the endpoint (whsec_…). Without it the job is saved disabled: add the endpoint in Stripe first, then paste the secret here.',
  close: 'The signature_key Close returns for the webhook subscription (hex). Without it the job is saved disabled.',
  generic: 'Leave empty to have one generated (whsec_…), or paste the secret the sender uses.',
};

const jobPath = (ws, id) => `/api/workspaces/${seg(ws)}/sync-jobs/${seg(id)}`;

/** The key's workspace, or a "Workspace ID" form when the API cannot tell (then null). */
async function requireWorkspace(ctx, title) {
  const ws = await workspaceId();
  if (ws.id) return ws.id;
  const f = field({ name: 'workspaceId', label: 'Workspace ID', placeholder: 'ws_…', value: '' });
  const form = h('form', { class: 'filters', novalidate: true }, f.wrap, h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Use workspace')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = f.read();
    if (!/^ws_[A-Za-z0-9]+$/.test(id)) {
      toast('A workspace id starts with ws_.', 'error');
      return;
    }
    session.setWorkspace(id);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  });
  ctx.main.append(
    pageHead(title),
    panel('Which workspace?', {}, notice('info', `Sync-job routes name the workspace, and this API did not say which one the key belongs to (${ws.error}). Enter the workspace id (WORKSPACE_ID in infra/.local/dev.env locally).`), form),
  );
  return null;
}

// --- the list and "Add sync job" ----------------------------------------------------------

export async function renderList(ctx) {
  const ws = await requireWorkspace(ctx, 'Sync jobs');
  if (!ws) return;
  const formBox = h('div', { hidden: true });
  const body = h('div', {}, loading());
  const p = pager(async (cursor) => {
    try {
      const data = await get(`/api/workspaces/${seg(ws)}/sync-jobs`, { limit: PAGE, cursor });
      clear(
        body,
        table(
          [
            { label: 'Sync job', cell: (j) => h('div', {}, link(j.name || j.id, `#/sync-jobs/${seg(j.id)}`), h('div', { class: 'muted small' }, j.id)) },
            { label: 'Type', cell: (j) => (j.type === 'webhook' ? 'Webhook Sync' : dash(j.type)) },
            { label: 'Source', cell: (j) => sourceName(j.source) },
            { label: 'State', cell: (j) => (j.enabled ? badge('enabled') : badge('disabled')) },
            { label: 'Event filters', cell: (j) => filters(j) },
            { label: 'Secret', cell: (j) => (j.webhookConfig && j.webhookConfig.hasSigningSecret ? 'set' : h('span', { class: 'error-text' }, 'not set')) },
            { label: 'Created', cell: (j) => time(j.createdAt) },
          ],
          data.syncJobs || [],
          { empty: 'No sync jobs yet: "Add sync job" creates a webhook URL for Stripe, Close or any Standard Webhooks sender.' },
        ),
      );
      return data.pagination;
    } catch (e) {
      clear(body, errorNotice(e));
      throw e;
    }
  });
  const addBtn = button(
    'Add sync job',
    async () => {
      clear(formBox, addForm(ws, formBox, () => p.reset()));
      formBox.hidden = false;
      const first = formBox.querySelector('input');
      if (first) first.focus();
    },
    { kind: 'primary' },
  );
  ctx.main.append(
    pageHead('Sync jobs', { actions: [addBtn], sub: 'Inbound webhooks as sync jobs: each job verifies the provider\'s signature, stores the raw event and applies it to records in order.' }),
    formBox,
    panel('All sync jobs', { actions: [button('Refresh', () => p.reload())] }, body, p.el),
  );
  await p.reset();
}

function filters(j) {
  const f = (j.webhookConfig && j.webhookConfig.eventFilters) || [];
  return f.length ? h('span', { class: 'chips' }, f.map((x) => h('span', { class: 'chip' }, x))) : h('span', { class: 'muted' }, 'all events');
}

function destinationText(d) {
  if (d.type === 'dynamodb') return `DynamoDB table ${d.tableName} (key ${d.keyAttribute || 'id'})`;
  if (d.type === 'webhook') return `Signed webhook to ${d.url}`;
  return 'Built-in records';
}

function addForm(ws, box, onSaved) {
  const name = field({ name: 'name', label: 'Name', required: true, placeholder: 'Stripe customers' });
  const type = field({ name: 'type', label: 'Job type', type: 'select', options: [['webhook', 'Webhook Sync']], hint: 'Webhook Sync: the provider posts events to this job\'s URL.' });
  const source = field({ name: 'source', label: 'Source', type: 'select', options: [['stripe', 'Stripe'], ['close', 'Close'], ['generic', 'Standard Webhooks']] });
  const eventFilters = field({ name: 'eventFilters', label: 'Event filters', type: 'textarea', rows: 2, placeholder: 'customer.*, invoice.paid', hint: 'Comma-separated event types; wildcards such as customer.* match a whole family. Empty = every event.' });
  const jqFilter = field({ name: 'filter', label: 'jq filter (optional)', type: 'textarea', rows: 2, placeholder: '.type == "invoice.paid"', hint: 'A jq expression on the provider event that yields true or false; false stores the event as ignored.' });
  const jqTransform = field({ name: 'transform', label: 'jq transform (optional)', type: 'textarea', rows: 2, placeholder: '.data.object | {id, email, name}', hint: 'A jq expression on the event that yields the record to store. Checked when saved.' });
  const secret = field({ name: 'signingSecret', label: 'Signing secret', type: 'password', hint: SECRET_HINT.stripe });
  const enabled = field({ name: 'enabled', label: 'Enabled', type: 'checkbox', value: true });
  const hint = secret.wrap.querySelector('.hint');
  source.input.addEventListener('change', () => {
    hint.textContent = SECRET_HINT[source.read()];
  });
  const errorBox = h('div');
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save sync job');
  const form = h(
    'form',
    { class: 'form form-grid', novalidate: true },
    name.wrap,
    type.wrap,
    source.wrap,
    secret.wrap,
    h('div', { class: 'span-2' }, eventFilters.wrap),
    jqFilter.wrap,
    jqTransform.wrap,
    enabled.wrap,
    h('div', { class: 'span-2' }, errorBox),
    h('div', { class: 'form-actions span-2' }, h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => { box.hidden = true; clear(box); } }, 'Cancel'), save),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errorBox.replaceChildren();
    save.disabled = true;
    const src = source.read();
    const given = secret.read();
    // Stripe and Close create the secret: a job without it cannot be enabled yet.
    const canEnable = Boolean(given) || src === 'generic';
    const body = {
      name: name.read(),
      type: type.read(),
      source: src,
      enabled: enabled.read() && canEnable,
      webhookConfig: { eventFilters: list(eventFilters.read()) },
    };
    if (given) body.webhookConfig.signingSecret = given;
    if (jqFilter.read().trim()) body.webhookConfig.filter = jqFilter.read().trim();
    if (jqTransform.read().trim()) body.webhookConfig.transform = jqTransform.read().trim();
    try {
      const r = await post(`/api/workspaces/${seg(ws)}/sync-jobs`, body);
      const job = r.syncJob;
      clear(box, saved(job, given || job.webhookSecret || null, box, onSaved, enabled.read() && !canEnable));
      toast(`Sync job ${job.name} saved.`);
      onSaved();
    } catch (e) {
      if (e.status !== 401) errorBox.replaceChildren(errorNotice(e));
    } finally {
      save.disabled = false;
    }
  });
  return panel('Add sync job', {}, form);
}

/** After saving: the URL and the secret to paste into the provider, and where. */
function saved(job, secret, box, onSaved, savedDisabled) {
  return panel(
    `Sync job saved: ${job.name}`,
    { cls: 'panel-success' },
    savedDisabled ? notice('info', 'Saved disabled: it needs the provider\'s signing secret before it can be enabled. Paste it with "Regenerate secret" on the job page, then enable the job.') : null,
    h('div', { class: 'saved-job' }, copyable('Webhook URL', job.webhookUrl, 'webhook-url'), secret ? copyable('Secret', secret, 'webhook-secret') : h('div', { class: 'copyable' }, h('div', { class: 'copyable-label' }, 'Secret'), h('p', { class: 'muted' }, 'Not set yet.'))),
    h('h3', {}, 'Where to paste them'),
    h('ul', { class: 'where' }, (WHERE[job.source] || []).map((t) => h('li', {}, t))),
    h('div', { class: 'form-actions' }, link('Open the job', `#/sync-jobs/${seg(job.id)}`, 'btn btn-primary'), h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => clear(box, addForm(job.workspaceId, box, onSaved)) }, 'Add another')),
  );
}

// --- one job -------------------------------------------------------------------------------

export async function renderJob(ctx) {
  const ws = await requireWorkspace(ctx, 'Sync jobs');
  if (!ws) return;
  const [jobId] = ctx.params;
  const path = jobPath(ws, jobId);
  const actions = h('div', { class: 'actions' });
  const trailName = h('span', {}, jobId);
  const top = h('div', {}, loading());
  const statsBox = h('div', {}, loading());
  ctx.main.append(h('div', { class: 'page-head' }, h('nav', { class: 'trail', 'aria-label': 'Breadcrumb' }, link('Sync jobs', '#/sync-jobs'), ' / ', trailName), h('div', { class: 'page-title' }, h('h1', {}, 'Sync jobs'), actions)), top);

  let job;
  try {
    job = (await get(path)).syncJob;
  } catch (e) {
    clear(top, errorNotice(e));
    return;
  }
  trailName.textContent = job.name;
  const secretBox = h('div');
  const events = eventList(ws, job);

  const loadStats = async () => {
    try {
      const s = (await get(`${path}/webhook/stats`)).stats || {};
      clear(
        statsBox,
        stats(
          stat('Events', String(s.total ?? 0)),
          stat('Today', String(s.today ?? 0)),
          stat('Succeeded', String(s.succeeded ?? 0), { kind: 'ok' }),
          stat('Failed', String(s.failed ?? 0), { kind: s.failed ? 'bad' : null }),
          stat('Pending', String(s.pending ?? 0), { kind: s.pending ? 'warn' : null }),
          stat('Ignored', String(s.ignored ?? 0)),
          stat('Success rate', rate(s.successRate), { kind: s.successRate === null || s.successRate === undefined ? null : s.successRate >= 0.99 ? 'ok' : 'bad' }),
        ),
      );
    } catch (e) {
      clear(statsBox, errorNotice(e));
    }
  };
  const refresh = () => Promise.all([loadStats(), events.reload()]);

  const showJob = () => {
    clear(
      top,
      panel(
        job.name,
        {},
        h('div', { class: 'saved-job' }, copyable('Webhook URL', job.webhookUrl, 'webhook-url'), secretBox),
        facts([
          ['Job type', job.type === 'webhook' ? 'Webhook Sync' : dash(job.type)],
          ['Source', sourceName(job.source)],
          ['State', job.enabled ? badge('enabled') : badge('disabled')],
          ['Event filters', filters(job)],
          job.webhookConfig && job.webhookConfig.filter ? ['jq filter', code(job.webhookConfig.filter)] : null,
          job.webhookConfig && job.webhookConfig.transform ? ['jq transform', code(job.webhookConfig.transform)] : null,
          job.webhookConfig && job.webhookConfig.autoRetry ? ['Automatic retries', `${job.webhookConfig.autoRetry.attempts}, first after ${job.webhookConfig.autoRetry.delaySeconds} s`] : null,
          job.destination ? ['Destination', destinationText(job.destination)] : null,
          ['Signing secret', job.webhookConfig && job.webhookConfig.hasSigningSecret ? 'set' : h('span', { class: 'error-text' }, 'not set')],
          ['Signature tolerance', job.webhookConfig ? `${job.webhookConfig.toleranceSeconds} s` : '—'],
          ['Batch', job.webhookConfig ? `${job.webhookConfig.batchSize} records, wait ${job.webhookConfig.batchWaitSeconds} s` : '—'],
          job.previousSecretExpiresAt ? ['Previous secret valid until', time(job.previousSecretExpiresAt)] : null,
          ['Job id', code(job.id)],
          ['Created', time(job.createdAt)],
        ]),
        h('h3', {}, 'Where to paste the URL and secret'),
        h('ul', { class: 'where' }, (WHERE[job.source] || []).map((t) => h('li', {}, t))),
      ),
    );
    if (!secretBox.childNodes.length) clear(secretBox, h('div', { class: 'copyable' }, h('div', { class: 'copyable-label' }, 'Secret'), h('p', { class: 'muted' }, job.webhookConfig && job.webhookConfig.hasSigningSecret ? 'Set (write-only: shown only when generated).' : 'Not set.')));
    clear(
      actions,
      button(
        'Send test',
        async () => {
          const r = await post(`/api/webhooks/${seg(ws)}/${seg(job.id)}/test`);
          await refresh();
          return `Test event ${r.type || ''} received as ${r.eventId}${r.ignored ? ' (ignored by the filters)' : ''}.`;
        },
        { kind: 'primary' },
      ),
      job.hasApiKey || job.backfill
        ? button('Sync now', async () => {
            const r = await post(`${path}/backfill`);
            setTimeout(() => loadExecutions(path, executions), 3000);
            return `Backfill ${r.execution.id} started: it reads the provider's event log since ${job.cursor || (job.backfill && job.backfill.cursor) || 'the cursor'}.`;
          })
        : null,
      button('Retry failed', async () => {
        const r = await post(`${path}/webhook/retry-failed`);
        await refresh();
        return `${r.retried ?? 0} failed events re-queued${r.hasMore ? ' (more remain: press again)' : ''}.`;
      }),
      button('Regenerate secret', async () => regenerate(ws, job, secretBox, async () => { job = (await get(path)).syncJob; showJob(); })),
      job.enabled
        ? button('Disable', async () => {
            if (!(await confirmDialog({ title: 'Disable this sync job?', message: 'The provider\'s posts are refused (409 job_disabled) until it is enabled again; providers retry for a while.', confirmText: 'Disable' }))) return '';
            job = (await patch(path, { enabled: false })).syncJob;
            showJob();
            return 'Sync job disabled.';
          })
        : button('Enable', async () => {
            job = (await patch(path, { enabled: true })).syncJob;
            showJob();
            return 'Sync job enabled.';
          }),
      button(
        'Delete',
        async () => {
          if (!(await confirmDialog({ title: 'Delete this sync job?', message: `${job.name}, its stored events and its records are deleted. This cannot be undone.`, confirmText: 'Delete' }))) return '';
          await del(path);
          location.hash = '#/sync-jobs';
          return 'Sync job deleted.';
        },
        { kind: 'danger' },
      ),
    );
  };
  showJob();

  const since = field({ name: 'since', label: 'Since', type: 'datetime-local', value: toLocalInput(new Date(Date.now() - 3600 * 1000)) });
  const until = field({ name: 'until', label: 'Until', type: 'datetime-local', value: toLocalInput(new Date(Date.now() + 60 * 1000)) });
  const executions = h('div', {}, loading());
  ctx.main.append(
    panel('Stats', { actions: [button('Refresh', () => refresh())] }, statsBox),
    events.el,
    h(
      'div',
      { class: 'grid-2' },
      panel(
        'Replay a time window',
        {},
        h('p', { class: 'muted' }, 'Re-processes the events received in the window, oldest first; the ordering rules decide what each record keeps.'),
        h(
          'div',
          { class: 'filters' },
          since.wrap,
          until.wrap,
          button('Replay', async () => {
            const s = toRfc3339(since.read());
            if (!s) throw new Error('Choose when the window starts.');
            const body = { since: s };
            const u = toRfc3339(until.read());
            if (u) body.until = u;
            const r = await post(`${path}/webhook/replay`, body);
            await refresh();
            return `${r.replayed ?? 0} events re-queued${r.hasMore ? ' (more remain: narrow the window or replay again)' : ''}.`;
          }),
        ),
      ),
      panel('Runs', { actions: [button('Refresh', () => loadExecutions(path, executions))] }, executions),
    ),
  );
  await Promise.all([loadStats(), events.start(), loadExecutions(path, executions)]);
}

async function loadExecutions(path, box) {
  try {
    const r = await get(`${path}/webhook/executions`, { limit: 10 });
    clear(
      box,
      table(
        [
          { label: 'Started', cell: (x) => time(x.startedAt) },
          { label: 'Kind', cell: (x) => (x.kind === 'backfill' ? `backfill ${x.status}: read ${x.read}, new ${x.new}, duplicates ${x.duplicates}${x.error ? ` (${x.error})` : ''}` : 'worker') },
          { label: 'Duration', cell: (x) => ms(x.durationMs), cls: 'num' },
          { label: 'Batch', cell: (x) => String(x.batchSize ?? 0), cls: 'num' },
          { label: 'Applied', cell: (x) => String(x.applied ?? 0), cls: 'num' },
          { label: 'Unchanged', cell: (x) => String(x.unchanged ?? 0), cls: 'num' },
          { label: 'Failed', cell: (x) => String(x.failed ?? 0), cls: 'num' },
        ],
        r.executions || [],
        { empty: 'No run yet.' },
      ),
    );
  } catch (e) {
    clear(box, errorNotice(e));
  }
}

async function regenerate(ws, job, secretBox, reload) {
  const path = jobPath(ws, job.id);
  if (job.source === 'stripe' || job.source === 'close') {
    const provider = sourceName(job.source);
    formDialog({
      title: `New ${provider} signing secret`,
      intro: `${provider} creates this job's secret. Roll or copy it in ${provider} (${job.source === 'stripe' ? 'Dashboard → Developers → Webhooks → the endpoint → Signing secret' : 'Settings → API → Webhooks'}) and paste it here; the previous secret keeps verifying for 24 hours.`,
      fields: [{ name: 'signingSecret', label: 'Signing secret', type: 'password', required: true, hint: SECRET_HINT[job.source] }],
      submitText: 'Save secret',
      submit: async (v) => {
        await patch(path, { webhookConfig: { signingSecret: v.signingSecret } });
        return 'Signing secret saved.';
      },
      after: () => reload(),
    });
    return '';
  }
  if (!(await confirmDialog({ title: 'Regenerate the secret?', message: 'A new secret verifies from now on; the previous one keeps verifying for 24 hours so the sender can switch over.', confirmText: 'Regenerate secret', danger: false }))) return '';
  const r = await post(`${path}/webhook/regenerate-secret`);
  await reload();
  clear(secretBox, copyable('Secret', r.webhookSecret, 'webhook-secret'));
  revealDialog('New secret', 'Copy the new secret now: it is shown only this once.', [['Secret', r.webhookSecret]]);
  return '';
}

function eventList(ws, job) {
  const path = jobPath(ws, job.id);
  const status = field({ name: 'status', label: 'Status', type: 'select', options: [['', 'All'], ['pending', 'Pending'], ['processed', 'Processed'], ['failed', 'Failed'], ['ignored', 'Ignored'], ['skipped', 'Skipped']] });
  const body = h('div', {}, loading());
  const p = pager(async (cursor) => {
    try {
      const data = await get(`${path}/webhook/events`, { status: status.read(), limit: PAGE, cursor });
      clear(
        body,
        table(
          [
            { label: 'Received', cell: (e) => time(e.receivedAt) },
            { label: 'Event', cell: (e) => link(e.type || e.id, `#/sync-jobs/${seg(job.id)}/events/${seg(e.id)}`, 'event-link') },
            { label: 'Provider event id', cell: (e) => code(dash(e.providerEventId)) },
            { label: 'Record', cell: (e) => (e.objectType ? `${e.objectType}/${e.objectId}` : h('span', { class: 'muted' }, '—')) },
            { label: 'Status', cell: (e) => badge(e.status) },
            { label: 'Attempts', cell: (e) => String(e.attempts ?? 0), cls: 'num' },
            { label: 'Last error', cell: (e) => (e.lastError ? h('span', { class: 'error-text clip', title: e.lastError }, e.lastError) : h('span', { class: 'muted' }, '—')) },
            {
              label: 'Actions',
              cell: (e) =>
                h(
                  'div',
                  { class: 'row-actions' },
                  link('Open', `#/sync-jobs/${seg(job.id)}/events/${seg(e.id)}`, 'btn btn-secondary btn-small'),
                  e.status !== 'pending' && e.status !== 'ignored'
                    ? button(
                        'Retry',
                        async () => {
                          await post(`${path}/webhook/events/${seg(e.id)}/retry`);
                          p.reload();
                          return `Event ${e.id} re-queued.`;
                        },
                        { cls: 'btn-small' },
                      )
                    : null,
                ),
            },
          ],
          data.events || [],
          { empty: 'No events match. "Send test" posts a signed test event through the real pipeline.', rowClass: (e) => `status-${e.status}` },
        ),
      );
      return data.pagination;
    } catch (e) {
      clear(body, errorNotice(e));
      throw e;
    }
  });
  status.input.addEventListener('change', () => p.reset());
  const el = panel('Events', { actions: [button('Refresh', () => p.reload())] }, h('div', { class: 'filters' }, status.wrap), body, p.el);
  return { el, start: () => p.reset(), reload: () => p.reload() };
}

// --- one event -----------------------------------------------------------------------------

export async function renderEvent(ctx) {
  const ws = await requireWorkspace(ctx, 'Sync jobs');
  if (!ws) return;
  const [jobId, eventId] = ctx.params;
  const path = jobPath(ws, jobId);
  const jobName = link(jobId, `#/sync-jobs/${seg(jobId)}`);
  const actions = h('div', { class: 'actions' });
  const body = h('div', {}, loading());
  ctx.main.append(h('div', { class: 'page-head' }, h('nav', { class: 'trail', 'aria-label': 'Breadcrumb' }, link('Sync jobs', '#/sync-jobs'), ' / ', jobName, ' / ', h('span', {}, eventId)), h('div', { class: 'page-title' }, h('h1', {}, 'Sync jobs'), actions)), body);
  get(path)
    .then((r) => {
      jobName.textContent = r.syncJob.name;
    })
    .catch(() => {
      // the event answer below shows what is wrong
    });
  const load = async () => {
    let ev;
    try {
      ev = (await get(`${path}/webhook/events/${seg(eventId)}`)).event;
    } catch (e) {
      clear(body, errorNotice(e));
      clear(actions);
      return;
    }
    clear(
      actions,
      button(
        'Retry',
        async () => {
          await post(`${path}/webhook/events/${seg(eventId)}/retry`);
          await load();
          return 'Event re-queued.';
        },
        { kind: 'primary' },
      ),
    );
    const raw = ev.payload !== null && ev.payload !== undefined ? pretty(ev.payload) : pretty(ev.rawPayload || '');
    const headers = Object.entries(ev.headers || {});
    clear(
      body,
      panel(
        ev.type || ev.id,
        {},
        facts([
          ['Status', badge(ev.status)],
          ['Event id', code(ev.id)],
          ['Provider event id', code(dash(ev.providerEventId))],
          ['Source', sourceName(ev.source)],
          ['Record', ev.objectType ? `${ev.objectType}/${ev.objectId}` : '—'],
          ['Outcome', dash(ev.outcome)],
          ['Attempts', String(ev.attempts ?? 0)],
          ['Last error', ev.lastError ? h('span', { class: 'error-text' }, ev.lastError) : '—'],
          ['Event created', time(ev.eventCreated)],
          ['Received', time(ev.receivedAt)],
          ['Processed', time(ev.processedAt)],
          ['Kept until', time(ev.expiresAt)],
        ]),
      ),
      panel('Raw payload', { actions: [copyButton(ev.rawPayload || raw)] }, h('pre', { class: 'code-block raw-payload', tabindex: '0' }, raw)),
      h(
        'div',
        { class: 'grid-2' },
        panel('Headers', {}, table([{ label: 'Header', cell: ([k]) => code(k) }, { label: 'Value', cell: ([, v]) => h('span', { class: 'wrap' }, v) }], headers, { empty: 'No headers kept.' })),
        panel('Errors', {}, table([{ label: 'At', cell: (x) => time(x.at) }, { label: 'Error', cell: (x) => h('span', { class: 'error-text' }, x.error) }], ev.errors || [], { empty: 'No errors.' })),
      ),
    );
  };
  await load();
}
