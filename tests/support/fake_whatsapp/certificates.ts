import { Curve, proto } from "@whiskeysockets/baileys";

export type KeyPair = { public: Uint8Array; private: Uint8Array };

/** The fake's own PKI: a test root that signs an intermediate that signs the server's key. */
export interface FakeCertificates {
  /** Trusted by clients in place of WhatsApp's root (`WA_CERT_DETAILS.PUBLIC_KEY`). */
  rootPublicKey: Uint8Array;
  /** The server's Noise static key pair, certified by the leaf. */
  serverStatic: KeyPair;
  /** `proto.CertChain` bytes, sent encrypted in the ServerHello. */
  certChain: Uint8Array;
}

/** Makes a fresh certificate chain for one server instance. */
export function makeCertificates(): FakeCertificates {
  const root = Curve.generateKeyPair();
  const intermediate = Curve.generateKeyPair();
  const serverStatic = Curve.generateKeyPair();
  const now = Math.floor(Date.now() / 1000);
  const year = 365 * 24 * 3600;
  const certificate = (serial: number, issuerSerial: number, key: Uint8Array, signer: KeyPair) => {
    const details = proto.CertChain.NoiseCertificate.Details.encode({
      serial,
      issuerSerial,
      key,
      notBefore: now - 60,
      notAfter: now + year,
    }).finish();
    return { details, signature: Curve.sign(Buffer.from(signer.private), Buffer.from(details)) };
  };
  const certChain = proto.CertChain.encode({
    intermediate: certificate(1, 0, intermediate.public, root),
    leaf: certificate(2, 1, serverStatic.public, intermediate),
  }).finish();
  return { rootPublicKey: root.public, serverStatic, certChain };
}
