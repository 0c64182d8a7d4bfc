import {
  isLidUser,
  isPnUser,
  jidDecode,
  jidNormalizedUser,
  S_WHATSAPP_NET,
  USyncQuery,
  USyncUser,
} from "@whiskeysockets/baileys";
import type { BusinessProfile, ContactProfile, OwnProfile } from "../../domain/contacts.ts";
import { SessionStateError } from "../../domain/errors.ts";
import type { WASocket } from "../baileys_connection.ts";
import { asked, whatsappCode } from "./whatsapp_errors.ts";

/** Codes with which WhatsApp says "nothing to show" (none set, or hidden from this account). */
const HIDDEN = new Set([401, 403, 404]);

/** `request`'s answer, or `null` when WhatsApp says there is nothing to show. */
async function unlessHidden<T>(what: string, request: () => Promise<T>): Promise<T | null> {
  try {
    return await request();
  } catch (error) {
    if (HIDDEN.has(whatsappCode(error) ?? 0)) return null;
    return await asked(what, () => Promise.reject(error));
  }
}

type StatusAnswer = { status?: { status?: string | null; setAt?: Date } } | undefined;

/** How long a name change waits for the app state key the phone shares right after linking. */
const APP_STATE_KEY_WAIT_MS = 10_000;

/**
 * Waits until the socket has the app state key that a name change is encrypted with (the phone
 * shares it just after linking; before that Baileys refuses with a bare 400), or gives up with a
 * 409 the caller can retry.
 */
async function appStateKeyShared(socket: WASocket, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (!socket.authState.creds.myAppStateKeyId) {
    if (Date.now() >= deadline) {
      throw new SessionStateError(
        "The phone has not yet shared the key this session needs to change the name (it does " +
          "so just after linking); try again in a few seconds",
        "app_state_not_synced",
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Contact, presence and own-profile requests of one connected socket. */
export class ContactOperations {
  async contact(socket: WASocket, jid: string): Promise<ContactProfile> {
    const [pictureUrl, status, business] = await Promise.all([
      unlessHidden("give the profile picture", () => socket.profilePictureUrl(jid, "image")),
      unlessHidden("give the about text", () => socket.fetchStatus(jid)),
      unlessHidden("give the business profile", () => socket.getBusinessProfile(jid)),
    ]);
    const about = (status?.[0] as StatusAnswer)?.status;
    return {
      jid,
      pictureUrl: pictureUrl ?? null,
      about: about?.status || null,
      aboutSetAt: about?.status && about.setAt?.getTime() ? about.setAt.toISOString() : null,
      business: business ? businessOf(business) : null,
    };
  }

  async setBlocked(socket: WASocket, jid: string, blocked: boolean): Promise<null> {
    await this.#learnLid(socket, jid);
    await asked(
      blocked ? "block the contact" : "unblock the contact",
      () => socket.updateBlockStatus(jid, blocked ? "block" : "unblock"),
    );
    return null;
  }

  /** The blocked users, by phone number JID where WhatsApp's LID maps to one. */
  async blocked(socket: WASocket): Promise<string[]> {
    const jids = await asked("list blocked contacts", () => socket.fetchBlocklist());
    const mapping = socket.signalRepository.lidMapping;
    const named = await Promise.all(
      jids.filter((jid): jid is string => typeof jid === "string").map(async (jid) =>
        isLidUser(jid) ? await mapping.getPNForLID(jid).catch(() => null) ?? jid : jid
      ),
    );
    return named.map((jid) => jidNormalizedUser(jid)).sort();
  }

  async subscribePresence(socket: WASocket, jid: string): Promise<null> {
    await asked("subscribe to the presence", () => socket.presenceSubscribe(jid));
    return null;
  }

  async profile(socket: WASocket): Promise<OwnProfile> {
    const me = socket.user;
    if (!me?.id) {
      throw new SessionStateError("The account is not known yet", "session_not_connected");
    }
    const jid = jidNormalizedUser(me.id);
    const [pictureUrl, status] = await Promise.all([
      unlessHidden("give the profile picture", () => socket.profilePictureUrl(jid, "image")),
      unlessHidden("give the about text", () => socket.fetchStatus(jid)),
    ]);
    return {
      jid,
      phoneNumber: jidDecode(jid)?.user ?? "",
      name: me.name ?? null,
      about: (status?.[0] as StatusAnswer)?.status?.status || null,
      pictureUrl: pictureUrl ?? null,
    };
  }

  async updateProfile(socket: WASocket, changes: { about?: string; name?: string }) {
    if (changes.about !== undefined) {
      const about = changes.about;
      await asked("change the about text", () => socket.updateProfileStatus(about));
    }
    if (changes.name !== undefined) {
      const name = changes.name;
      await appStateKeyShared(socket, APP_STATE_KEY_WAIT_MS);
      await asked("change the name", () => socket.updateProfileName(name));
    }
    const profile = await this.profile(socket);
    // WhatsApp took the name; Baileys tells the socket a moment later (its own sync event).
    return changes.name === undefined ? profile : { ...profile, name: changes.name };
  }

  /**
   * Sets (a JPEG, sent as is: Baileys would need an image library to resize) or removes the
   * account's profile picture.
   */
  async setPicture(socket: WASocket, jpeg: Uint8Array | null): Promise<null> {
    const me = socket.user?.id;
    if (!me) throw new SessionStateError("The account is not known yet", "session_not_connected");
    if (!jpeg) {
      await asked("remove the profile picture", () => socket.removeProfilePicture(me));
      return null;
    }
    await asked("set the profile picture", () =>
      socket.query({
        tag: "iq",
        attrs: { to: S_WHATSAPP_NET, type: "set", xmlns: "w:profile:picture" },
        content: [{ tag: "picture", attrs: { type: "image" }, content: Buffer.from(jpeg) }],
      }));
    return null;
  }

  /** Makes sure the LID of a phone number JID is known (WhatsApp blocks by LID). */
  async #learnLid(socket: WASocket, jid: string): Promise<void> {
    if (!isPnUser(jid)) return;
    const mapping = socket.signalRepository.lidMapping;
    if (await mapping.getLIDForPN(jid)) return;
    const query = new USyncQuery().withContext("background").withLIDProtocol()
      .withUser(new USyncUser().withId(jid));
    const result = await asked("look the contact up", () => socket.executeUSyncQuery(query));
    const lid = result?.list.find((entry) => entry.lid)?.lid;
    if (typeof lid === "string") await mapping.storeLIDPNMappings([{ lid, pn: jid }]);
  }
}

function businessOf(profile: {
  description?: string;
  category?: string;
  email?: string;
  website?: string[];
  address?: string;
}): BusinessProfile {
  return {
    description: profile.description || null,
    category: profile.category || null,
    email: profile.email || null,
    website: profile.website?.[0] || null,
    address: profile.address || null,
  };
}
