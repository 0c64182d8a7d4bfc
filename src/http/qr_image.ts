// @ts-types="@types/qrcode"
import type QRCodeModule from "qrcode";

/** Loaded on the first QR image: the module costs every gateway memory, QR codes or not. */
async function qrCode(): Promise<typeof QRCodeModule> {
  return (await import("qrcode")).default;
}

/** The formats `GET /api/sessions/{id}/qr` serves. */
export const QR_FORMATS = ["png", "svg", "raw"] as const;
export type QrFormat = (typeof QR_FORMATS)[number];

/** A rendered QR code: the response body and its media type. */
export interface QrImage {
  body: Uint8Array | string;
  contentType: string;
}

/**
 * Renders a QR string in the requested format. Error correction `M` and a 4-module margin are
 * what phone cameras read most reliably from a screen.
 *
 * @example
 * ```ts
 * const { body, contentType } = await renderQr("2@abc...", "svg");
 * ```
 */
export async function renderQr(qr: string, format: QrFormat): Promise<QrImage> {
  if (format === "raw") return { body: qr, contentType: "text/plain; charset=utf-8" };
  const QRCode = await qrCode();
  const options = { errorCorrectionLevel: "M" as const, margin: 4 };
  switch (format) {
    case "svg":
      return {
        body: await QRCode.toString(qr, { ...options, type: "svg" }),
        contentType: "image/svg+xml",
      };
    case "png":
      return {
        body: new Uint8Array(await QRCode.toBuffer(qr, { ...options, type: "png", width: 320 })),
        contentType: "image/png",
      };
  }
}
