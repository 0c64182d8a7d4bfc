import { strict as assert } from "node:assert";
import type { GroupMetadata } from "@whiskeysockets/baileys";
import {
  GroupMetadataCache,
  sameParticipant,
} from "../../../../src/whatsapp/account/group_metadata_cache.ts";

const GROUP = "120363012345678901@g.us";
const ME = { id: "100000000000001@lid", phoneNumber: "15550001111@s.whatsapp.net" };

function metadata(jid = GROUP): GroupMetadata {
  return {
    id: jid,
    subject: "Customers",
    owner: undefined,
    participants: [
      { ...ME, admin: "superadmin" },
      { id: "200000000000002@lid", phoneNumber: "15550002001@s.whatsapp.net", admin: null },
    ],
  } as GroupMetadata;
}

const isMe = (p: { id: string; phoneNumber?: string; lid?: string }) => sameParticipant(ME, p);

Deno.test("lookup() fetches a missing group once, even for concurrent sends", async () => {
  const cache = new GroupMetadataCache();
  let fetches = 0;
  const fetch = async () => {
    fetches++;
    await new Promise((resolve) => setTimeout(resolve, 5));
    return metadata();
  };
  const [a, b] = await Promise.all([cache.lookup(GROUP, fetch), cache.lookup(GROUP, fetch)]);
  assert.equal(a?.subject, "Customers");
  assert.equal(b, a);
  assert.equal((await cache.lookup(GROUP, fetch))?.id, GROUP);
  assert.equal(fetches, 1);
});

Deno.test("lookup() answers undefined when the fetch fails, and tries again next time", async () => {
  const cache = new GroupMetadataCache();
  assert.equal(await cache.lookup(GROUP, () => Promise.reject(new Error("404"))), undefined);
  assert.equal((await cache.lookup(GROUP, () => Promise.resolve(metadata())))?.id, GROUP);
});

Deno.test("applyParticipants() adds, removes, promotes and demotes, matching PN and LID forms", () => {
  const cache = new GroupMetadataCache();
  cache.set(metadata());
  cache.applyParticipants(GROUP, "add", [{ id: "15550002002@s.whatsapp.net" }], isMe);
  cache.applyParticipants(GROUP, "add", [{
    id: "200000000000003@lid",
    phoneNumber: "15550002002@s.whatsapp.net",
  }], isMe);
  assert.equal(cache.get(GROUP)!.participants.length, 3, "the same user in two forms once");
  cache.applyParticipants(GROUP, "promote", [{ id: "15550002001@s.whatsapp.net" }], isMe);
  assert.equal(cache.get(GROUP)!.participants[1].admin, "admin");
  cache.applyParticipants(GROUP, "demote", [{ id: "200000000000002@lid" }], isMe);
  assert.equal(cache.get(GROUP)!.participants[1].admin, null);
  cache.applyParticipants(GROUP, "remove", [{ id: "200000000000002@lid" }], isMe);
  assert.deepEqual(cache.get(GROUP)!.participants.map((p) => p.phoneNumber ?? p.id), [
    "15550001111@s.whatsapp.net",
    "15550002002@s.whatsapp.net",
  ]);
  assert.equal(cache.get(GROUP)!.size, 2);
});

Deno.test("a group the account was removed from or left is forgotten", () => {
  const cache = new GroupMetadataCache();
  cache.set(metadata());
  cache.applyParticipants(GROUP, "remove", [{ id: "15550001111@s.whatsapp.net" }], isMe);
  assert.equal(cache.get(GROUP), undefined);
});

Deno.test("applyUpdate() merges what changed; a removed description is removed", () => {
  const cache = new GroupMetadataCache();
  cache.set({ ...metadata(), desc: "old" });
  cache.applyUpdate({ id: GROUP, subject: "VIP", announce: true });
  cache.applyUpdate({ id: GROUP, desc: undefined });
  const group = cache.get(GROUP)!;
  assert.equal(group.subject, "VIP");
  assert.equal(group.announce, true);
  assert.equal(group.desc, undefined);
  assert.equal(group.participants.length, 2);
  cache.applyUpdate({ id: "999@g.us", subject: "unknown" });
  assert.equal(cache.get("999@g.us"), undefined, "a group not cached stays uncached");
});

Deno.test("the cache keeps at most its limit of groups, the least recently used going first", () => {
  const cache = new GroupMetadataCache(2);
  cache.set(metadata("1@g.us"));
  cache.set(metadata("2@g.us"));
  cache.get("1@g.us");
  cache.set(metadata("3@g.us"));
  assert.equal(cache.size, 2);
  assert.equal(cache.get("2@g.us"), undefined);
  assert.ok(cache.get("1@g.us"));
});
