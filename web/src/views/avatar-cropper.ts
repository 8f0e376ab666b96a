import { cropSquare, type CropSquare } from "../crop.js";
import { h } from "../dom.js";

/** The side of the uploaded avatar, in pixels: enough for a 72 px avatar on a 3× screen. */
export const AVATAR_SIZE = 256;
/** The side of the preview in the dialog, in CSS pixels. */
const PREVIEW_SIZE = 128;
const MAX_ZOOM = 4;

/**
 * Crops a picture to a square in the browser: a live preview, a zoom slider and two position sliders (all
 * keyboard operable), and dragging the preview with a pointer. `toBlob` draws the chosen square as a PNG.
 */
export class AvatarCropper {
  readonly element: HTMLElement;
  private readonly preview: HTMLCanvasElement;
  private readonly zoom: HTMLInputElement;
  private readonly offsetX: HTMLInputElement;
  private readonly offsetY: HTMLInputElement;
  private image: ImageBitmap | undefined;

  constructor() {
    this.preview = h("canvas", {
      class: "crop-preview",
      width: PREVIEW_SIZE * 2,
      height: PREVIEW_SIZE * 2,
      role: "img",
      "aria-label": "Preview of your new picture",
    });
    const slider = (label: string, min: string, max: string, value: string) => {
      const input = h("input", { type: "range", min, max, step: "0.01", value });
      input.addEventListener("input", () => this.draw());
      return { input, field: h("label", { class: "field slider" }, h("span", {}, label), input) };
    };
    const zoom = slider("Zoom", "1", String(MAX_ZOOM), "1");
    const x = slider("Left – right", "-1", "1", "0");
    const y = slider("Up – down", "-1", "1", "0");
    this.zoom = zoom.input;
    this.offsetX = x.input;
    this.offsetY = y.input;
    this.element = h(
      "div",
      { class: "cropper", hidden: true },
      this.preview,
      h("div", { class: "crop-controls" }, zoom.field, x.field, y.field),
    );
    this.bindDrag();
  }

  /** Whether a picture is loaded. */
  get loaded(): boolean {
    return this.image !== undefined;
  }

  /** Loads a picture (centred, not zoomed); answers false when the browser cannot read it as an image. */
  async load(file: Blob): Promise<boolean> {
    let image: ImageBitmap;
    try {
      image = await createImageBitmap(file);
    } catch {
      return false;
    }
    this.image?.close();
    this.image = image;
    this.zoom.value = "1";
    this.offsetX.value = "0";
    this.offsetY.value = "0";
    this.element.hidden = false;
    this.draw();
    return true;
  }

  /** Forgets the picture. */
  clear(): void {
    this.image?.close();
    this.image = undefined;
    this.element.hidden = true;
  }

  /** The chosen square as a `AVATAR_SIZE`² PNG. */
  toBlob(): Promise<Blob | undefined> {
    const canvas = h("canvas", { width: AVATAR_SIZE, height: AVATAR_SIZE });
    this.drawOn(canvas);
    return new Promise((resolve) => canvas.toBlob((blob) => resolve(blob ?? undefined), "image/png"));
  }

  private square(): CropSquare | undefined {
    if (!this.image) return undefined;
    return cropSquare(
      this.image.width,
      this.image.height,
      Number(this.zoom.value),
      Number(this.offsetX.value),
      Number(this.offsetY.value),
    );
  }

  private draw(): void {
    this.drawOn(this.preview);
  }

  private drawOn(canvas: HTMLCanvasElement): void {
    const square = this.square();
    const context = canvas.getContext("2d");
    if (!square || !this.image || !context) return;
    context.imageSmoothingQuality = "high";
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.drawImage(this.image, square.x, square.y, square.side, square.side, 0, 0, canvas.width, canvas.height);
  }

  /** Dragging the preview moves the square the other way, as if sliding the picture under a window. */
  private bindDrag(): void {
    let last: { x: number; y: number } | undefined;
    this.preview.addEventListener("pointerdown", (event) => {
      last = { x: event.clientX, y: event.clientY };
      this.preview.setPointerCapture(event.pointerId);
    });
    this.preview.addEventListener("pointermove", (event) => {
      const square = this.square();
      if (!last || !square || !this.image) return;
      // One CSS pixel of the preview is side / PREVIEW_SIZE image pixels; the slack maps onto −1..1.
      const scale = square.side / PREVIEW_SIZE;
      const move = (input: HTMLInputElement, delta: number, extent: number) => {
        const slack = extent - square.side;
        if (slack <= 0) return;
        input.value = String(Math.min(1, Math.max(-1, Number(input.value) - (2 * delta * scale) / slack)));
      };
      move(this.offsetX, event.clientX - last.x, this.image.width);
      move(this.offsetY, event.clientY - last.y, this.image.height);
      last = { x: event.clientX, y: event.clientY };
      this.draw();
    });
    const stop = () => (last = undefined);
    this.preview.addEventListener("pointerup", stop);
    this.preview.addEventListener("pointercancel", stop);
  }
}
