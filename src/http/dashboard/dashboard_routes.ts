/**
 * The operator dashboard at `/`: a static page, a script and a style sheet, imported as text so
 * that they are part of the module graph (offline, and inside a `deno compile` binary). The page
 * holds no data: the script asks for the API key, keeps it in the tab's session storage, and
 * reads and changes sessions through the authenticated REST API like any other client.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import page from "./index.html" with { type: "text" };
import script from "./dashboard.js" with { type: "text" };
import apiScript from "./api.js" with { type: "text" };
import deadLettersScript from "./dead_letters.js" with { type: "text" };
import eventLogScript from "./event_log.js" with { type: "text" };
import nodesScript from "./nodes.js" with { type: "text" };
import sessionDetailScript from "./session_detail.js" with { type: "text" };
import styles from "./dashboard.css" with { type: "text" };
import favicon from "./favicon.svg" with { type: "text" };

/** Where the dashboard is served. */
export const DASHBOARD_PATH = "/";

const JAVASCRIPT = "text/javascript; charset=utf-8";

const ASSETS: Record<string, { body: string; type: string }> = {
  "/dashboard/dashboard.js": { body: script, type: JAVASCRIPT },
  "/dashboard/api.js": { body: apiScript, type: JAVASCRIPT },
  "/dashboard/session_detail.js": { body: sessionDetailScript, type: JAVASCRIPT },
  "/dashboard/event_log.js": { body: eventLogScript, type: JAVASCRIPT },
  "/dashboard/dead_letters.js": { body: deadLettersScript, type: JAVASCRIPT },
  "/dashboard/nodes.js": { body: nodesScript, type: JAVASCRIPT },
  "/dashboard/dashboard.css": { body: styles, type: "text/css; charset=utf-8" },
  "/dashboard/favicon.svg": { body: favicon, type: "image/svg+xml" },
};

/** Paths of every route `registerDashboard` adds; they are not part of the API. */
export const DASHBOARD_ROUTES: readonly string[] = [DASHBOARD_PATH, ...Object.keys(ASSETS)];

/**
 * Only the gateway's own script, styles and API; QR codes arrive as `blob:` images. No framing,
 * so the page cannot be overlaid to trick an operator into clicking (clickjacking).
 */
const SECURITY_HEADERS = {
  "content-security-policy": [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    // The script never builds HTML from strings; this makes the browser enforce it.
    "require-trusted-types-for 'script'",
  ].join("; "),
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
} as const;

/**
 * Registers the dashboard page and its assets; none of them needs the API key.
 *
 * @example
 * ```ts
 * registerDashboard(app); // GET / → the dashboard
 * ```
 */
export function registerDashboard(app: OpenAPIHono): void {
  app.get(DASHBOARD_PATH, (c) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
    c.header("cache-control", "no-cache");
    return c.html(page);
  });
  for (const [path, asset] of Object.entries(ASSETS)) {
    app.get(path, (c) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
      c.header("content-type", asset.type);
      c.header("cache-control", "no-cache");
      return c.body(asset.body);
    });
  }
}
