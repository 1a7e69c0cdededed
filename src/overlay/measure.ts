// Text widths without layout: one canvas 2D context shared by every overlay on the page,
// created on first use (so importing the overlay in Node touches no DOM). Reading an
// element's offsetWidth would force a synchronous layout per comment.

/** The comments' font family; the DOM engine's stylesheet uses the same string. */
export const FONT_FAMILY = '"Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
export const FONT_WEIGHT = 700;

let ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null | undefined;
let lastFont = ''; // the canvas normalises what it is given, so compare with what we set

function context(): CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null {
  if (ctx !== undefined) return ctx;
  if (typeof OffscreenCanvas !== 'undefined') ctx = new OffscreenCanvas(1, 1).getContext('2d');
  else if (typeof document !== 'undefined') ctx = document.createElement('canvas').getContext('2d');
  else ctx = null;
  return ctx;
}

/** The width in px of `text` in the comments' font at `px`; an estimate where there is no canvas. */
export function textWidth(text: string, px: number): number {
  const c = context();
  if (!c) return [...text].length * px * 0.6;
  const font = `${FONT_WEIGHT} ${px}px ${FONT_FAMILY}`;
  if (lastFont !== font) {
    c.font = font;
    lastFont = font;
  }
  return Math.ceil(c.measureText(text).width);
}
