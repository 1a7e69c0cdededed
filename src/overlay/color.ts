// Colour parsing, pure: a room item's 0xRRGGBB number or a CSS colour string to a CSS value,
// and whether it is dark (then the outline is light, so a black comment still reads).

export interface ParsedColor {
  css: string;
  dark: boolean;
}

export const WHITE: ParsedColor = { css: '#ffffff', dark: false };

const HEX = /^#([0-9a-f]{3}|[0-9a-f]{4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;
const FUNC = /^(rgb|rgba|hsl|hsla|hwb|lab|lch|oklab|oklch|color)\([-0-9a-z.,%\s/]+\)$/i;
const NAME = /^[a-z]{3,20}$/i;
const DARK_NAMES = new Set(['black', 'navy', 'darkblue', 'midnightblue', 'indigo', 'darkslategray', 'darkslategrey', 'maroon', 'purple', 'darkgreen']);

/** Relative luminance (WCAG) of 8-bit sRGB channels, 0..1. */
export function luminance(r: number, g: number, b: number): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

function fromRgb(rgb: number): ParsedColor {
  const r = (rgb >> 16) & 0xff;
  const g = (rgb >> 8) & 0xff;
  const b = rgb & 0xff;
  return { css: `#${rgb.toString(16).padStart(6, '0')}`, dark: luminance(r, g, b) < 0.1 };
}

/**
 * The CSS colour of a comment. Numbers are 0xRRGGBB (out of range or not an integer: white);
 * strings may be #hex, 0xhex, a colour function or a name; anything else is white.
 */
export function parseColor(c: number | string | undefined | null): ParsedColor {
  if (typeof c === 'number') return Number.isInteger(c) && c >= 0 && c <= 0xffffff ? fromRgb(c) : WHITE;
  if (typeof c !== 'string') return WHITE;
  const s = c.trim();
  if (/^0x[0-9a-f]{6}$/i.test(s)) return fromRgb(parseInt(s.slice(2), 16));
  if (HEX.test(s)) {
    let h = s.slice(1);
    if (h.length <= 4) h = [...h].map((ch) => ch + ch).join('');
    return fromRgb(parseInt(h.slice(0, 6), 16));
  }
  if (FUNC.test(s)) return { css: s, dark: false };
  if (NAME.test(s)) return { css: s.toLowerCase(), dark: DARK_NAMES.has(s.toLowerCase()) };
  return WHITE;
}
