// The API client: every call goes to the public API with the signed-in user's token, kept in
// sessionStorage and sent only as an Authorization header (never in a URL).
export const BASE = document.querySelector('meta[name="dagy-api"]')?.content ?? "/v1";

const TOKEN = "dagy.token";
const ORG = "dagy.org";

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  set token(v) { v ? sessionStorage.setItem(TOKEN, v) : sessionStorage.removeItem(TOKEN); },
  get org() { return sessionStorage.getItem(ORG); },
  set org(v) { v ? sessionStorage.setItem(ORG, v) : sessionStorage.removeItem(ORG); },
  clear() { sessionStorage.removeItem(TOKEN); sessionStorage.removeItem(ORG); },
};

// An API error: status plus the spec's {error, message, details}.
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.error = body?.error || "http_error";
    this.details = body?.details || {};
  }
}

function headers(extra) {
  const h = { Accept: "application/json", ...extra };
  if (session.token) h.Authorization = `Bearer ${session.token}`;
  if (session.org) h["X-Dagy-Org"] = session.org;
  return h;
}

// url("/runs", {status: "failed", limit: 50}) -> "/v1/runs?status=failed&limit=50" (empty values dropped)
export function url(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return BASE + path + (s ? `?${s}` : "");
}

const listeners = new Set();
// onUnauthorized(fn): called when the API answers 401 (the app goes back to sign-in).
export function onUnauthorized(fn) { listeners.add(fn); }

// api(method, path, body?, {query, signal}) -> parsed JSON (null for 204); throws ApiError.
export async function api(method, path, body, opts = {}) {
  const init = { method, headers: headers(), signal: opts.signal };
  if (body !== undefined && body !== null) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url(path, opts.query), init);
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { message: text }; }
  }
  if (!res.ok) {
    if (res.status === 401 && session.token) listeners.forEach((fn) => fn());
    throw new ApiError(res.status, data);
  }
  return data;
}

export const get = (path, query, opts = {}) => api("GET", path, undefined, { ...opts, query });

// stream(path, body, onEvent, {method, signal}): Server-Sent Events over fetch (so the token
// stays in a header). onEvent({event, data, id}) per event; data is parsed JSON when it is JSON.
// Resolves when the stream ends.
export async function stream(path, body, onEvent, opts = {}) {
  const init = {
    method: opts.method || (body === undefined ? "GET" : "POST"),
    headers: headers({ Accept: "text/event-stream" }),
    signal: opts.signal,
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url(path, opts.query), init);
  if (!res.ok) {
    let data = null;
    try { data = await res.json(); } catch { /* not JSON */ }
    throw new ApiError(res.status, data);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value.replace(/\r\n/g, "\n");
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const chunk = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev = { event: "message", data: "", id: null };
      const lines = [];
      for (const line of chunk.split("\n")) {
        if (line.startsWith(":")) continue;
        const c = line.indexOf(":");
        const field = c < 0 ? line : line.slice(0, c);
        const val = c < 0 ? "" : line.slice(c + 1).replace(/^ /, "");
        if (field === "event") ev.event = val;
        else if (field === "data") lines.push(val);
        else if (field === "id") ev.id = val;
      }
      if (!lines.length && ev.event === "message") continue;
      ev.data = lines.join("\n");
      try { ev.data = JSON.parse(ev.data); } catch { /* plain text */ }
      onEvent(ev);
    }
  }
}

// fetchFile(path): a file's bytes as a Blob, fetched with the Authorization header (never a token
// in the URL); ApiError on refusal.
export async function fetchFile(path) {
  const res = await fetch(url(path), { headers: headers({ Accept: "*/*" }) });
  if (!res.ok) {
    let data = null;
    try { data = await res.json(); } catch { /* not JSON */ }
    if (res.status === 401 && session.token) listeners.forEach((fn) => fn());
    throw new ApiError(res.status, data);
  }
  return res.blob();
}

// download(path, name): fetchFile, then hand it to the browser as a download (short-lived blob: URL).
export async function download(path, name) {
  const blob = await fetchFile(path);
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
  return blob;
}
