/**
 * Poster and logo images for the demo data (scripts/seed-data.mjs), drawn in code and
 * encoded with scripts/png.mjs: no image files in the repository, no dependencies.
 *
 * Each category has its own palette and motif (spotlights for concerts, a sun and bunting
 * for festivals, neon for nightlife, curtains for theatre, a pitch for sports, blocks of
 * colour for the arts); `seed` varies the details, so two events never look the same.
 * No text is drawn: the apps show the title next to the poster.
 *
 * `node scripts/demo-images.mjs <dir>` writes one poster per category and the store logo
 * into <dir>, to look at them.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Canvas, hex } from "./png.mjs";

export const POSTER_WIDTH = 600;
export const POSTER_HEIGHT = 800;
export const LOGO_SIZE = 256;

/** mulberry32: deterministic pseudo-random numbers in [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WHITE = hex("#ffffff");

function concert(c, random) {
  c.gradient([
    [0, hex("#1a0533")],
    [0.6, hex("#5b0f7a")],
    [1, hex("#c2185b")],
  ]);
  const beams = ["#ffd54f", "#4fc3f7", "#f06292", "#aed581"];
  for (let i = 0; i < 4; i++) {
    const x = 60 + i * 160 + (random() - 0.5) * 60;
    const spread = 90 + random() * 60;
    c.polygon(
      [
        [x - 8, 0],
        [x + 8, 0],
        [x + spread, 620],
        [x - spread, 620],
      ],
      hex(beams[i]),
      0.22,
    );
  }
  // A speaker cone: concentric rings.
  const cx = 300 + (random() - 0.5) * 120;
  for (let r = 150; r > 10; r -= 28) c.circle(cx, 360, r, WHITE, 0.35, 6);
  c.circle(cx, 360, 22, hex("#ffd54f"), 0.9);
  // Equaliser bars along the stage.
  for (let x = 24; x < 580; x += 36) {
    const h = 40 + random() * 130;
    c.rect(x, 780 - h, 24, h, hex(random() < 0.5 ? "#ffd54f" : "#f06292"), 0.85);
  }
  c.rect(0, 780, 600, 20, hex("#0d0221"));
}

function festival(c, random) {
  c.gradient([
    [0, hex("#ff6f00")],
    [0.45, hex("#ffb300")],
    [1, hex("#fff3c4")],
  ]);
  const sunX = 150 + random() * 300;
  c.circle(sunX, 260, 110, hex("#fffde7"), 0.9);
  c.circle(sunX, 260, 150, hex("#fffde7"), 0.25, 14);
  // Bunting on a sagging string.
  const colours = ["#e53935", "#1e88e5", "#43a047", "#fdd835", "#8e24aa"];
  for (let i = 0; i < 12; i++) {
    const x = i * 52 + 4;
    const y = 70 + 30 * Math.sin((i / 11) * Math.PI);
    c.polygon(
      [
        [x, y],
        [x + 44, y],
        [x + 22, y + 46],
      ],
      hex(colours[i % colours.length]),
    );
  }
  const phase = random() * Math.PI * 2;
  c.below((x) => 560 + 40 * Math.sin(x / 90 + phase), hex("#7cb342"));
  c.below((x) => 640 + 30 * Math.sin(x / 60 + phase * 2), hex("#558b2f"));
  // Tents.
  for (let i = 0; i < 3; i++) {
    const x = 80 + i * 170 + random() * 40;
    c.polygon(
      [
        [x, 700],
        [x + 60, 610],
        [x + 120, 700],
      ],
      hex(colours[(i + 2) % colours.length]),
    );
  }
}

function nightlife(c, random) {
  c.gradient([
    [0, hex("#020024")],
    [0.7, hex("#090979")],
    [1, hex("#00111f")],
  ]);
  for (let i = 0; i < 140; i++) c.circle(random() * 600, random() * 480, 0.6 + random() * 1.6, WHITE, 0.8);
  // Neon perspective grid.
  const neon = hex("#00e5ff");
  for (let i = -8; i <= 8; i++) {
    c.polygon(
      [
        [300 + i * 10 - 1, 500],
        [300 + i * 10 + 1, 500],
        [300 + i * 90 + 2, 800],
        [300 + i * 90 - 2, 800],
      ],
      neon,
      0.7,
    );
  }
  for (let k = 0; k < 9; k++) {
    const y = 500 + 300 * (k / 8) ** 2;
    c.rect(0, y, 600, 2, neon, 0.7);
  }
  const pink = hex("#ff4081");
  const cx = 300 + (random() - 0.5) * 160;
  c.circle(cx, 330, 150, pink, 0.15);
  c.circle(cx, 330, 130, pink, 0.9, 8);
  c.circle(cx, 330, 96, hex("#e040fb"), 0.7, 5);
}

function theatre(c, random) {
  c.gradient([
    [0, hex("#1b0000")],
    [1, hex("#3e0000")],
  ]);
  // Spotlight on the stage.
  c.circle(300, 640, 200, hex("#fff8e1"), 0.18);
  c.circle(300, 640, 120, hex("#fff8e1"), 0.25);
  // Curtains: vertical folds shaded with a sine.
  const folds = 5 + Math.floor(random() * 3);
  for (let y = 0; y < 800; y++) {
    const open = 170 - y * 0.12;
    for (let x = 0; x < 600; x++) {
      const fromEdge = x < 300 ? x : 599 - x;
      if (fromEdge > open) continue;
      const shade = 0.55 + 0.45 * Math.sin((fromEdge / open) * folds * Math.PI);
      c.blend(x, y, [150 * shade + 40, 10 * shade, 20 * shade], 1);
    }
  }
  c.rect(0, 0, 600, 60, hex("#8b0000"));
  c.rect(0, 56, 600, 8, hex("#ffc107"));
  c.rect(60, 740, 480, 10, hex("#ffc107"), 0.8);
  // Two masks as simple discs.
  c.circle(255, 360, 55, hex("#ffe082"), 0.95);
  c.circle(345, 380, 55, hex("#fff8e1"), 0.95);
  for (const [x, y] of [
    [237, 345],
    [273, 345],
    [327, 365],
    [363, 365],
  ]) {
    c.circle(x, y, 9, hex("#3e0000"));
  }
}

function sports(c, random) {
  // Mown stripes.
  for (let i = 0; i < 10; i++) c.rect(0, i * 80, 600, 80, hex(i % 2 ? "#2e7d32" : "#388e3c"));
  const line = WHITE;
  c.rect(40, 40, 520, 4, line);
  c.rect(40, 756, 520, 4, line);
  c.rect(40, 40, 4, 720, line);
  c.rect(556, 40, 4, 720, line);
  c.rect(40, 398, 520, 4, line);
  c.circle(300, 400, 90, line, 1, 4);
  c.rect(180, 40, 240, 110, line, 1);
  c.rect(184, 44, 232, 102, hex("#388e3c"));
  c.rect(180, 650, 240, 110, line, 1);
  c.rect(184, 654, 232, 102, hex("#2e7d32"));
  // The ball, with a couple of patches.
  const bx = 150 + random() * 300;
  const by = 250 + random() * 300;
  c.circle(bx + 6, by + 8, 34, hex("#1b5e20"), 0.5);
  c.circle(bx, by, 34, WHITE);
  c.circle(bx, by, 11, hex("#212121"));
  for (let k = 0; k < 5; k++) {
    const a = (k / 5) * Math.PI * 2 + random();
    c.circle(bx + Math.cos(a) * 25, by + Math.sin(a) * 25, 7, hex("#212121"));
  }
}

function arts(c, random) {
  c.gradient(
    [
      [0, hex("#fdf6e3")],
      [1, hex("#f3e5c0")],
    ],
    Math.PI / 4,
  );
  const colours = ["#d32f2f", "#1976d2", "#fbc02d", "#00897b", "#5e35b1", "#f57c00"];
  for (let i = 0; i < 9; i++) {
    const w = 80 + random() * 200;
    const h = 60 + random() * 220;
    c.rect(random() * (600 - w), random() * (800 - h), w, h, hex(colours[i % colours.length]), 0.75);
  }
  for (let i = 0; i < 5; i++) {
    const x = random() * 600;
    const y = random() * 800;
    const colour = hex(colours[Math.floor(random() * colours.length)]);
    for (let k = 0; k < 7; k++)
      c.circle(x + (random() - 0.5) * 70, y + (random() - 0.5) * 70, 14 + random() * 26, colour, 0.8);
  }
  c.rect(0, 0, 600, 16, hex("#212121"));
  c.rect(0, 784, 600, 16, hex("#212121"));
  c.rect(0, 0, 16, 800, hex("#212121"));
  c.rect(584, 0, 16, 800, hex("#212121"));
}

function other(c, random) {
  c.gradient(
    [
      [0, hex("#004d40")],
      [1, hex("#26a69a")],
    ],
    Math.PI / 3,
  );
  for (let i = 0; i < 14; i++) {
    c.circle(
      random() * 600,
      random() * 800,
      20 + random() * 110,
      hex(random() < 0.5 ? "#b2dfdb" : "#ffcc80"),
      0.25,
    );
  }
  for (let i = 0; i < 6; i++) c.circle(300, 400, 60 + i * 40, WHITE, 0.3, 3);
}

const MOTIFS = {
  CONCERT: concert,
  FESTIVAL: festival,
  NIGHTLIFE: nightlife,
  THEATRE: theatre,
  SPORTS: sports,
  ARTS: arts,
  OTHER: other,
};

/** A 600×800 PNG poster for an event of `category`; `seed` varies the details. */
export function renderPoster(category, seed = 1) {
  const canvas = new Canvas(POSTER_WIDTH, POSTER_HEIGHT);
  (MOTIFS[category] ?? other)(canvas, prng(seed));
  return canvas.toPng();
}

/** A 256×256 PNG store logo: a moon and stars over a city skyline ("Nairobi Nights"). */
export function renderLogo(seed = 1) {
  const random = prng(seed);
  const c = new Canvas(LOGO_SIZE, LOGO_SIZE);
  c.gradient([
    [0, hex("#0d1b4c")],
    [1, hex("#6a1b9a")],
  ]);
  for (let i = 0; i < 40; i++) c.circle(random() * 256, random() * 150, 0.6 + random() * 1.2, WHITE, 0.9);
  c.circle(180, 70, 34, hex("#fff59d"));
  c.circle(194, 60, 30, hex("#1f1d5a"));
  let x = 0;
  while (x < 256) {
    const w = 18 + random() * 26;
    const h = 40 + random() * 90;
    c.rect(x, 256 - h, w - 2, h, hex("#0b0b1e"));
    for (let wy = 256 - h + 8; wy < 246; wy += 12) {
      for (let wx = x + 4; wx < x + w - 8; wx += 8)
        if (random() < 0.4) c.rect(wx, wy, 4, 5, hex("#ffd54f"), 0.9);
    }
    x += w;
  }
  c.circle(128, 128, 124, hex("#ffd54f"), 1, 6);
  return c.toPng();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2] ?? ".";
  mkdirSync(dir, { recursive: true });
  for (const [i, category] of Object.keys(MOTIFS).entries()) {
    writeFileSync(path.join(dir, `poster-${category.toLowerCase()}.png`), renderPoster(category, i + 1));
  }
  writeFileSync(path.join(dir, "logo.png"), renderLogo());
  console.log(`Wrote ${Object.keys(MOTIFS).length} posters and a logo to ${dir}`);
}
