/**
 * A photo-like JPEG: smooth colour fields plus sensor-style grain, the hard case for a palette
 * PNG. Deterministic (seeded), so the ticket tests and the render benchmark draw the same one.
 */
import jpeg from "jpeg-js";

/**
 * @param {number} width
 * @param {number} height
 * @param {number} [grain] noise amplitude per channel
 * @param {number} [seed]
 * @returns {Uint8Array} JPEG bytes (quality 85)
 */
export function photoJpeg(width, height, grain = 16, seed = 7) {
  const data = new Uint8Array(width * height * 4);
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const noise = (random() - 0.5) * grain;
      data[i] = 120 + 100 * Math.sin(x / 37) * Math.cos(y / 53) + noise;
      data[i + 1] = 80 + 70 * Math.sin((x + y) / 71) + noise;
      data[i + 2] = 150 + 90 * Math.cos(x / 23 - y / 41) + noise;
      data[i + 3] = 255;
    }
  }
  return new Uint8Array(jpeg.encode({ data, width, height }, 85).data);
}
