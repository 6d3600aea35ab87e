// The JSON API of DESIGN §4/§8, called with the key the user pasted. The key lives in
// sessionStorage only (never in a URL or a cookie); a 401 anywhere ends the session.

const KEY = 'bookingSync.apiKey';
const WORKSPACE = 'bookingSync.workspaceId';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  workspace: () => sessionStorage.getItem(WORKSPACE),
  start(key) {
    sessionStorage.setItem(KEY, key);
  },
  setWorkspace(id) {
    sessionStorage.setItem(WORKSPACE, id);
  },
  // Everything the console put there: the key, the workspace id.
  end() {
    sessionStorage.clear();
    workspaceLookup = null;
  },
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

let unauthorized = () => {};

/** Called with the API's message when a request answers 401 (the key is gone or revoked). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

function urlOf(path, query) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === '' || value === false) continue;
    url.searchParams.set(name, String(value));
  }
  return url;
}

/**
 * One API call. Resolves with the parsed success body; rejects with an ApiError whose message
 * is the API's `error.message` (or, for a non-JSON answer such as a gateway 404, the status).
 */
export async function api(method, path, { query, body, key } = {}) {
  const headers = { Accept: 'application/json' };
  const bearer = key || session.key();
  // Every route the console calls needs the key: after "Sign out" a view still loading
  // stops here instead of asking the API without it.
  if (!bearer) throw new ApiError(401, 'unauthorized', 'Signed out.');
  headers.Authorization = `Bearer ${bearer}`;
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(urlOf(path, query), init);
  } catch (e) {
    throw new ApiError(0, 'network', `The API could not be reached (${e.message}).`);
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = null;
  }
  const error = data && typeof data.error === 'object' && data.error ? data.error : null;
  if (resp.status === 401) {
    const message = (error && error.message) || 'The API key was not accepted.';
    if (!key) unauthorized(message);
    throw new ApiError(401, (error && error.code) || 'unauthorized', message);
  }
  if (!resp.ok || !data || data.success === false) {
    const message =
      (error && error.message) ||
      `${method} ${path} answered HTTP ${resp.status}${data && data.message ? `: ${data.message}` : ''}`;
    throw new ApiError(resp.status, (error && error.code) || `http_${resp.status}`, message);
  }
  return data;
}

export const get = (path, query) => api('GET', path, { query });
export const post = (path, body) => api('POST', path, { body: body === undefined ? {} : body });
export const patch = (path, body) => api('PATCH', path, { body });
export const del = (path) => api('DELETE', path);

/** Path segment, encoded. */
export const seg = (s) => encodeURIComponent(String(s));

let workspaceLookup = null;

/**
 * The key's workspace id (the sync-job routes name it). Asked once per session from
 * `GET /api/workspace`; when that route is missing the view offers a "Workspace ID" field.
 */
export async function workspaceId() {
  const known = session.workspace();
  if (known) return { id: known };
  if (!workspaceLookup) {
    const keyAsked = session.key();
    workspaceLookup = api('GET', '/api/workspace')
      .then((d) => {
        const id = d.workspace && d.workspace.id;
        // A sign-out while this was in flight must not leave the id behind.
        if (id && session.key() === keyAsked) session.setWorkspace(id);
        return { id: id || null, error: id ? null : 'GET /api/workspace named no workspace id' };
      })
      // Kept for the session: a missing route is not asked again on every page.
      .catch((e) => ({ id: null, error: e.message }));
  }
  return workspaceLookup;
}

export function forgetWorkspaceLookup() {
  workspaceLookup = null;
}
