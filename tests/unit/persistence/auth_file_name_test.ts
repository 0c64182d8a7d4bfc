import assert from "node:assert/strict";
import {
  assertAuthFileName,
  authFileNameProblem,
  InvalidAuthFileNameError,
} from "../../../src/persistence/auth_file_name.ts";

Deno.test("authFileNameProblem() accepts the names Baileys' multi-file auth state uses", () => {
  for (
    const name of [
      "creds.json",
      "pre-key-1.json",
      "session-15550001111-1.json",
      "app-state-sync-key-AAAAAG8X__a+b=.json",
      "sender-key-120363000000000000@g.us--15550001111-0.json",
      "lid-mapping-15550001111_reverse.json",
    ]
  ) {
    assert.equal(authFileNameProblem(name), null, name);
  }
});

Deno.test("assertAuthFileName() rejects anything but a plain single file name", () => {
  for (
    const name of [
      "",
      ".",
      "..",
      "../creds.json",
      "a/b",
      "/etc/passwd",
      "a\\b",
      "..\\x",
      "a\0b",
      "line\nbreak",
      ".tmp-123",
      ".hidden",
      "x".repeat(201),
      "é".repeat(101), // 202 bytes
      "bad\ud800.json",
    ]
  ) {
    assert.throws(() => assertAuthFileName(name), InvalidAuthFileNameError, JSON.stringify(name));
  }
});
