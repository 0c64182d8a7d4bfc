import { strict as assert } from "node:assert";
import {
  GroupNotFoundError,
  SessionStateError,
  ValidationError,
  WhatsAppForbiddenError,
  WhatsAppRequestError,
} from "../../../../src/domain/errors.ts";
import { accountError, whatsappCode } from "../../../../src/whatsapp/account/whatsapp_errors.ts";
import { reviveError, serializeError } from "../../../../src/whatsapp/worker_pool/protocol.ts";

/** What Baileys throws: a Boom with an iq error's code as `data`, or a status of its own. */
class Boom extends Error {
  readonly isBoom = true;
  readonly data?: number;
  readonly output: { statusCode: number };
  constructor(message: string, options: { data?: number; statusCode?: number }) {
    super(message);
    this.data = options.data;
    this.output = { statusCode: options.statusCode ?? 500 };
  }
}

Deno.test("whatsappCode() reads an iq error's code, else a Boom's status", () => {
  assert.equal(whatsappCode(new Boom("forbidden", { data: 403 })), 403);
  assert.equal(whatsappCode(new Boom("bad", { statusCode: 400 })), 400);
  assert.equal(whatsappCode(new Error("plain")), null);
});

Deno.test("accountError() maps WhatsApp's refusals to the gateway's typed errors", () => {
  const notFound = accountError(new Boom("item-not-found", { data: 404 }), "answer", "1@g.us");
  assert.ok(notFound instanceof GroupNotFoundError);
  const forbidden = accountError(new Boom("forbidden", { data: 403 }), "add the participants");
  assert.ok(forbidden instanceof WhatsAppForbiddenError);
  assert.match(forbidden.message, /refused to add the participants: forbidden \(403\)/);
  assert.ok(accountError(new Boom("x", { statusCode: 400 }), "block") instanceof ValidationError);
  assert.ok(accountError(new Error("timed out"), "answer") instanceof WhatsAppRequestError);
});

Deno.test("the new errors keep their class across the worker boundary", () => {
  for (const error of [new GroupNotFoundError("gone"), new WhatsAppForbiddenError("no")]) {
    const revived = reviveError(serializeError(error));
    assert.equal(revived.constructor, error.constructor);
    assert.equal(revived.message, error.message);
  }
  // A state conflict keeps its own code, whichever it is.
  for (const code of ["session_not_connected", "app_state_not_synced", undefined]) {
    const error = new SessionStateError("not now", code);
    const revived = reviveError(serializeError(error)) as SessionStateError;
    assert.ok(revived instanceof SessionStateError);
    assert.equal(revived.code, error.code);
  }
});
