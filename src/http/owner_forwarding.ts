import type { MiddlewareHandler } from "hono";
import { OwnerUnavailableError } from "../domain/errors.ts";
import { isSessionId, type SessionId } from "../domain/session_id.ts";
import type { Logger } from "../logger.ts";
import type { OwnerDirectory } from "../ownership/owner_directory.ts";

/** The header a forwarded request carries: the forwarding node's id. A request is forwarded once. */
export const FORWARDED_BY_HEADER = "x-wa-forwarded-by";

/** The header on every response of a clustered gateway: the id of the node that answered. */
export const SERVED_BY_HEADER = "x-wa-node";

/** Request and response headers that describe one connection, never passed on (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);

/** The outcome of one forwarding attempt, for metrics. */
export type ForwardResult = "forwarded" | "owner_unreachable" | "no_owner" | "moved";

export interface OwnerForwardingOptions {
  owners: OwnerDirectory;
  /** This node's id (sent in `x-wa-forwarded-by`). */
  nodeId: string;
  /** How long the owner may take to start answering before the caller gets 503. */
  timeoutMs: number;
  /** Seconds a caller is told to wait when the session has no reachable owner. */
  retryAfterSeconds: number;
  logger: Logger;
  onForward?: (result: ForwardResult) => void;
}

/**
 * Sends every request that needs a session's socket to the node that runs it: everything under
 * `/api/sessions/{id}/…`, and `DELETE /api/sessions/{id}` (which logs out). Reads and edits of the
 * record itself are answered by any node from the store, so they pass through.
 *
 * The request goes on as it came, with the caller's own credentials (every node has the same API
 * key, so forwarding grants nothing the caller did not have) and streams both ways. A forwarded
 * request is never forwarded again: a node that is not (or no longer) the owner answers 503, as it
 * does when no live node owns the session or the owner does not answer within `timeoutMs` (of the
 * request, or of the last chunk of its body the owner took), with `Retry-After`.
 *
 * @example
 * ```ts
 * app.use("/api/sessions/*", ownerForwarding({ owners, nodeId, timeoutMs: 5_000, retryAfterSeconds: 2, logger }));
 * ```
 */
export function ownerForwarding(options: OwnerForwardingOptions): MiddlewareHandler {
  return async (c, next) => {
    const id = socketSessionId(c.req.method, c.req.path);
    if (id === null) return await next();
    const owner = await options.owners.ownerOf(id);
    if (owner.kind === "self" || owner.kind === "unknown") return await next();
    const unavailable = (message: string, result: ForwardResult) => {
      options.onForward?.(result);
      return new OwnerUnavailableError(message, options.retryAfterSeconds);
    };
    if (c.req.header(FORWARDED_BY_HEADER) !== undefined) {
      throw unavailable(`Session '${id}' is moving between nodes; retry shortly`, "moved");
    }
    if (owner.kind === "none") {
      throw unavailable(
        `Session '${id}' has no running node right now (it is being taken over); retry shortly`,
        "no_owner",
      );
    }

    const target = new URL(c.req.url);
    const base = new URL(owner.url);
    target.protocol = base.protocol;
    target.host = base.host;
    const headers = new Headers();
    for (const [name, value] of c.req.raw.headers) {
      if (!HOP_BY_HOP.has(name.toLowerCase())) headers.set(name, value);
    }
    headers.set(FORWARDED_BY_HEADER, options.nodeId);
    const abort = new AbortController();
    let timer = setTimeout(() => abort.abort(), options.timeoutMs);
    // While a body (a file to send) streams, each chunk the owner takes shows it alive: the wait
    // for its answer starts once the last one is handed over, however long the upload took.
    const rearm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(), options.timeoutMs);
    };
    const body = c.req.raw.body ? progressReported(c.req.raw.body, rearm) : null;
    let response: Response;
    try {
      response = await fetch(target, {
        method: c.req.method,
        headers,
        body,
        redirect: "manual",
        signal: abort.signal,
      });
    } catch (error) {
      options.logger.warn(
        { sessionId: id, owner: owner.nodeId, err: error, timeoutMs: options.timeoutMs },
        "forwarding to the session's owner failed",
      );
      throw unavailable(
        `The node running session '${id}' (${owner.nodeId}) did not answer; retry shortly`,
        "owner_unreachable",
      );
    } finally {
      // Only the wait for the answer is bounded: a long download may then stream at its pace.
      clearTimeout(timer);
    }
    options.onForward?.("forwarded");
    const out = new Headers();
    for (const [name, value] of response.headers) {
      if (!HOP_BY_HOP.has(name.toLowerCase())) out.set(name, value);
    }
    return new Response(response.body, { status: response.status, headers: out });
  };
}

/** Pieces handed to the request body at a time, so that the owner's progress is seen. */
const BODY_PIECE_BYTES = 64 * 1024;

/**
 * `source` as read by its consumer, in pieces of at most `BODY_PIECE_BYTES`; `onProgress` is
 * called each time the consumer asks for more (and once more when it has it all).
 */
function progressReported(
  source: ReadableStream<Uint8Array>,
  onProgress: () => void,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let rest: Uint8Array = new Uint8Array(0);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      onProgress();
      if (rest.length === 0) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        rest = value;
      }
      controller.enqueue(rest.subarray(0, BODY_PIECE_BYTES));
      rest = rest.subarray(BODY_PIECE_BYTES);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/**
 * The session id of a request that needs the session's socket, or `null`. An invalid id is left
 * to the route, which answers 400.
 */
function socketSessionId(method: string, path: string): SessionId | null {
  const match = /^\/api\/sessions\/([^/]+)(\/.*)?$/.exec(path);
  if (!match) return null;
  const [, id, rest] = match;
  if (!isSessionId(id)) return null;
  if (rest === undefined || rest === "/") return method === "DELETE" ? id : null;
  return id;
}
