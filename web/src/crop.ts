/** The square of the source image that is kept, in its pixels. */
export interface CropSquare {
  x: number;
  y: number;
  side: number;
}

/**
 * The square kept of a `width`×`height` image: centred at zoom 1 on the largest square that fits, `zoom`
 * (≥ 1) shrinks it, and `offsetX`/`offsetY` (−1..1) move it to the image's left/top (−1) or right/bottom (1)
 * edge within the slack left.
 */
export function cropSquare(width: number, height: number, zoom: number, offsetX: number, offsetY: number): CropSquare {
  const side = Math.min(width, height) / Math.max(1, zoom);
  const clamp = (value: number) => Math.min(1, Math.max(-1, value));
  const x = (width - side) / 2 + (clamp(offsetX) * (width - side)) / 2;
  const y = (height - side) / 2 + (clamp(offsetY) * (height - side)) / 2;
  return { x, y, side };
}
