// The like counter: a small badge in the bottom right corner (scroll comments enter at the
// top right, where it would cover them) whose text is the count alone (the
// heart is CSS), so tests and screen readers read a number. It pops a little on change, at
// most every 250 ms, and not at all under reduced motion.

const POP_EVERY_MS = 250;

export class LikeBadge {
  readonly el: HTMLDivElement;
  private count = 0;
  private lastPop = -Infinity;

  constructor(doc: Document) {
    this.el = doc.createElement('div');
    this.el.className = 'dm-likes';
    this.el.dataset.testid = 'like-counter';
    this.render();
  }

  get value(): number {
    return this.count;
  }

  add(n: number, animate: boolean): void {
    if (!Number.isFinite(n) || n <= 0) return;
    this.count += Math.floor(n);
    this.render();
    const now = performance.now();
    if (!animate || now - this.lastPop < POP_EVERY_MS || typeof this.el.animate !== 'function') return;
    this.lastPop = now;
    this.el.animate([{ transform: 'scale(1)' }, { transform: 'scale(1.22)', offset: 0.35 }, { transform: 'scale(1)' }], { duration: 280, easing: 'ease-out' });
  }

  reset(): void {
    this.count = 0;
    this.render();
  }

  private render(): void {
    this.el.textContent = String(this.count);
    this.el.dataset.count = String(this.count);
    this.el.setAttribute('aria-label', `${this.count} likes`);
  }
}
