/**
 * The QR code for a ticket's `qr_code_hash`, as one SVG path. qrcode-svg builds the module
 * matrix (error correction M: ~15% of the code can be damaged or covered and it still reads);
 * its own SVG draws one rectangle per module, so we draw the dark runs of each row instead —
 * a few hundred path segments that resvg fills with crisp edges at whole-pixel module sizes.
 */
import QRCode from "qrcode-svg";

export type QrErrorCorrection = "M" | "Q" | "H";

export interface QrSymbol {
  /** Modules per side, without the quiet zone. */
  modules: number;
  /** Path data in module units, origin at the top-left module. */
  path: string;
}

export function qrSymbol(content: string, ecl: QrErrorCorrection = "M"): QrSymbol {
  const code = new QRCode({ content, ecl, padding: 0, join: true });
  const matrix = code.qrcode.modules;
  const size = matrix.length;
  const parts: string[] = [];
  for (let row = 0; row < size; row++) {
    const cells = matrix[row] ?? [];
    let col = 0;
    while (col < size) {
      if (!cells[col]) {
        col++;
        continue;
      }
      const start = col;
      while (col < size && cells[col]) col++;
      parts.push(`M${start} ${row}h${col - start}v1h-${col - start}z`);
    }
  }
  return { modules: size, path: parts.join("") };
}
