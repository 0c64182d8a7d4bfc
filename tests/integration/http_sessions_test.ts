import { strict as assert } from "node:assert";
import { openCoreApp, readMetadata, requestJson, writeFakeCreds } from "../support/core_app.ts";
import { snapshotTree, withTempDir } from "../support/temp_dir.ts";

Deno.test("POST /api/sessions creates a session and persists it", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      const res = await requestJson(core.app, "POST", "/api/sessions", {
        id: "shop-1",
        name: "Front desk",
      });
      assert.equal(res.status, 201);
      const body = await res.json();
      assert.equal(body.id, "shop-1");
      assert.equal(body.name, "Front desk");
      assert.equal(body.desiredState, "running");
      const onDisk = await readMetadata(dir);
      assert.equal(onDisk["shop-1"].name, "Front desk");
      assert.equal(onDisk["shop-1"].id, "shop-1");
    } finally {
      await core.close();
    }
  });
});

Deno.test("POST /api/sessions without an id assigns a UUID", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      const res = await requestJson(core.app, "POST", "/api/sessions", {});
      assert.equal(res.status, 201);
      const { id } = await res.json();
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.ok((await readMetadata(dir))[id]);
    } finally {
      await core.close();
    }
  });
});

Deno.test("POST /api/sessions with an existing id answers 409 and changes nothing", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      await requestJson(core.app, "POST", "/api/sessions", { id: "dup", name: "first" });
      const before = await snapshotTree(dir);
      const res = await requestJson(core.app, "POST", "/api/sessions", { id: "dup", name: "x" });
      assert.equal(res.status, 409);
      assert.equal((await res.json()).error.code, "session_exists");
      assert.deepEqual(await snapshotTree(dir), before);
    } finally {
      await core.close();
    }
  });
});

Deno.test("GET /api/sessions lists sessions and GET /api/sessions/{id} returns one", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      await requestJson(core.app, "POST", "/api/sessions", { id: "a" });
      await requestJson(core.app, "POST", "/api/sessions", { id: "b" });
      const list = await (await requestJson(core.app, "GET", "/api/sessions")).json();
      assert.deepEqual(list.sessions.map((s: { id: string }) => s.id).sort(), ["a", "b"]);
      const one = await requestJson(core.app, "GET", "/api/sessions/b");
      assert.equal(one.status, 200);
      assert.equal((await one.json()).id, "b");
    } finally {
      await core.close();
    }
  });
});

Deno.test("GET /api/sessions/{id} answers 404 for an unknown session", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      const res = await requestJson(core.app, "GET", "/api/sessions/nope");
      assert.equal(res.status, 404);
      assert.deepEqual(await res.json(), {
        error: { code: "session_not_found", message: "Session 'nope' not found" },
      });
    } finally {
      await core.close();
    }
  });
});

Deno.test("PATCH /api/sessions/{id} renames and persists", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      await requestJson(core.app, "POST", "/api/sessions", { id: "s1", name: "old" });
      const res = await requestJson(core.app, "PATCH", "/api/sessions/s1", { name: "new" });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).name, "new");
      assert.equal((await readMetadata(dir))["s1"].name, "new");
    } finally {
      await core.close();
    }
  });
});

Deno.test("DELETE /api/sessions/{id} removes metadata and the auth folder only", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      await requestJson(core.app, "POST", "/api/sessions", { id: "gone" });
      await requestJson(core.app, "POST", "/api/sessions", { id: "kept" });
      await writeFakeCreds(dir, "gone");
      await writeFakeCreds(dir, "kept");
      const res = await requestJson(core.app, "DELETE", "/api/sessions/gone");
      assert.equal(res.status, 204);
      const metadata = await readMetadata(dir);
      assert.equal(metadata["gone"], undefined);
      assert.ok(metadata["kept"]);
      await assert.rejects(Deno.stat(`${dir}/gone`), Deno.errors.NotFound);
      assert.ok((await Deno.stat(`${dir}/kept/creds.json`)).isFile);
      assert.equal((await requestJson(core.app, "GET", "/api/sessions/gone")).status, 404);
    } finally {
      await core.close();
    }
  });
});

Deno.test("sessions with credentials are restored by a new app on the same directory", async () => {
  await withTempDir(async (dir) => {
    const first = await openCoreApp(dir);
    await requestJson(first.app, "POST", "/api/sessions", { id: "linked", name: "Linked" });
    await requestJson(first.app, "POST", "/api/sessions", { id: "unlinked" });
    await writeFakeCreds(dir, "linked");
    await first.close();

    const second = await openCoreApp(dir);
    try {
      const list = await (await requestJson(second.app, "GET", "/api/sessions")).json();
      assert.deepEqual(list.sessions.map((s: { id: string }) => s.id), ["linked"]);
      assert.equal(list.sessions[0].name, "Linked");
      assert.equal(list.sessions[0].status, "disconnected");
      assert.deepEqual(second.restoreReport.cleanedUp, ["unlinked"]);
      assert.equal((await readMetadata(dir))["unlinked"], undefined);
    } finally {
      await second.close();
    }
  });
});

Deno.test("an auth folder without metadata is adopted as a session on restore", async () => {
  await withTempDir(async (dir) => {
    await writeFakeCreds(dir, "dropped-in");
    const core = await openCoreApp(dir);
    try {
      assert.deepEqual(core.restoreReport.adopted, ["dropped-in"]);
      const res = await requestJson(core.app, "GET", "/api/sessions/dropped-in");
      assert.equal(res.status, 200);
      assert.ok((await readMetadata(dir))["dropped-in"]);
    } finally {
      await core.close();
    }
  });
});

Deno.test("corrupted metadata is moved aside and sessions are rebuilt from auth folders", async () => {
  await withTempDir(async (dir) => {
    const first = await openCoreApp(dir);
    await requestJson(first.app, "POST", "/api/sessions", { id: "alpha" });
    await requestJson(first.app, "POST", "/api/sessions", { id: "beta" });
    await writeFakeCreds(dir, "alpha");
    await writeFakeCreds(dir, "beta");
    await first.close();
    await Deno.writeTextFile(`${dir}/sessions-metadata.json`, '{"alpha": {"id": "al');

    const second = await openCoreApp(dir);
    try {
      assert.ok(second.restoreReport.load.corruptMetadata);
      const list = await (await requestJson(second.app, "GET", "/api/sessions")).json();
      assert.deepEqual(list.sessions.map((s: { id: string }) => s.id).sort(), ["alpha", "beta"]);
      const names = [];
      for await (const entry of Deno.readDir(dir)) names.push(entry.name);
      assert.ok(names.some((n) => n.startsWith("sessions-metadata.json.corrupt-")), names.join());
      const created = await requestJson(second.app, "POST", "/api/sessions", { id: "gamma" });
      assert.equal(created.status, 201);
    } finally {
      await second.close();
    }
  });
});

Deno.test("GET /health is always ok and GET /ready turns ready after restore", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      const health = await requestJson(core.app, "GET", "/health");
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: "ok" });
      const ready = await requestJson(core.app, "GET", "/ready");
      assert.equal(ready.status, 200);
      assert.equal((await ready.json()).ready, true);
    } finally {
      await core.close();
    }
  });
});

Deno.test("unknown routes answer a JSON 404", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      const res = await requestJson(core.app, "GET", "/api/nothing-here");
      assert.equal(res.status, 404);
      assert.equal((await res.json()).error.code, "not_found");
    } finally {
      await core.close();
    }
  });
});
