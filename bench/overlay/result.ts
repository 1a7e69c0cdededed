// What the overlay bench's page measures, shared by the page and the runner (bench/overlay.ts).

export interface PageResult {
  engine: string;
  seconds: number;
  /** danmaku and gifts fed */
  sent: number;
  gifts: number;
  /** requestAnimationFrame callbacks and their deltas */
  frames: number;
  fps: number;
  frameMs: { p50: number; p95: number; p99: number; max: number };
  /** PerformanceObserver 'longtask' (null: not supported) */
  longTasks: { count: number; maxMs: number; totalMs: number } | null;
  /** ordinary danmaku not shown (ours); the library never sheds, it stacks */
  shed: number;
  /** most comments on screen at once */
  maxOnScreen: number;
  video: { playing: boolean; currentTime: number; canvasFrames: number };
}
