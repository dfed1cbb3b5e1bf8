/**
 * A fast stand-in for qrcode-svg's mask choice, with the same result.
 *
 * qrcode-svg (like qrcode.js before it) picks the mask by laying the whole symbol out eight
 * times, once per mask, and scoring each layout with a penalty function that reads every
 * module through a bounds-checked `isDark()` about twenty times: for a ticket's QR code that
 * was 5–8 ms of every ticket, nearly all of what the code cost. Here the symbol is laid out once,
 * the eight masks are applied to a typed array and scored with the library's own penalty
 * (its variant of the ISO/IEC 18004 rules: same-coloured neighbours, 2×2 blocks, 1:1:3:1:1
 * finder-like runs, dark ratio), evaluated with the same arithmetic and ties going to the lower
 * mask, so the library ends up with exactly the matrix it would have built itself
 * (test/qr.test.ts compares both over many inputs). Encoding, error correction and the final
 * layout stay the library's.
 */

/** The parts of qrcode-svg's (untyped) QRCodeModel this module relies on. */
export interface QrModel {
  typeNumber: number;
  moduleCount: number;
  modules: (boolean | null)[][];
  dataCache: unknown;
  makeImpl(test: boolean, maskPattern: number): void;
  mapData(data: unknown, maskPattern: number): void;
  getBestMaskPattern(): number;
}

/** The eight mask conditions of the standard, as qrcode-svg's `QRUtil.getMask` states them. */
const MASKS: ReadonlyArray<(i: number, j: number) => boolean> = [
  (i, j) => (i + j) % 2 === 0,
  (i) => i % 2 === 0,
  (_i, j) => j % 3 === 0,
  (i, j) => (i + j) % 3 === 0,
  (i, j) => (Math.floor(i / 2) + Math.floor(j / 3)) % 2 === 0,
  (i, j) => ((i * j) % 2) + ((i * j) % 3) === 0,
  (i, j) => (((i * j) % 2) + ((i * j) % 3)) % 2 === 0,
  (i, j) => (((i * j) % 3) + ((i + j) % 2)) % 2 === 0,
];

const maskBitsBySize = new Map<number, Uint8Array>();

/** Per module of an n×n symbol, bit p set where mask p applies (kept per size: 40 at most). */
function maskBits(n: number): Uint8Array {
  let bits = maskBitsBySize.get(n);
  if (!bits) {
    bits = new Uint8Array(n * n);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        let set = 0;
        MASKS.forEach((mask, p) => {
          if (mask(r, c)) set |= 1 << p;
        });
        bits[r * n + c] = set;
      }
    }
    maskBitsBySize.set(n, bits);
  }
  return bits;
}

/** 1011101: a dark-light-dark-dark-dark-light-dark run, read in 7 bits, oldest highest. */
const FINDER_LIKE = 0b1011101;

/** Bit of a module's 3×3 neighbourhood pattern for the neighbour at (dr, dc). */
const bitAt = (dr: number, dc: number) => (1 - dc) * 3 + (dr + 1);

let neighbourhoodPenalties: Uint8Array | undefined;

/**
 * The library's rules 1 and 2 for one module, by its 3×3 neighbourhood (9 bits, see `bitAt`;
 * neighbours off the symbol read as light) and where it sits (top/middle/bottom row ×
 * left/middle/right column: which neighbours exist). Rule 1: more than 5 of the existing
 * neighbours the module's colour costs 3 + (that count - 5); rule 2: the 2×2 block the module
 * starts (itself, right, below, below right) all one colour costs 3.
 */
function penaltyTable(): Uint8Array {
  if (neighbourhoodPenalties) return neighbourhoodPenalties;
  const table = new Uint8Array(9 * 512);
  for (let rowClass = 0; rowClass < 3; rowClass++) {
    for (let colClass = 0; colClass < 3; colClass++) {
      const exists = (dr: number, dc: number) =>
        !((rowClass === 0 && dr < 0) || (rowClass === 2 && dr > 0)) &&
        !((colClass === 0 && dc < 0) || (colClass === 2 && dc > 0));
      for (let pattern = 0; pattern < 512; pattern++) {
        const at = (dr: number, dc: number) => (pattern >> bitAt(dr, dc)) & 1;
        const self = at(0, 0);
        let same = 0;
        for (let dr = -1; dr <= 1; dr++) {
          for (let dc = -1; dc <= 1; dc++) {
            if ((dr !== 0 || dc !== 0) && exists(dr, dc) && at(dr, dc) === self) same++;
          }
        }
        let penalty = same > 5 ? 3 + same - 5 : 0;
        if (exists(1, 1)) {
          const count = self + at(0, 1) + at(1, 0) + at(1, 1);
          if (count === 0 || count === 4) penalty += 3;
        }
        table[(rowClass * 3 + colClass) * 512 + pattern] = penalty;
      }
    }
  }
  neighbourhoodPenalties = table;
  return table;
}

/**
 * qrcode-svg's `QRUtil.getLostPoint` for a layout given as n×n bytes (1 = dark), in one pass
 * instead of per-module neighbourhood scans: rules 1 and 2 from a table by neighbourhood,
 * rule 3 (each 1011101 run across or down costs 40) from rolling 7-bit windows, rule 4 from
 * the dark count. The integer part is summed first and the dark-ratio term added last, in the
 * library's arithmetic, so equal layouts score equal floats.
 */
function lostPoint(dark: Uint8Array, n: number): number {
  const penalties = penaltyTable();
  // Each module's column of three (above, itself, below), off the symbol as light.
  const columns = new Uint8Array(n * n);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const at = r * n + c;
      const above = r > 0 ? (dark[at - n] ?? 0) : 0;
      const below = r < n - 1 ? (dark[at + n] ?? 0) : 0;
      columns[at] = above | ((dark[at] ?? 0) << 1) | (below << 2);
    }
  }
  const down = new Uint8Array(n);
  let lost = 0;
  let darkCount = 0;
  for (let r = 0; r < n; r++) {
    const row = r * n;
    const rowClass = r === 0 ? 0 : r === n - 1 ? 2 : 1;
    let neighbourhood = columns[row] ?? 0;
    let across = 0;
    for (let c = 0; c < n; c++) {
      const right = c < n - 1 ? (columns[row + c + 1] ?? 0) : 0;
      neighbourhood = ((neighbourhood << 3) | right) & 0x1ff;
      const colClass = c === 0 ? 0 : c === n - 1 ? 2 : 1;
      lost += penalties[(rowClass * 3 + colClass) * 512 + neighbourhood] ?? 0;
      const d = dark[row + c] ?? 0;
      darkCount += d;
      across = ((across << 1) | d) & 0x7f;
      const vertical = (((down[c] ?? 0) << 1) | d) & 0x7f;
      down[c] = vertical;
      if (c >= 6 && across === FINDER_LIKE) lost += 40;
      if (r >= 6 && vertical === FINDER_LIKE) lost += 40;
    }
  }
  const ratio = Math.abs((100 * darkCount) / n / n - 50) / 5;
  return lost + ratio * 10;
}

/**
 * The library's choice of mask for `model`, computed from one layout: the test layout under
 * mask 0 (format and version bits light, as the library scores them), with the data modules
 * noted while the library places them, then each mask is that layout with the data modules
 * flipped where the mask differs from mask 0.
 */
export function bestMaskPattern(model: QrModel): number {
  let isData: Uint8Array | undefined;
  // Own property for one call: see which modules are still empty when the data goes in.
  model.mapData = function (this: QrModel, data: unknown, maskPattern: number) {
    const n = this.moduleCount;
    isData = new Uint8Array(n * n);
    for (let r = 0; r < n; r++) {
      const row = this.modules[r] ?? [];
      for (let c = 0; c < n; c++) if (row[c] == null) isData[r * n + c] = 1;
    }
    Object.getPrototypeOf(this).mapData.call(this, data, maskPattern);
  };
  try {
    model.makeImpl(true, 0);
  } finally {
    delete (model as Partial<QrModel>).mapData;
  }
  const n = model.moduleCount;
  if (!isData) throw new Error("qrcode-svg did not place the data as expected");
  const base = new Uint8Array(n * n);
  for (let r = 0; r < n; r++) {
    const row = model.modules[r] ?? [];
    for (let c = 0; c < n; c++) base[r * n + c] = row[c] ? 1 : 0;
  }
  const masks = maskBits(n);
  const layout = new Uint8Array(n * n);
  let best = 0;
  let bestLost = 0;
  for (let pattern = 0; pattern < MASKS.length; pattern++) {
    for (let at = 0; at < n * n; at++) {
      const bits = masks[at] ?? 0;
      // Data modules were placed under mask 0: flip those where this mask says otherwise.
      layout[at] = (base[at] ?? 0) ^ ((isData[at] ?? 0) & ((bits >> pattern) ^ bits) & 1);
    }
    const lost = lostPoint(layout, n);
    if (pattern === 0 || bestLost > lost) {
      bestLost = lost;
      best = pattern;
    }
  }
  return best;
}
