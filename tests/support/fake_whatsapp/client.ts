import type { DeviceView, ReceivedMessage } from "./server.ts";

/** Drives a fake server in another process through its HTTP control API. */
export class FakeWhatsAppClient {
  constructor(readonly controlUrl: string) {}

  async pairWithQr(
    qr: string,
    phone: { phoneNumber: string; pushName?: string },
  ): Promise<DeviceView> {
    return await this.#call("POST", "/pair", { qr, ...phone }) as DeviceView;
  }

  async pairWithCode(
    code: string,
    phone: { phoneNumber: string; pushName?: string },
  ): Promise<DeviceView> {
    return await this.#call("POST", "/pair-code", { code, ...phone }) as DeviceView;
  }

  async devices(): Promise<DeviceView[]> {
    return await this.#call("GET", "/devices") as DeviceView[];
  }

  async removeDevice(phoneOrJid: string): Promise<void> {
    await this.#call("POST", `/devices/${encodeURIComponent(phoneOrJid)}/remove`);
  }

  async replaceConnection(phoneOrJid: string): Promise<void> {
    await this.#call("POST", `/devices/${encodeURIComponent(phoneOrJid)}/replace`);
  }

  async dropConnection(phoneOrJid: string): Promise<void> {
    await this.#call("POST", `/devices/${encodeURIComponent(phoneOrJid)}/drop`);
  }

  async addContact(contact: { phoneNumber: string; pushName?: string }): Promise<void> {
    await this.#call("POST", "/contacts", contact);
  }

  async deliverText(text: { from: string; to: string; text: string }): Promise<{ id: string }> {
    return await this.#call("POST", "/texts", text) as { id: string };
  }

  async sendReceipt(
    receipt: { from: string; to: string; ids: string[]; type: "delivery" | "read" },
  ): Promise<void> {
    await this.#call("POST", "/receipts", receipt);
  }

  /** Texts companions sent to simulated contacts (`at` as an ISO string over HTTP). */
  async receivedMessages(filter: { from?: string; to?: string } = {}): Promise<ReceivedMessage[]> {
    const query = new URLSearchParams(
      Object.entries(filter).filter(([, v]) => v) as [string, string][],
    );
    return await this.#call("GET", `/received?${query}`) as ReceivedMessage[];
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.controlUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`fake whatsapp ${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }
}
