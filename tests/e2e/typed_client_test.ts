/**
 * A typed client generated from the served `/openapi.json` (openapi-typescript, then
 * openapi-fetch) drives the gateway as a user's program would: it creates a session, reads it,
 * gets its QR code (which the fake WhatsApp server's phone scans), sends a message to a contact
 * of the fake server, and reads a 4xx error. The program and its generated types type-check, and
 * a call that breaks the schema does not.
 */
import { strict as assert } from "node:assert";
import openapiTS, { astToString } from "openapi-typescript";
import { REPO_ROOT } from "../support/child_process.ts";
import { startFakeGateway, withFakeServer } from "../support/fake_gateway.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ACCOUNT = "15550001111";
const CONTACT = "15550009999";

/** The user's program: reports each step as a JSON line, waits for "paired" on stdin. */
const PROGRAM = `
import createClient from "openapi-fetch";
import type { paths } from "./gateway_api.ts";

const client = createClient<paths>({
  baseUrl: Deno.env.get("GATEWAY_URL")!,
  headers: { "X-Api-Key": Deno.env.get("GATEWAY_API_KEY")! },
});
const report = (step: string, value: unknown) => console.log(JSON.stringify({ step, value }));
const stdin = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const id = "typed-1";

const created = await client.POST("/api/sessions", { body: { id, name: "Typed client" } });
if (!created.data) throw new Error(JSON.stringify(created.error));
report("created", { id: created.data.id, status: created.data.status });

const read = await client.GET("/api/sessions/{id}", { params: { path: { id } } });
report("read", { name: read.data?.name ?? null });

let qr: string | undefined;
for (let tries = 0; qr === undefined && tries < 200; tries++) {
  const answer = await client.GET("/api/sessions/{id}/qr", {
    params: { path: { id }, query: { format: "raw" } },
    parseAs: "text",
  });
  if (answer.response.status === 200) qr = answer.data;
  else await sleep(100);
}
report("qr", qr);
await stdin.read(); // the phone scanned it

let status: string | undefined;
for (let tries = 0; status !== "connected" && tries < 200; tries++) {
  const session = await client.GET("/api/sessions/{id}", { params: { path: { id } } });
  status = session.data?.status;
  if (status !== "connected") await sleep(100);
}
const sent = await client.POST("/api/sessions/{id}/messages", {
  params: { path: { id } },
  body: { type: "text", to: "+${CONTACT}", text: "hello from a generated client" },
});
report("sent", { status: sent.response.status, messageStatus: sent.data?.status ?? null });

const missing = await client.GET("/api/sessions/{id}", { params: { path: { id: "no-such-session" } } });
report("error", { status: missing.response.status, code: missing.error?.error.code ?? null });
`;

/** A call the schema does not allow: a session id that is a number. */
const BROKEN_PROGRAM = `
import createClient from "openapi-fetch";
import type { paths } from "./gateway_api.ts";
const client = createClient<paths>({ baseUrl: "http://127.0.0.1:1" });
await client.POST("/api/sessions", { body: { id: 42 } });
`;

async function deno(args: string[], cwd: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { ...output, text: decoder.decode(output.stdout) + decoder.decode(output.stderr) };
}

Deno.test(
  "a client generated from /openapi.json creates, reads, links, sends and reads an error; its types check",
  e2e,
  () =>
    withFakeServer(async (fake, root) => {
      fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
      const { gateway } = await startFakeGateway(fake, `${root}/data`);
      try {
        const spec = await (await fetch(`${gateway.url}/openapi.json`)).json();
        const types = astToString(await openapiTS(spec));
        const dir = `${root}/client`;
        await Deno.mkdir(dir);
        await Deno.writeTextFile(`${dir}/gateway_api.ts`, types);
        await Deno.writeTextFile(`${dir}/program.ts`, PROGRAM);
        await Deno.writeTextFile(`${dir}/broken.ts`, BROKEN_PROGRAM);
        const config = `--config=${REPO_ROOT}deno.json`;

        const checked = await deno(["check", "--frozen", config, "program.ts"], dir);
        assert.ok(checked.success, checked.text);
        const broken = await deno(["check", "--frozen", config, "broken.ts"], dir);
        assert.equal(broken.success, false, "a call the schema forbids must not type-check");
        assert.match(broken.text, /Type 'number' is not assignable to type 'string'/);

        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "--frozen", config, "--allow-env", "--allow-net=127.0.0.1", "program.ts"],
          cwd: dir,
          env: { GATEWAY_URL: gateway.url, GATEWAY_API_KEY: gateway.apiKey! },
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const steps: Record<string, unknown> = {};
        const writer = child.stdin.getWriter();
        const stderr = new Response(child.stderr).text();
        let buffer = "";
        for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
          buffer += chunk;
          let newline;
          while ((newline = buffer.indexOf("\n")) >= 0) {
            const { step, value } = JSON.parse(buffer.slice(0, newline));
            buffer = buffer.slice(newline + 1);
            steps[step] = value;
            if (step === "qr") {
              await fake.pairWithQr(String(value), { phoneNumber: ACCOUNT });
              await writer.write(new TextEncoder().encode("paired\n"));
              await writer.close();
            }
          }
        }
        const status = await child.status;
        assert.ok(status.success, await stderr);
        assert.equal((steps.created as { id: string }).id, "typed-1");
        assert.deepEqual(steps.read, { name: "Typed client" });
        assert.equal(typeof steps.qr, "string");
        assert.deepEqual(steps.sent, { status: 201, messageStatus: "sent" });
        assert.deepEqual(steps.error, { status: 404, code: "session_not_found" });
        await fake.waitForReceived((m) => m.text === "hello from a generated client");
      } finally {
        await gateway.dispose();
      }
    }),
);
