export function photoJpeg(width: number, height: number, grain?: number, seed?: number): Uint8Array;
