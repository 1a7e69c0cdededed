// The demo's generated "live stream": an animated canvas (a moving skyline scene, a clock, a
// frame counter, a LIVE badge) fed into a real <video> through canvas.captureStream(), so the
// overlay sits over a playing video element with real play/pause events and no remote media.

export interface Stream {
  readonly video: HTMLVideoElement;
  /** the caption drawn in the top-left corner (the room name) */
  setTitle(title: string): void;
  /** stops drawing and releases the captured track */
  stop(): void;
}

const W = 1280;
const H = 720;

interface Star { x: number; y: number; r: number; phase: number }
interface Building { x: number; w: number; h: number; lit: number[] }

export function startStream(video: HTMLVideoElement, fps = 30): Stream {
  const canvas = document.createElement('canvas');
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('canvas 2d context unavailable');

  const rand = seeded(12);
  const stars: Star[] = Array.from({ length: 90 }, () => ({ x: rand() * W, y: rand() * H * 0.55, r: 0.6 + rand() * 1.6, phase: rand() * Math.PI * 2 }));
  const far = skyline(rand, 26, 120, 260);
  const near = skyline(rand, 18, 180, 380);

  let title = '';
  let frames = 0;
  let timer: ReturnType<typeof setInterval> | null = null;
  const started = performance.now();

  const draw = (): void => {
    const t = (performance.now() - started) / 1000;
    frames++;
    drawSky(ctx, t, stars);
    drawSkyline(ctx, far, t * 14, H - 170, '#1b1f3b', 'rgba(255, 214, 140, 0.35)');
    drawSkyline(ctx, near, t * 38, H - 90, '#0e1024', 'rgba(255, 226, 160, 0.75)');
    drawRoad(ctx, t);
    drawHud(ctx, title, frames);
  };

  draw();
  // A timer rather than requestAnimationFrame: rAF stops in a background tab, and a stream
  // that freezes whenever the viewer switches tabs would look broken on return.
  timer = setInterval(draw, 1000 / fps);
  const stream = canvas.captureStream(fps);
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  void video.play().catch(() => { /* autoplay refused: the play button starts it */ });

  return {
    video,
    setTitle(t: string): void { title = t; },
    stop(): void {
      if (timer !== null) clearInterval(timer);
      timer = null;
      for (const track of stream.getTracks()) track.stop();
    },
  };
}

/** A small deterministic generator, so the scene looks the same on every load. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function skyline(rand: () => number, count: number, minH: number, maxH: number): Building[] {
  const out: Building[] = [];
  let x = 0;
  for (let i = 0; i < count; i++) {
    const w = 50 + rand() * 90;
    const lit = Array.from({ length: 24 }, () => (rand() < 0.45 ? 1 : 0));
    out.push({ x, w, h: minH + rand() * (maxH - minH), lit });
    x += w + 4 + rand() * 18;
  }
  // the row repeats: make its total width at least the frame's so it tiles without a gap
  const total = Math.max(x, W + 200);
  for (const b of out) b.x = (b.x / x) * total;
  return out;
}

function drawSky(ctx: CanvasRenderingContext2D, t: number, stars: Star[]): void {
  // the sky's hue drifts slowly through dusk colours
  const h = 230 + Math.sin(t / 9) * 25;
  const g = ctx.createLinearGradient(0, 0, 0, H);
  g.addColorStop(0, `hsl(${h}, 55%, 12%)`);
  g.addColorStop(0.55, `hsl(${h + 40}, 50%, 24%)`);
  g.addColorStop(1, `hsl(${h + 90}, 65%, 42%)`);
  ctx.fillStyle = g;
  ctx.fillRect(0, 0, W, H);

  for (const s of stars) {
    ctx.globalAlpha = 0.35 + 0.65 * Math.abs(Math.sin(t * 1.3 + s.phase));
    ctx.fillStyle = '#fff';
    ctx.beginPath();
    ctx.arc(s.x, s.y, s.r, 0, Math.PI * 2);
    ctx.fill();
  }
  ctx.globalAlpha = 1;

  // a moon crossing the sky once a minute
  const mx = ((t * W) / 60) % (W + 200) - 100;
  const my = 150 + Math.sin((mx / W) * Math.PI) * -70;
  const glow = ctx.createRadialGradient(mx, my, 10, mx, my, 120);
  glow.addColorStop(0, 'rgba(255, 240, 200, 0.45)');
  glow.addColorStop(1, 'rgba(255, 240, 200, 0)');
  ctx.fillStyle = glow;
  ctx.fillRect(mx - 120, my - 120, 240, 240);
  ctx.fillStyle = '#fff4d6';
  ctx.beginPath();
  ctx.arc(mx, my, 38, 0, Math.PI * 2);
  ctx.fill();
}

function drawSkyline(ctx: CanvasRenderingContext2D, row: Building[], offset: number, base: number, body: string, light: string): void {
  const span = row.length > 0 ? Math.max(W + 200, lastEdge(row)) : W;
  const shift = offset % span;
  for (const copy of [0, span]) {
    for (const b of row) {
      const x = b.x - shift + copy;
      if (x > W || x + b.w < 0) continue;
      const top = base - b.h;
      ctx.fillStyle = body;
      ctx.fillRect(x, top, b.w, b.h + H);
      ctx.fillStyle = light;
      const cols = Math.max(1, Math.floor((b.w - 12) / 14));
      for (let r = 0; r < 8; r++) {
        for (let c = 0; c < cols; c++) {
          if (b.lit[(r * cols + c) % b.lit.length] !== 1) continue;
          ctx.fillRect(x + 8 + c * 14, top + 14 + r * 22, 6, 9);
        }
      }
    }
  }
}

function lastEdge(row: Building[]): number {
  const last = row[row.length - 1];
  return last ? last.x + last.w + 10 : W;
}

function drawRoad(ctx: CanvasRenderingContext2D, t: number): void {
  ctx.fillStyle = '#07080f';
  ctx.fillRect(0, H - 90, W, 90);
  ctx.fillStyle = 'rgba(255, 255, 255, 0.55)';
  const dash = (t * 320) % 120;
  for (let x = -dash; x < W; x += 120) ctx.fillRect(x, H - 44, 60, 5);
  // two cars' light trails, in opposite directions
  trail(ctx, ((t * 420) % (W + 400)) - 200, H - 66, '#ff5d5d', -1);
  trail(ctx, W - (((t * 300) % (W + 400)) - 200), H - 24, '#fff3b0', 1);
}

function trail(ctx: CanvasRenderingContext2D, x: number, y: number, colour: string, dir: number): void {
  const g = ctx.createLinearGradient(x, y, x + dir * 220, y);
  g.addColorStop(0, colour);
  g.addColorStop(1, 'rgba(0, 0, 0, 0)');
  ctx.fillStyle = g;
  ctx.fillRect(Math.min(x, x + dir * 220), y - 3, 220, 6);
}

function drawHud(ctx: CanvasRenderingContext2D, title: string, frames: number): void {
  // LIVE badge
  ctx.fillStyle = '#e5294b';
  roundRect(ctx, 28, 26, 92, 40, 8);
  ctx.fillStyle = '#fff';
  ctx.beginPath();
  ctx.arc(50, 46, 7, 0, Math.PI * 2);
  ctx.fill();
  ctx.font = 'bold 22px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  ctx.fillText('LIVE', 64, 47);

  if (title) {
    ctx.font = '600 22px system-ui, sans-serif';
    ctx.fillStyle = 'rgba(0, 0, 0, 0.45)';
    const w = ctx.measureText(title).width;
    roundRect(ctx, 132, 26, w + 28, 40, 8);
    ctx.fillStyle = '#fff';
    ctx.fillText(title, 146, 47);
  }

  // clock and frame counter under the badge (top left; the overlay's like counter is bottom right)
  const now = new Date();
  const clock = `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}.${String(now.getMilliseconds()).padStart(3, '0').slice(0, 2)}`;
  ctx.font = 'bold 44px ui-monospace, "DejaVu Sans Mono", monospace';
  ctx.fillStyle = 'rgba(0, 0, 0, 0.35)';
  ctx.fillText(clock, 32, 106);
  ctx.fillStyle = '#fff';
  ctx.fillText(clock, 30, 104);
  ctx.font = '18px ui-monospace, "DejaVu Sans Mono", monospace';
  ctx.fillStyle = 'rgba(255, 255, 255, 0.75)';
  ctx.fillText(`frame ${frames}`, 32, 142);
}

function roundRect(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, r: number): void {
  ctx.beginPath();
  ctx.roundRect(x, y, w, h, r);
  ctx.fill();
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
