// The overlay bench's page (bundled by bench/overlay.ts): a playing <video> fed by
// canvas.captureStream() under an overlay, a seeded load of danmaku and gifts, and the
// figures the Performance API gives inside the page. `?engine=` picks our overlay,
// weizhenye's `danmaku` library (dom or canvas engine) for comparison, or none (the video alone).

import * as danmakuModule from 'danmaku';
import { DanmakuOverlay } from '../../src/overlay/index.js';
import type { PageResult } from './result.js';
import { mulberry32 } from '../lib/prng.js';

interface Engine {
  add(text: string, color: number, mode: 'scroll' | 'top' | 'bottom'): void;
  gift(user: string, text: string): void;
  shed(): number;
  onScreen(): number;
}

const q = new URLSearchParams(location.search);
const ENGINE = q.get('engine') ?? 'ours';
const SECONDS = Number(q.get('seconds') ?? 20);
const RATE = Number(q.get('rate') ?? 60);
const GIFT_EVERY_MS = Number(q.get('giftEveryMs') ?? 2000);
const WARMUP_MS = 1000;
const FONT = '"Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", sans-serif';


/** A generated "stream": a moving gradient and a clock drawn on a canvas, captured into the <video>. */
function startVideo(stage: HTMLElement): { video: HTMLVideoElement; frames: () => number } {
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 360;
  const ctx = canvas.getContext('2d')!;
  let drawn = 0;
  const draw = (t: number) => {
    const g = ctx.createLinearGradient(0, 0, 640, 360);
    const h = (t / 40) % 360;
    g.addColorStop(0, `hsl(${h},70%,55%)`);
    g.addColorStop(1, `hsl(${(h + 120) % 360},70%,20%)`);
    ctx.fillStyle = g;
    ctx.fillRect(0, 0, 640, 360);
    ctx.fillStyle = '#fff';
    ctx.font = '48px sans-serif';
    ctx.fillText(new Date().toISOString().slice(11, 22), 40, 200);
    drawn++;
    requestAnimationFrame(draw);
  };
  requestAnimationFrame(draw);
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.style.cssText = 'position:absolute;left:0;top:0;width:100%;height:100%;object-fit:cover;background:#111';
  video.srcObject = canvas.captureStream(30);
  stage.appendChild(video);
  void video.play().catch(() => undefined);
  return { video, frames: () => drawn };
}

function ours(stage: HTMLElement): Engine {
  const o = new DanmakuOverlay(stage, { reducedMotion: false });
  let max = 0;
  return {
    add: (text, color, mode) => void o.add({ text, color, mode }),
    gift: (user, text) => void o.add({ kind: 'gift', user, text }),
    shed: () => o.stats.shed,
    onScreen: () => (max = Math.max(max, o.stats.onScreen)),
  };
}

/** The video alone: what the page costs without any overlay. */
function none(): Engine {
  return { add: () => undefined, gift: () => undefined, shed: () => 0, onScreen: () => 0 };
}

function library(stage: HTMLElement, engine: 'dom' | 'canvas'): Engine {
  const layer = document.createElement('div');
  layer.style.cssText = 'position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none';
  stage.appendChild(layer);
  // speed in px/s = stage width / crossing time: the same 8 s crossing as ours
  const d = new Danmaku({ container: layer, engine, speed: 1280 / 8 });
  const running = () => ((d as unknown as { _: { runningList: unknown[] } })._?.runningList.length ?? 0);
  let max = 0;
  const style = (color: number, gift: boolean) =>
    engine === 'dom'
      ? { fontSize: '24px', fontWeight: '700', fontFamily: FONT, color: gift ? '#3b2500' : `#${color.toString(16).padStart(6, '0')}`, textShadow: gift ? 'none' : '1px 0 1px #000,-1px 0 1px #000,0 1px 1px #000,0 -1px 1px #000', background: gift ? '#f5b301' : '', borderRadius: gift ? '999px' : '', padding: gift ? '0 14px' : '' }
      : { font: `700 24px/1.3 ${FONT}`, fillStyle: gift ? '#f5b301' : `#${color.toString(16).padStart(6, '0')}`, strokeStyle: '#000', lineWidth: 2 };
  const modes = { scroll: 'rtl', top: 'top', bottom: 'bottom' } as const;
  return {
    add: (text, color, mode) => void d.emit({ text, mode: modes[mode], style: style(color, false) as never }),
    gift: (user, text) => void d.emit({ text: `\u2605 ${user} sent ${text}`, mode: 'rtl', style: style(0, true) as never }),
    shed: () => 0,
    onScreen: () => (max = Math.max(max, running())),
  };
}

// The package's types say `export default` in a CommonJS package, so TypeScript (NodeNext)
// puts the class one `.default` deeper than esbuild, which bundles the package's ESM build.
type DanmakuClass = (typeof danmakuModule.default)['default'];
const Danmaku = danmakuModule.default as unknown as DanmakuClass;

const CHARS = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 !?~666 hahaha lol wow';

async function main(): Promise<PageResult> {
  const stage = document.getElementById('stage')!;
  const { video, frames } = startVideo(stage);
  const engine = ENGINE === 'ours' ? ours(stage) : ENGINE === 'none' ? none() : library(stage, ENGINE === 'danmaku-canvas' ? 'canvas' : 'dom');
  const random = mulberry32(42);
  const longTasks: number[] = [];
  let observing = false;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) longTasks.push(e.duration);
    }).observe({ type: 'longtask', buffered: false });
    observing = true;
  } catch {
    observing = false; // no Long Tasks API: reported as null
  }
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  longTasks.length = 0;
  const videoTimeAtStart = video.currentTime;
  const deltas: number[] = [];
  let last = -1;
  let measuring = true;
  const tick = (t: number) => {
    if (last >= 0) deltas.push(t - last);
    last = t;
    if (measuring) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  // the load: RATE danmaku a second in 20 ms steps, a gift every GIFT_EVERY_MS
  const start = performance.now();
  let sent = 0;
  let gifts = 0;
  await new Promise<void>((done) => {
    const step = () => {
      const elapsed = performance.now() - start;
      const due = Math.min(Math.floor((elapsed / 1000) * RATE), SECONDS * RATE);
      for (; sent < due; sent++) {
        const len = 2 + Math.floor(random() * 29);
        let text = '';
        for (let i = 0; i < len; i++) text += CHARS[Math.floor(random() * CHARS.length)];
        const r = random();
        engine.add(text.trim() || 'hi', Math.floor(random() * 0x1000000), r < 0.05 ? 'top' : r < 0.1 ? 'bottom' : 'scroll');
      }
      for (; gifts < Math.floor(elapsed / GIFT_EVERY_MS) && gifts * GIFT_EVERY_MS < SECONDS * 1000; gifts++) engine.gift(`viewer${gifts}`, `${1 + (gifts % 9)} x rose`);
      engine.onScreen();
      if (elapsed >= SECONDS * 1000) done();
      else setTimeout(step, 20);
    };
    step();
  });
  measuring = false;
  const q = (p: number) => {
    const s = [...deltas].sort((a, b) => a - b);
    return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : 0;
  };
  return {
    engine: ENGINE,
    seconds: SECONDS,
    sent,
    gifts,
    frames: deltas.length,
    fps: deltas.length / SECONDS,
    frameMs: { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: deltas.reduce((a, d) => Math.max(a, d), 0) },
    longTasks: observing ? { count: longTasks.length, maxMs: longTasks.reduce((a, d) => Math.max(a, d), 0), totalMs: longTasks.reduce((a, b) => a + b, 0) } : null,
    shed: engine.shed(),
    maxOnScreen: engine.onScreen(),
    video: { playing: !video.paused && video.currentTime > videoTimeAtStart, currentTime: video.currentTime, canvasFrames: frames() },
  };
}

(window as unknown as { benchResult: Promise<PageResult> }).benchResult = main();
