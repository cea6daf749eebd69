/**
 * A virtualised list: a spacer as tall as all rows, and only the rows in (and just around) the viewport
 * exist in the DOM, recycled on scroll. Keyboard: arrows/Page/Home/End move the active row.
 */
import { el } from '../common/dom';
import { t } from '../common/l10n';

export interface VirtualListOptions {
  rowHeight: number;
  /** Fills a recycled row element for item `id`. */
  renderRow(row: HTMLElement, id: number): void;
  onActivate(id: number, event: MouseEvent | KeyboardEvent): void;
  onOpen(id: number): void;
}

const OVERSCAN = 6;

export class VirtualList {
  readonly element: HTMLElement;
  private readonly spacer: HTMLElement;
  private rows: HTMLElement[] = [];
  private items: Uint32Array = new Uint32Array(0);
  private active = -1;

  constructor(private readonly opts: VirtualListOptions) {
    this.spacer = el('div', { class: 'vlist-spacer' });
    this.element = el('div', { class: 'vlist', attrs: { tabindex: '0', role: 'listbox', 'aria-label': t('Latents') } }, this.spacer);
    this.element.addEventListener('scroll', () => this.render());
    this.element.addEventListener('click', (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>('.vrow');
      if (!row) return;
      this.active = Number(row.dataset.pos);
      this.opts.onActivate(Number(row.dataset.id), e);
      this.render();
    });
    this.element.addEventListener('dblclick', (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>('.vrow');
      if (row) this.opts.onOpen(Number(row.dataset.id));
    });
    this.element.addEventListener('keydown', (e) => this.onKey(e));
    new ResizeObserver(() => this.render()).observe(this.element);
  }

  get length(): number {
    return this.items.length;
  }

  setItems(items: Uint32Array): void {
    this.items = items;
    this.active = Math.min(this.active, items.length - 1);
    this.spacer.style.height = `${items.length * this.opts.rowHeight}px`;
    this.render();
  }

  scrollToTop(): void {
    this.element.scrollTop = 0;
  }

  render(): void {
    const h = this.opts.rowHeight;
    const viewport = this.element.clientHeight || 400;
    const first = Math.max(0, Math.floor(this.element.scrollTop / h) - OVERSCAN);
    const last = Math.min(this.items.length, Math.ceil((this.element.scrollTop + viewport) / h) + OVERSCAN);
    const needed = last - first;
    while (this.rows.length < needed) {
      const row = el('div', { class: 'vrow', attrs: { role: 'option' } });
      row.style.height = `${h}px`;
      this.rows.push(row);
      this.element.append(row);
    }
    for (let k = 0; k < this.rows.length; k++) {
      const row = this.rows[k];
      const pos = first + k;
      if (pos >= last) { row.hidden = true; continue; }
      row.hidden = false;
      const id = this.items[pos];
      row.dataset.pos = String(pos);
      row.dataset.id = String(id);
      row.style.transform = `translateY(${pos * h}px)`;
      row.classList.toggle('active', pos === this.active);
      row.setAttribute('aria-selected', String(pos === this.active));
      this.opts.renderRow(row, id);
    }
  }

  private onKey(e: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(this.element.clientHeight / this.opts.rowHeight) - 1);
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    let next = this.active;
    if (e.key in moves) next = Math.max(0, this.active + moves[e.key]);
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = this.items.length - 1;
    else if (e.key === 'Enter' && this.active >= 0) { this.opts.onOpen(this.items[this.active]); return; }
    else if (e.key === ' ' && this.active >= 0) { e.preventDefault(); this.opts.onActivate(this.items[this.active], e); return; }
    else return;
    e.preventDefault();
    this.active = Math.min(next, this.items.length - 1);
    const h = this.opts.rowHeight;
    const top = this.active * h;
    if (top < this.element.scrollTop) this.element.scrollTop = top;
    else if (top + h > this.element.scrollTop + this.element.clientHeight) this.element.scrollTop = top + h - this.element.clientHeight;
    this.render();
  }
}
