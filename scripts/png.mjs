/**
 * A minimal PNG encoder (truecolour RGB, 8 bits per channel) and a tiny raster canvas, with
 * no dependencies: node:zlib for the deflate stream and a table-driven CRC-32 for the chunk
 * checksums. Enough for the demo posters and logos of scripts/demo-images.mjs.
 *
 * Each scanline is filtered with whichever of None, Sub, Up or Average gives the smallest
 * sum of absolute values (the usual libpng heuristic), which keeps gradients small.
 */
import { deflateSync } from "node:zlib";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309 / ITU-T V.42, as PNG uses) of `bytes`, continuing from `crc`. */
export function crc32(bytes, crc = 0) {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

/**
 * PNG bytes of an RGB image.
 * @param {number} width
 * @param {number} height
 * @param {Uint8Array} rgb `width * height * 3` bytes, rows top to bottom
 */
export function encodePng(width, height, rgb) {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`Bad PNG size ${width}×${height}`);
  }
  const stride = width * 3;
  if (rgb.length !== stride * height) throw new Error(`Expected ${stride * height} bytes, got ${rgb.length}`);

  const raw = Buffer.alloc((stride + 1) * height);
  const candidates = [0, 1, 2, 3].map(() => Buffer.alloc(stride));
  for (let y = 0; y < height; y++) {
    const row = rgb.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? rgb.subarray((y - 1) * stride, y * stride) : null;
    let best = 0;
    let bestScore = Number.POSITIVE_INFINITY;
    for (let filter = 0; filter < 4; filter++) {
      const out = candidates[filter];
      let score = 0;
      for (let i = 0; i < stride; i++) {
        const left = i >= 3 ? row[i - 3] : 0;
        const above = up ? up[i] : 0;
        const predictor = filter === 0 ? 0 : filter === 1 ? left : filter === 2 ? above : (left + above) >> 1;
        const value = (row[i] - predictor) & 0xff;
        out[i] = value;
        score += value < 128 ? value : 256 - value;
      }
      if (score < bestScore) {
        bestScore = score;
        best = filter;
      }
    }
    const offset = y * (stride + 1);
    raw[offset] = best;
    candidates[best].copy(raw, offset + 1);
  }

  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: truecolour (RGB)
  header[10] = 0; // compression: deflate
  header[11] = 0; // filter method 0 (adaptive)
  header[12] = 0; // no interlace
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** `#rrggbb` → [r, g, b]. */
export function hex(color) {
  const n = Number.parseInt(color.replace("#", ""), 16);
  return [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

const clamp01 = (t) => Math.min(1, Math.max(0, t));

/** An RGB raster with alpha-blended drawing primitives (coverage-based edge smoothing). */
export class Canvas {
  constructor(width, height) {
    this.width = width;
    this.height = height;
    this.data = new Uint8Array(width * height * 3);
  }

  /** Blends `color` into pixel (x, y) with opacity `alpha` (0-1). */
  blend(x, y, color, alpha = 1) {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || alpha <= 0) return;
    const i = (y * this.width + x) * 3;
    const a = Math.min(alpha, 1);
    const d = this.data;
    d[i] = d[i] + (color[0] - d[i]) * a;
    d[i + 1] = d[i + 1] + (color[1] - d[i + 1]) * a;
    d[i + 2] = d[i + 2] + (color[2] - d[i + 2]) * a;
  }

  /** Linear gradient through `stops` ([[offset 0-1, color], …]) along the direction `angle` (radians). */
  gradient(stops, angle = Math.PI / 2) {
    const dx = Math.cos(angle);
    const dy = Math.sin(angle);
    const { width: w, height: h } = this;
    const extent = Math.abs(dx) * w + Math.abs(dy) * h;
    const origin = (dx < 0 ? -dx * w : 0) + (dy < 0 ? -dy * h : 0);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const t = clamp01((x * dx + y * dy + origin) / extent);
        let k = 1;
        while (k < stops.length - 1 && t > stops[k][0]) k++;
        const [t0, c0] = stops[k - 1];
        const [t1, c1] = stops[k];
        const f = t1 > t0 ? clamp01((t - t0) / (t1 - t0)) : 0;
        const i = (y * w + x) * 3;
        this.data[i] = c0[0] + (c1[0] - c0[0]) * f;
        this.data[i + 1] = c0[1] + (c1[1] - c0[1]) * f;
        this.data[i + 2] = c0[2] + (c1[2] - c0[2]) * f;
      }
    }
  }

  /** A filled disc, or a ring of `thickness` when given. */
  circle(cx, cy, r, color, alpha = 1, thickness = 0) {
    const inner = thickness > 0 ? r - thickness : -1;
    const x0 = Math.max(0, Math.floor(cx - r - 1));
    const x1 = Math.min(this.width - 1, Math.ceil(cx + r + 1));
    const y0 = Math.max(0, Math.floor(cy - r - 1));
    const y1 = Math.min(this.height - 1, Math.ceil(cy + r + 1));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        const cover = clamp01(r - d + 0.5) * (inner < 0 ? 1 : clamp01(d - inner + 0.5));
        if (cover > 0) this.blend(x, y, color, alpha * cover);
      }
    }
  }

  /** A filled axis-aligned rectangle. */
  rect(x, y, w, h, color, alpha = 1) {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let py = y0; py < y1; py++) for (let px = x0; px < x1; px++) this.blend(px, py, color, alpha);
  }

  /** A filled convex or concave polygon (even-odd rule), sampled at pixel centres. */
  polygon(points, color, alpha = 1) {
    const ys = points.map((p) => p[1]);
    const y0 = Math.max(0, Math.floor(Math.min(...ys)));
    const y1 = Math.min(this.height - 1, Math.ceil(Math.max(...ys)));
    for (let y = y0; y <= y1; y++) {
      const sy = y + 0.5;
      const crossings = [];
      for (let i = 0; i < points.length; i++) {
        const [ax, ay] = points[i];
        const [bx, by] = points[(i + 1) % points.length];
        if (ay <= sy !== by <= sy) crossings.push(ax + ((sy - ay) / (by - ay)) * (bx - ax));
      }
      crossings.sort((a, b) => a - b);
      for (let k = 0; k + 1 < crossings.length; k += 2) {
        const from = Math.max(0, Math.ceil(crossings[k] - 0.5));
        const to = Math.min(this.width - 1, Math.floor(crossings[k + 1] - 0.5));
        for (let x = from; x <= to; x++) this.blend(x, y, color, alpha);
      }
    }
  }

  /** Everything below the curve y = f(x) filled with `color` (hills, waves). */
  below(f, color, alpha = 1) {
    for (let x = 0; x < this.width; x++) {
      const top = f(x);
      for (let y = Math.max(0, Math.floor(top)); y < this.height; y++) {
        this.blend(x, y, color, alpha * (y === Math.floor(top) ? 1 - (top - y) : 1));
      }
    }
  }

  toPng() {
    return encodePng(this.width, this.height, this.data);
  }
}
