// The browser sign-in (the server's /sign-in page, authorization code with PKCE, as `dagy login`
// uses it) for the web app: the callback is this server's root, the one-time code is traded for a
// token at /auth/token and removed from the address bar at once (replaceState). The token itself
// never appears in a URL.
import { api, session } from "./api.js";

const PENDING = "dagy.pkce";
const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

// startBrowserSignIn(next): go to the server's sign-in page; it comes back to "/?code=…&state=…".
export async function startBrowserSignIn(next) {
  if (!crypto.subtle) throw new Error("The browser sign-in needs a secure page (https:// or localhost)");
  const verifier = random(48);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const callback = `${location.origin}/`;
  const state = random(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, callback, next: next || "/" }));
  const q = new URLSearchParams({ cli_callback: callback, state, code_challenge: b64url(digest), code_challenge_method: "S256" });
  location.assign(`/sign-in?${q}`);
}

// finishBrowserSignIn(): on the way back from /sign-in, trade the code for a token.
// -> null (nothing to do), {next} (signed in), or {error} (shown by the sign-in page).
export async function finishBrowserSignIn() {
  const q = new URLSearchParams(location.search);
  if (!q.has("code") && !q.has("error")) return null;
  history.replaceState(null, "", location.pathname + (location.hash || "#/"));
  let pending = null;
  try { pending = JSON.parse(sessionStorage.getItem(PENDING) || "null"); } catch { /* none */ }
  sessionStorage.removeItem(PENDING);
  if (q.has("error")) return { error: q.get("error_description") || q.get("error") };
  if (!pending || pending.state !== q.get("state")) return { error: "This sign-in answer does not match a sign-in started here: start again." };
  try {
    const r = await api("POST", "/auth/token", { code: q.get("code"), code_verifier: pending.verifier, redirect_uri: pending.callback });
    session.token = r.access_token;
    session.org = null;
    return { next: pending.next };
  } catch (e) {
    return { error: e.message };
  }
}
