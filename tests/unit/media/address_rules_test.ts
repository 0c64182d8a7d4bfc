import { strict as assert } from "node:assert";
import { ipLiteral, isRefusedAddress } from "../../../src/media/address_rules.ts";

Deno.test("isRefusedAddress refuses loopback, private, link-local and reserved addresses", () => {
  const refused = [
    "127.0.0.1",
    "127.255.0.9",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "198.18.0.1",
    "192.0.2.1",
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:7f00:1",
    "64:ff9b::a00:1",
    "2002:c0a8:101::1",
    "2001:db8::1",
    "::127.0.0.1",
    "fe80::1%eth0",
    "not an address",
    "1.2.3",
    "1.2.3.256",
  ];
  for (const address of refused) assert.equal(isRefusedAddress(address), true, address);
});

Deno.test("isRefusedAddress lets public addresses through", () => {
  const allowed = [
    "93.184.216.34",
    "8.8.8.8",
    "172.32.0.1",
    "100.128.0.1",
    "2606:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2a00:1450:4001:80b::200e",
  ];
  for (const address of allowed) assert.equal(isRefusedAddress(address), false, address);
});

Deno.test("ipLiteral tells IP hosts from names", () => {
  assert.equal(ipLiteral("[::1]"), "::1");
  assert.equal(ipLiteral("10.0.0.1"), "10.0.0.1");
  assert.equal(ipLiteral("example.com"), null);
  assert.equal(ipLiteral("localhost"), null);
});
