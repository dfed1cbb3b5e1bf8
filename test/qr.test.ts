/**
 * The ticket QR code: qrcode-svg with its mask search replaced by src/render/qr-mask.ts,
 * which must choose exactly what the library would have, so every matrix is the library's.
 */
import QRCode from "qrcode-svg";
import { describe, expect, it } from "vitest";
import { libraryBestMaskPattern, qrPath, qrSymbol } from "../src/render/qr";
import { bestMaskPattern, type QrModel } from "../src/render/qr-mask";

/** Printable ASCII of a given length, different for every (length, seed). */
function content(length: number, seed: number): string {
  let state = seed * 7919 + length;
  let out = "";
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    out += String.fromCharCode(33 + (state % 94));
  }
  return out;
}

describe("QR code", () => {
  it("chooses the library's mask and builds the library's matrix, over many inputs", () => {
    const chosen = new Set<number>();
    let compared = 0;
    for (const ecl of ["L", "M", "Q", "H"] as const) {
      for (let length = 1; length <= 400; length += 13) {
        const text = content(length, compared);
        let code: QRCode;
        try {
          code = new QRCode({ content: text, ecl, padding: 0 });
        } catch {
          continue; // Lengths qrcode-svg itself cannot encode at this level.
        }
        const model = code.qrcode as unknown as QrModel;
        const built = model.modules.map((row) => [...row]);
        const library = libraryBestMaskPattern.call(model);
        expect(bestMaskPattern(model), `${ecl} ${length}`).toBe(library);
        model.makeImpl(false, library);
        expect(built, `${ecl} ${length}`).toEqual(model.modules);
        chosen.add(library);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(100);
    // The inputs exercise every mask, so no rule of the penalty goes untested.
    expect([...chosen].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("draws the matrix as dark runs in module units", () => {
    const symbol = qrSymbol("ticketsafi", "M");
    expect(symbol.modules).toBe(21);
    expect(symbol.dark).toHaveLength(21 * 21);
    // The top-left finder pattern: a 7-module run, then 1 1 3 1 1 on the next rows.
    expect(qrPath(symbol).startsWith("M0 0h7v1h-7z")).toBe(true);
    const dark = Array.from(symbol.dark.subarray(21, 28));
    expect(dark).toEqual([1, 0, 0, 0, 0, 0, 1]);
  });
});
