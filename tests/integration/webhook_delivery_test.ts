/**
 * Webhooks end to end inside one process: the real manager, outbox (on a temp dir), deliverer and
 * HTTP app, delivering to a real HTTP receiver on loopback. Events come from sessions on the
 * scripted WhatsApp port (incoming texts) or from session creation.
 */
import { strict as assert } from "node:assert";
import { type CoreApp, openCoreApp, requestJson } from "../support/core_app.ts";
import { ScriptedConnectionFactory } from "../support/scripted_connection.ts";
import { withTempDir } from "../support/temp_dir.ts";
import { type ReceivedDelivery, startWebhookReceiver } from "../support/webhook_receiver.ts";
import { verifyWebhookSignature } from "../../src/webhooks/webhook_signature.ts";

const SECRET = "receiver-secret-0123456789";
const SESSION_SECRET = "session-secret-abcdefghijkl";

async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const texts = (deliveries: ReceivedDelivery[], sessionId: string) =>
  deliveries
    .filter((d) => d.event.type === "message.received" && d.event.sessionId === sessionId)
    .map((d) => d.event.data.message.text);

async function createSession(core: CoreApp, body: Record<string, unknown>) {
  const res = await requestJson(core.app, "POST", "/api/sessions", body);
  assert.equal(res.status, 201, await res.clone().text());
  return await res.json();
}

Deno.test("a delivery is a JSON POST signed with HMAC-SHA256 over '<timestamp>.<body>'", async () => {
  const receiver = startWebhookReceiver({ secret: SECRET });
  try {
    await withTempDir(async (dir) => {
      const core = await openCoreApp(dir, {
        webhooks: { global: { url: receiver.url, secret: SECRET, events: ["session.status"] } },
      });
      try {
        await createSession(core, {
          id: "shop-1",
          webhooks: [{ url: "http://127.0.0.1:9/unused", secret: SESSION_SECRET }],
        });
        const [delivery] = await receiver.waitFor((accepted) => accepted.length === 1);
        assert.equal(delivery.validSignature, true);
        assert.match(delivery.headers["x-webhook-signature"], /^sha256=[0-9a-f]{64}$/);
        assert.match(delivery.headers["x-webhook-timestamp"], /^\d+$/);
        assert.equal(delivery.headers["content-type"], "application/json");
        const published = core.events.find((e) => e.type === "session.status")!;
        assert.equal(delivery.headers["x-webhook-id"], published.id);
        assert.equal(delivery.event.id, published.id);
        assert.equal(delivery.event.type, "session.status");
        assert.equal(delivery.event.sessionId, "shop-1");
        assert.equal(delivery.event.data.status, "disconnected");
        // The session's own webhook secret never leaves the process.
        assert.ok(!delivery.body.includes(SESSION_SECRET));
        assert.equal(delivery.event.data.session.webhooks[0].secret, "********");
        // A receiver with another secret, or a changed body, rejects it.
        const signed = {
          timestamp: delivery.headers["x-webhook-timestamp"],
          signature: delivery.headers["x-webhook-signature"],
        };
        assert.equal(
          verifyWebhookSignature("another-secret-0123456789", { ...signed, body: delivery.body }),
          false,
        );
        assert.equal(
          verifyWebhookSignature(SECRET, {
            ...signed,
            body: delivery.body.replace("shop", "shoq"),
          }),
          false,
        );
      } finally {
        await core.close();
      }
    });
  } finally {
    await receiver.close();
  }
});

Deno.test("receiver down for a while then back: every event arrives, in order, none twice", async () => {
  const receiver = startWebhookReceiver({ secret: SECRET });
  await receiver.stop(); // connections refused
  const factory = new ScriptedConnectionFactory();
  try {
    await withTempDir(async (dir) => {
      const core = await openCoreApp(dir, {
        connections: factory,
        webhooks: {
          global: { url: receiver.url, secret: SECRET, events: [] },
          maxAttempts: 1_000,
        },
      });
      try {
        await createSession(core, { id: "a" });
        await createSession(core, { id: "b" });
        const sent = { a: [] as string[], b: [] as string[] };
        for (let i = 0; i < 25; i++) {
          for (const id of ["a", "b"] as const) {
            const text = `${id}-${i}`;
            factory.of(id).receiveText("15550009999", text);
            sent[id].push(text);
          }
          if (i === 10) {
            await waitUntil(() => core.webhooks.stats.failedAttempts >= 4, "attempts failed");
          }
        }
        await waitUntil(() => core.webhooks.stats.failedAttempts >= 8, "more attempts failed");
        assert.equal(receiver.received.length, 0);
        // Then the receiver answers 503 for a while (non-2xx), then comes back for good.
        receiver.start();
        receiver.respondWith(503);
        await waitUntil(() => receiver.received.length >= 4, "503s answered");
        receiver.respondWith(200);

        const published = core.events.map((e) => e.id);
        const accepted = await receiver.waitFor((all) => all.length === published.length);
        assert.deepEqual(texts(accepted, "a"), sent.a);
        assert.deepEqual(texts(accepted, "b"), sent.b);
        const ids = accepted.map((d) => d.event.id);
        assert.equal(new Set(ids).size, ids.length, "no event accepted twice");
        assert.deepEqual(new Set(ids), new Set(published));
        for (const id of ["a", "b"]) {
          const order = published.filter((e) =>
            core.events.find((x) => x.id === e)?.sessionId === id
          );
          assert.deepEqual(
            accepted.filter((d) => d.event.sessionId === id).map((d) => d.event.id),
            order,
            `session ${id}'s events in publication order`,
          );
        }
        assert.ok(accepted.every((d) => d.validSignature));
        await waitUntil(() => core.webhooks.stats.queued === 0, "outbox drained");
        assert.equal((await core.webhooks.deadLetters()).length, 0);
      } finally {
        await core.close();
      }
      // Delivered entries are gone from the outbox on disk.
      const pending = await Deno.readTextFile(`${dir}/.webhook-outbox/pending.jsonl`);
      const live = new Set<string>();
      for (const line of pending.split("\n").filter(Boolean)) {
        const record = JSON.parse(line);
        if (record.op === "add") live.add(record.entry.id);
        else if (record.op === "done") live.delete(record.id);
      }
      assert.equal(live.size, 0);
    });
  } finally {
    await receiver.close();
  }
});

Deno.test("a failing endpoint holds back its own session's events only", async () => {
  const down = startWebhookReceiver({ secret: SESSION_SECRET });
  const up = startWebhookReceiver({ secret: SESSION_SECRET });
  down.respondWith(500);
  const factory = new ScriptedConnectionFactory();
  try {
    await withTempDir(async (dir) => {
      const core = await openCoreApp(dir, {
        connections: factory,
        webhooks: { maxAttempts: 1_000 },
      });
      try {
        const only = ["message.received"];
        await createSession(core, {
          id: "slow",
          webhooks: [{ url: down.url, secret: SESSION_SECRET, events: only }],
        });
        await createSession(core, {
          id: "fast",
          webhooks: [{ url: up.url, secret: SESSION_SECRET, events: only }],
        });
        for (let i = 0; i < 5; i++) {
          factory.of("slow").receiveText("15550009999", `slow-${i}`);
          factory.of("fast").receiveText("15550009999", `fast-${i}`);
        }
        const fast = await up.waitFor((accepted) => accepted.length === 5);
        assert.deepEqual(texts(fast, "fast"), ["fast-0", "fast-1", "fast-2", "fast-3", "fast-4"]);
        // Only the head of the failing queue is ever tried.
        assert.ok(down.received.length >= 1);
        assert.ok(down.received.every((d) => d.event.data.message.text === "slow-0"));
        down.respondWith(200);
        const slow = await down.waitFor((accepted) => accepted.length === 5);
        assert.deepEqual(texts(slow, "slow"), ["slow-0", "slow-1", "slow-2", "slow-3", "slow-4"]);
      } finally {
        await core.close();
      }
    });
  } finally {
    await down.close();
    await up.close();
  }
});

Deno.test("events that exhaust their retries are dead-lettered, listed, retried and deleted", async () => {
  const receiver = startWebhookReceiver({ secret: SESSION_SECRET });
  receiver.respondWith(500);
  const factory = new ScriptedConnectionFactory();
  try {
    await withTempDir(async (dir) => {
      const core = await openCoreApp(dir, { connections: factory, webhooks: { maxAttempts: 3 } });
      try {
        await createSession(core, {
          id: "shop-1",
          webhooks: [{ url: receiver.url, secret: SESSION_SECRET, events: ["message.received"] }],
        });
        factory.of("shop-1").receiveText("15550009999", "first");
        factory.of("shop-1").receiveText("15550009999", "second");
        await waitUntil(() => core.webhooks.deadLetterCount === 2, "two dead letters");
        assert.equal(receiver.received.length, 6, "three attempts each");

        const listed = await (await requestJson(core.app, "GET", "/api/webhooks/dead-letters"))
          .json();
        assert.equal(listed.deadLetters.length, 2);
        const [first, second] = listed.deadLetters;
        assert.equal(first.event.data.message.text, "first");
        assert.equal(first.attempts, 3);
        assert.equal(first.lastError, "HTTP 500");
        assert.equal(first.sessionId, "shop-1");
        assert.deepEqual(first.endpoint, {
          scope: "session",
          url: receiver.url,
          secret: "********",
        });
        assert.ok(!JSON.stringify(listed).includes(SESSION_SECRET));
        const filtered = await (await requestJson(
          core.app,
          "GET",
          "/api/webhooks/dead-letters?session=other",
        )).json();
        assert.equal(filtered.deadLetters.length, 0);
        const onDisk = await Deno.readTextFile(`${dir}/.webhook-outbox/dead-letters.jsonl`);
        assert.ok(onDisk.includes(first.id) && onDisk.includes(second.id));

        receiver.respondWith(200);
        const retried = await requestJson(
          core.app,
          "POST",
          `/api/webhooks/dead-letters/${first.id}/retry`,
        );
        assert.equal(retried.status, 202);
        assert.deepEqual(await retried.json(), {
          id: first.id,
          eventId: first.eventId,
          status: "queued",
        });
        const [delivered] = await receiver.waitFor((accepted) => accepted.length === 1);
        assert.equal(delivered.event.data.message.text, "first");
        assert.equal(delivered.validSignature, true);

        const deleted = await requestJson(
          core.app,
          "DELETE",
          `/api/webhooks/dead-letters/${second.id}`,
        );
        assert.equal(deleted.status, 204);
        const after = await (await requestJson(core.app, "GET", "/api/webhooks/dead-letters"))
          .json();
        assert.deepEqual(after.deadLetters, []);
        for (
          const [method, path] of [
            ["POST", `/api/webhooks/dead-letters/${second.id}/retry`],
            ["DELETE", `/api/webhooks/dead-letters/${first.id}`],
          ]
        ) {
          const res = await requestJson(core.app, method, path);
          assert.equal(res.status, 404);
          assert.equal((await res.json()).error.code, "dead_letter_not_found");
        }
      } finally {
        await core.close();
      }
    });
  } finally {
    await receiver.close();
  }
});

Deno.test("WEBHOOK_MAX_ATTEMPTS counts the attempts made before a restart", async () => {
  const receiver = startWebhookReceiver({ secret: SECRET });
  receiver.respondWith(500);
  const webhooks = {
    global: { url: receiver.url, secret: SECRET, events: ["session.status" as const] },
    maxAttempts: 3,
    // Long enough that the restart comes between the second attempt and the third.
    retryInitialDelayMs: 400,
    retryMaxDelayMs: 400,
  };
  try {
    await withTempDir(async (dir) => {
      const first = await openCoreApp(dir, { webhooks });
      try {
        await createSession(first, { id: "shop-1" });
        await waitUntil(() => receiver.received.length >= 2, "two attempts");
      } finally {
        await first.close();
      }
      assert.equal(receiver.received.length, 2);
      const second = await openCoreApp(dir, { webhooks });
      try {
        await waitUntil(
          async () => (await second.webhooks.deadLetters()).length === 1,
          "a dead letter",
        );
        const [letter] = await second.webhooks.deadLetters();
        assert.equal(letter.attempts, 3);
        assert.deepEqual(
          receiver.received.map((d) => d.headers["x-webhook-attempt"]),
          ["1", "2", "3"],
          "one more attempt after the restart, numbered on",
        );
      } finally {
        await second.close();
      }
    });
  } finally {
    await receiver.close();
  }
});

Deno.test("undelivered events stay in the outbox across a restart and are delivered after it", async () => {
  const receiver = startWebhookReceiver({ secret: SECRET });
  receiver.respondWith(503);
  const webhooks = {
    global: { url: receiver.url, secret: SECRET, events: [] },
    maxAttempts: 1_000,
  };
  try {
    await withTempDir(async (dir) => {
      const first = await openCoreApp(dir, { webhooks });
      const published: string[] = [];
      try {
        for (const id of ["s1", "s2", "s3"]) await createSession(first, { id });
        published.push(...first.events.map((e) => e.id));
        await waitUntil(() => receiver.received.length >= 3, "attempts made");
      } finally {
        await first.close();
      }
      receiver.respondWith(200);
      const second = await openCoreApp(dir, { webhooks });
      try {
        assert.equal(second.webhooks.loadReport.pending, 3);
        const accepted = await receiver.waitFor((all) => all.length === 3);
        assert.deepEqual(accepted.map((d) => d.event.id).sort(), [...published].sort());
      } finally {
        await second.close();
      }
    });
  } finally {
    await receiver.close();
  }
});

Deno.test("session webhooks: set at create and by PATCH, validated, secrets never returned", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      const hook = { url: "https://example.com/hook", secret: SESSION_SECRET };
      const created = await createSession(core, { id: "shop-1", webhooks: [hook] });
      assert.deepEqual(created.webhooks, [
        { url: hook.url, events: [], secret: "********" },
      ]);
      const fetched = await (await requestJson(core.app, "GET", "/api/sessions/shop-1")).json();
      assert.deepEqual(fetched.webhooks, created.webhooks);

      // Sending back what was read keeps the secret; a new URL with the mask is refused.
      const kept = await requestJson(core.app, "PATCH", "/api/sessions/shop-1", {
        webhooks: [{ ...created.webhooks[0], events: ["message.received"] }],
      });
      assert.equal(kept.status, 200);
      assert.deepEqual((await kept.json()).webhooks[0].events, ["message.received"]);
      assert.equal(
        core.manager.webhooksOf((await core.manager.get("shop-1")).id)[0].secret,
        SESSION_SECRET,
      );
      const masked = await requestJson(core.app, "PATCH", "/api/sessions/shop-1", {
        webhooks: [{ url: "https://example.com/other", secret: "********" }],
      });
      assert.equal(masked.status, 400);

      const bad: unknown[] = [
        [{ url: "ftp://example.com/hook", secret: SESSION_SECRET }],
        [{ url: "https://user:pw@example.com/hook", secret: SESSION_SECRET }],
        [{ url: "https://example.com/hook", secret: "short" }],
        [{ url: "https://example.com/hook", secret: SESSION_SECRET, events: ["nope"] }],
        [{ url: "https://example.com/hook", secret: SESSION_SECRET, extra: 1 }],
        [hook, hook],
        Array.from(
          { length: 11 },
          (_, i) => ({ url: `https://example.com/${i}`, secret: SESSION_SECRET }),
        ),
      ];
      for (const webhooks of bad) {
        const res = await requestJson(core.app, "PATCH", "/api/sessions/shop-1", { webhooks });
        assert.equal(res.status, 400, JSON.stringify(webhooks));
        assert.equal((await res.json()).error.code, "invalid_input");
      }

      const cleared = await requestJson(core.app, "PATCH", "/api/sessions/shop-1", {
        webhooks: [],
      });
      assert.deepEqual((await cleared.json()).webhooks, []);

      const everything = JSON.stringify([
        await (await requestJson(core.app, "GET", "/api/sessions")).json(),
        core.events,
      ]);
      assert.ok(!everything.includes(SESSION_SECRET), "no secret in responses or events");
    } finally {
      await core.close();
    }
  });
});

Deno.test("WEBHOOK_ALLOWED_HOSTS: session webhooks to other hosts get 400 and change nothing", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir, {
      webhooks: { allowedHosts: ["*.example.com", "hooks.partner.test"] },
    });
    try {
      const hook = (url: string) => ({ url, secret: SESSION_SECRET, events: [] });
      for (const url of ["http://169.254.169.254/latest", "https://example.com/x"]) {
        const refused = await requestJson(core.app, "POST", "/api/sessions", {
          id: "shop-1",
          webhooks: [hook(url)],
        });
        assert.equal(refused.status, 400, url);
        assert.match((await refused.json()).error.message, /not in WEBHOOK_ALLOWED_HOSTS/);
      }
      assert.equal((await requestJson(core.app, "GET", "/api/sessions/shop-1")).status, 404);

      await createSession(core, { id: "shop-1", webhooks: [hook("https://in.example.com/a")] });
      const patch = await requestJson(core.app, "PATCH", "/api/sessions/shop-1", {
        webhooks: [hook("https://hooks.partner.test/b"), hook("http://10.0.0.1/internal")],
      });
      assert.equal(patch.status, 400);
      assert.match((await patch.json()).error.message, /webhooks\.1\.url: host '10\.0\.0\.1'/);
      const session = await (await requestJson(core.app, "GET", "/api/sessions/shop-1")).json();
      assert.deepEqual(session.webhooks.map((h: { url: string }) => h.url), [
        "https://in.example.com/a",
      ]);
    } finally {
      await core.close();
    }
  });
});

Deno.test("an event queued for a host no longer allowed is dead-lettered without a request", async () => {
  const receiver = startWebhookReceiver({ secret: SECRET });
  await receiver.stop(); // refused: the event stays queued
  const global = { url: receiver.url, secret: SECRET, events: [] };
  try {
    await withTempDir(async (dir) => {
      const first = await openCoreApp(dir, { webhooks: { global, maxAttempts: 1_000 } });
      try {
        await createSession(first, { id: "shop-1" });
        await waitUntil(() => first.webhooks.stats.failedAttempts > 0, "a failed attempt");
      } finally {
        await first.close();
      }

      receiver.start();
      // The global webhook is gone and the list leaves its host out.
      const second = await openCoreApp(dir, { webhooks: { allowedHosts: ["hooks.example.com"] } });
      try {
        await waitUntil(() => second.webhooks.deadLetterCount === 1, "dead-lettered");
        assert.match((await second.webhooks.deadLetters())[0].lastError, /WEBHOOK_ALLOWED_HOSTS/);
        assert.equal(receiver.received.length, 0, "no request was made");
      } finally {
        await second.close();
      }
    });
  } finally {
    await receiver.close();
  }
});
