import { describe, expect, it } from "vitest";
import { cropSquare } from "../web/src/crop.js";

describe("cropping an avatar to a square (web client)", () => {
  it("keeps the largest centred square at zoom 1", () => {
    expect(cropSquare(240, 120, 1, 0, 0)).toEqual({ x: 60, y: 0, side: 120 });
    expect(cropSquare(100, 300, 1, 0, 0)).toEqual({ x: 0, y: 100, side: 100 });
    expect(cropSquare(64, 64, 1, 0, 0)).toEqual({ x: 0, y: 0, side: 64 });
  });

  it("moves the square to either edge with the offsets, never past it", () => {
    expect(cropSquare(240, 120, 1, -1, 0)).toEqual({ x: 0, y: 0, side: 120 });
    expect(cropSquare(240, 120, 1, 1, 0)).toEqual({ x: 120, y: 0, side: 120 });
    expect(cropSquare(240, 120, 1, 5, -5)).toEqual({ x: 120, y: 0, side: 120 });
  });

  it("shrinks the square with the zoom, which leaves room to move on both axes", () => {
    expect(cropSquare(240, 120, 2, 0, 0)).toEqual({ x: 90, y: 30, side: 60 });
    expect(cropSquare(240, 120, 2, 1, 1)).toEqual({ x: 180, y: 60, side: 60 });
    // A zoom below 1 would ask for more than the picture has: it is read as 1.
    expect(cropSquare(240, 120, 0.5, 0, 0)).toEqual({ x: 60, y: 0, side: 120 });
  });
});
