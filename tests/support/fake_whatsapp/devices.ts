import type { BinaryNode } from "@whiskeysockets/baileys";

/** A companion device linked to a simulated phone's account. */
export interface FakeDevice {
  phoneNumber: string;
  deviceNumber: number;
  jid: string;
  lid: string;
  /** The Noise static key the device registered with; a login must present the same one. */
  noiseKey: Uint8Array;
  identityKey: Uint8Array;
  registrationId: number;
  /** One-time pre-keys the device has uploaded. */
  preKeyCount: number;
  /** Removed by the phone or logged out: logins are refused with 401. */
  removed: boolean;
  pushName: string | null;
  /** The Signal keys the device uploaded (registration, identity, signed and one-time pre-keys). */
  upload?: UploadedKeys;
}

export interface UploadedKeys {
  registration: Uint8Array;
  identity: Uint8Array;
  signedPreKey: BinaryNode;
  /** One-time pre-keys not handed out yet. */
  preKeys: BinaryNode[];
}

/** The server's accounts and their devices, in memory. */
export class DeviceRegistry {
  readonly #devices: FakeDevice[] = [];
  #nextLid = 100_000_000_000_001;

  /** Registers a new device for `phoneNumber`, numbered after the phone's existing ones. */
  add(
    fields: Omit<FakeDevice, "deviceNumber" | "jid" | "lid" | "preKeyCount" | "removed" | "upload">,
  ) {
    const deviceNumber = 1 +
      this.#devices.filter((d) => d.phoneNumber === fields.phoneNumber).length;
    const lidUser = this.nextLidUser();
    const device: FakeDevice = {
      ...fields,
      deviceNumber,
      jid: `${fields.phoneNumber}:${deviceNumber}@s.whatsapp.net`,
      lid: `${lidUser}:${deviceNumber}@lid`,
      preKeyCount: 0,
      removed: false,
    };
    this.#devices.push(device);
    return device;
  }

  /** A LID user number for a new account or contact. */
  nextLidUser(): string {
    return String(this.#nextLid++);
  }

  find(phoneNumber: string, deviceNumber: number): FakeDevice | undefined {
    return this.#devices.find((d) =>
      d.phoneNumber === phoneNumber && d.deviceNumber === deviceNumber
    );
  }

  /** Devices matching a phone number or a device JID. */
  match(phoneOrJid: string): FakeDevice[] {
    return this.#devices.filter((d) => d.phoneNumber === phoneOrJid || d.jid === phoneOrJid);
  }

  all(): FakeDevice[] {
    return [...this.#devices];
  }
}
