/**
 * The QR code for a ticket's `qr_code_hash`. qrcode-svg builds the module matrix (error
 * correction M: ~15% of the code can be damaged or covered and it still reads); the renderer
 * draws the modules straight into the ticket's pixels, and `qrPath` gives the same modules as
 * one SVG path (dark runs per row, not the library's rectangle per module) for the full-SVG
 * rendering.
 *
 * The library's mask search is replaced, once per isolate, by qr-mask.ts's equivalent: the
 * same choice (so the same matrix) in under 1 ms instead of 5–8.
 */
import QRCode from "qrcode-svg";
import { bestMaskPattern, type QrModel } from "./qr-mask";

export type QrErrorCorrection = "M" | "Q" | "H";

export interface QrSymbol {
  /** Modules per side, without the quiet zone. */
  modules: number;
  /** Row by row, 1 for a dark module. */
  dark: Uint8Array;
}

/** qrcode-svg's model prototype (the library does not export the class). */
const modelPrototype = Object.getPrototypeOf(new QRCode({ content: "0", padding: 0 }).qrcode) as QrModel;
/** The library's own mask search, for the tests that compare it with ours. */
export const libraryBestMaskPattern: (this: QrModel) => number = modelPrototype.getBestMaskPattern;
modelPrototype.getBestMaskPattern = function (this: QrModel) {
  return bestMaskPattern(this);
};

export function qrSymbol(content: string, ecl: QrErrorCorrection = "M"): QrSymbol {
  const matrix = new QRCode({ content, ecl, padding: 0 }).qrcode.modules;
  const size = matrix.length;
  const dark = new Uint8Array(size * size);
  for (let row = 0; row < size; row++) {
    const cells = matrix[row] ?? [];
    for (let col = 0; col < size; col++) if (cells[col]) dark[row * size + col] = 1;
  }
  return { modules: size, dark };
}

/** The dark modules as path data in module units, origin at the top-left module. */
export function qrPath(symbol: QrSymbol): string {
  const size = symbol.modules;
  const parts: string[] = [];
  for (let row = 0; row < size; row++) {
    let col = 0;
    while (col < size) {
      if (!symbol.dark[row * size + col]) {
        col++;
        continue;
      }
      const start = col;
      while (col < size && symbol.dark[row * size + col]) col++;
      parts.push(`M${start} ${row}h${col - start}v1h-${col - start}z`);
    }
  }
  return parts.join("");
}
