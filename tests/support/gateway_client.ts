/**
 * A small REST client for a running gateway, for end-to-end tests: JSON requests, and waits on a
 * session's status by polling the API the way an operator's system would.
 */

/** A session as the API returns it (the fields tests look at). */
export interface SessionView {
  id: string;
  name: string | null;
  status: string;
  desiredState: string;
  phoneNumber: string | null;
  pushName: string | null;
  createdAt: string;
  updatedAt?: string;
  connectedAt: string | null;
  lastDisconnect: { code: number | null; reason: string } | null;
  webhooks: { url: string; events: string[]; secret: string }[];
  statusHistory: {
    status: string;
    previousStatus: string | null;
    at: string;
    reason: string | null;
  }[];
  storageProblem:
    | { code: string; message: string; since: string; unwrittenAuthFiles: number }
    | null;
}

export class GatewayClient {
  constructor(readonly baseUrl: string, readonly apiKey?: string) {}

  /** Sends a request; a body is sent as JSON. The response body is left to the caller. */
  async request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.apiKey) headers["x-api-key"] = this.apiKey;
    return await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  /** Sends a request as given (any body and content type), with the API key. */
  async fetchRaw(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.apiKey) headers.set("x-api-key", this.apiKey);
    return await fetch(`${this.baseUrl}${path}`, { ...init, headers });
  }

  /** Sends a request and returns its status and parsed JSON body (`null` when empty). */
  async json<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const res = await this.request(method, path, body);
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  async createSession(id: string, name?: string): Promise<SessionView> {
    const { status, body } = await this.json<SessionView>("POST", "/api/sessions", { id, name });
    if (status !== 201) throw new Error(`create ${id}: ${status} ${JSON.stringify(body)}`);
    return body;
  }

  /** The session, or `null` when the gateway answers 404. */
  async session(id: string): Promise<SessionView | null> {
    const { status, body } = await this.json<SessionView>("GET", `/api/sessions/${id}`);
    if (status === 404) return null;
    if (status !== 200) throw new Error(`get ${id}: ${status} ${JSON.stringify(body)}`);
    return body;
  }

  async sessions(): Promise<SessionView[]> {
    const { body } = await this.json<{ sessions: SessionView[] }>("GET", "/api/sessions");
    return body.sessions;
  }

  /**
   * Polls until `predicate` holds for the session, and returns it. `timeoutMs` is how long the
   * session may go without changing: one that keeps moving (connecting, qr, …) on a loaded
   * machine is waited for.
   */
  async waitForSession(
    id: string,
    predicate: (session: SessionView | null) => boolean,
    { timeoutMs = 20_000, what = "the expected state" } = {},
  ): Promise<SessionView | null> {
    let deadline = Date.now() + timeoutMs;
    let last: SessionView | null = null;
    let lastChange: string | undefined;
    while (Date.now() < deadline) {
      last = await this.session(id);
      if (predicate(last)) return last;
      const change = `${last?.status} ${last?.updatedAt}`;
      if (change !== lastChange) deadline = Date.now() + timeoutMs;
      lastChange = change;
      await delay(50);
    }
    throw new Error(`session ${id} did not reach ${what}; last seen: ${JSON.stringify(last)}`);
  }

  /** Polls until the session has `status`, and returns it. */
  async waitForStatus(id: string, status: string, timeoutMs?: number): Promise<SessionView> {
    return (await this.waitForSession(id, (s) => s?.status === status, {
      timeoutMs,
      what: `status ${status}`,
    }))!;
  }

  /**
   * Polls until a QR code is pending for the session, and returns its raw string; `timeoutMs` is
   * how long the answer may stay the same.
   */
  async waitForQr(id: string, timeoutMs = 20_000): Promise<string> {
    let deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      const res = await this.request("GET", `/api/sessions/${id}/qr?format=raw`);
      const text = await res.text();
      if (res.status === 200) return text;
      // The 409 names the session's status: a session still moving towards its QR is waited for.
      if (`${res.status} ${text}` !== last) deadline = Date.now() + timeoutMs;
      last = `${res.status} ${text}`;
      await delay(50);
    }
    throw new Error(`no QR code for ${id}; last answer: ${last}`);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
