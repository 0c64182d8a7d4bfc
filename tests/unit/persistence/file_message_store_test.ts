import { strict as assert } from "node:assert";
import { EncryptionKeyError } from "../../../src/domain/errors.ts";
import { FileMessageStore } from "../../../src/persistence/message_store/file_message_store.ts";
import { createValueSealer } from "../../../src/persistence/sealed_value.ts";
import type { SessionId } from "../../../src/domain/session_id.ts";
import { testLogger } from "../../support/logger.ts";
import { messageStoreContract, storedText } from "../../support/message_store_contract.ts";
import { withTempDir } from "../../support/temp_dir.ts";

messageStoreContract((name, fn) =>
  Deno.test(`FileMessageStore: ${name}`, () =>
    withTempDir((dataDir) =>
      fn({
        create: ({ retention, clock }) =>
          new FileMessageStore({ dataDir, logger: testLogger(), retention, clock }),
      })
    ))
);

const retention = { maxAgeMs: 14 * 86_400_000, maxBytesPerSession: 1 << 20 };
const T0 = Date.now();
const S1 = "shop-1" as SessionId;
const fence = { sessionId: S1, epoch: 0 };
const logPath = (dir: string) => `${dir}/.message-store/shop-1/messages.jsonl`;

Deno.test("FileMessageStore drops a torn last line (a crash mid-append) and keeps the rest", async () => {
  await withTempDir(async (dataDir) => {
    const store = new FileMessageStore({ dataDir, logger: testLogger(), retention });
    await store.open();
    await store.put(fence, [storedText("A1", T0)]);
    await store.close();
    await Deno.writeTextFile(logPath(dataDir), '{"op":"put","id":"A2","bo', { append: true });
    const reopened = new FileMessageStore({ dataDir, logger: testLogger(), retention });
    const report = await reopened.open();
    assert.equal(report.messages, 1);
    assert.equal(report.repairs.length, 1);
    assert.ok(await reopened.get(S1, "A1"));
    await reopened.close();
  });
});

Deno.test("FileMessageStore with a key: no plaintext on disk; reading it needs the key", async () => {
  await withTempDir(async (dataDir) => {
    const sealer = createValueSealer(crypto.getRandomValues(new Uint8Array(32)));
    const store = new FileMessageStore({ dataDir, logger: testLogger(), retention, sealer });
    await store.open();
    const message = storedText("SECRET1", T0);
    await store.put(fence, [message]);
    await store.idempotency.claim(fence, {
      key: "order-1",
      requestHash: "h",
      messageId: "SECRET1",
      createdAt: T0,
      expiresAfterMs: 1000,
    });
    await store.close();
    const text = await Deno.readTextFile(logPath(dataDir));
    assert.ok(!text.includes("content of"), "content is sealed");
    assert.ok(!text.includes("15550009999"), "chat and sender are sealed");
    assert.ok(!text.includes(btoa("content of SECRET1").slice(0, 12)), "no base64 plaintext");

    const withKey = new FileMessageStore({ dataDir, logger: testLogger(), retention, sealer });
    await withKey.open();
    assert.deepEqual(await withKey.get(S1, "SECRET1"), message);
    await withKey.close();
    const withoutKey = new FileMessageStore({ dataDir, logger: testLogger(), retention });
    await assert.rejects(() => withoutKey.open(), EncryptionKeyError);
  });
});

Deno.test("FileMessageStore seals a plaintext log when opened with a key", async () => {
  await withTempDir(async (dataDir) => {
    const plain = new FileMessageStore({ dataDir, logger: testLogger(), retention });
    await plain.open();
    await plain.put(fence, [storedText("A1", T0)]);
    await plain.close();
    assert.ok((await Deno.readTextFile(logPath(dataDir))).includes("15550009999"));
    const sealer = createValueSealer(crypto.getRandomValues(new Uint8Array(32)));
    const sealed = new FileMessageStore({ dataDir, logger: testLogger(), retention, sealer });
    await sealed.open();
    assert.ok(!(await Deno.readTextFile(logPath(dataDir))).includes("15550009999"));
    assert.ok(await sealed.get(S1, "A1"));
    await sealed.close();
  });
});

Deno.test("FileMessageStore refuses a session id that is not one (no path outside the store)", async () => {
  await withTempDir(async (dataDir) => {
    const store = new FileMessageStore({ dataDir, logger: testLogger(), retention });
    await store.open();
    await assert.rejects(() =>
      store.put({ sessionId: "../x" as SessionId, epoch: 0 }, [storedText("A", T0)])
    );
    await store.close();
  });
});
