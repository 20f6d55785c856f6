/**
 * A live line chart drawn on a <canvas>: a few series sampled over time, newest on the right, with a
 * legend that shows each series' latest value as text (so it reads without the picture, and tests can
 * read it). Keeps the last `maxPoints` samples.
 */
import { el, replaceChildren } from './dom.js';

/** One line of a chart. */
export interface ChartSeries {
  /** Stable key (data-series attribute of its legend entry). */
  key: string;
  label: string;
  color: string;
}

/** How a chart shows values. */
export interface ChartOptions {
  title: string;
  series: ChartSeries[];
  /** Formats a value for the legend and the axis. */
  format: (value: number) => string;
  /** Samples kept (default 120). */
  maxPoints?: number;
  height?: number;
}

interface Sample {
  at: number;
  values: number[];
}

const PADDING = { left: 56, right: 12, top: 10, bottom: 22 };
const GRID_LINES = 4;

/** A chart; `element` goes into the page, `push` adds a sample and redraws. */
export class LiveChart {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly legend: HTMLElement;
  private readonly samples: Sample[] = [];
  private readonly resizeObserver: ResizeObserver;

  constructor(private readonly options: ChartOptions) {
    this.canvas = el('canvas', { height: options.height ?? 180, 'data-points': 0, role: 'img', 'aria-label': options.title });
    this.legend = el('div', { class: 'legend' });
    this.element = el('figure', { class: 'chart' }, el('figcaption', {}, options.title), this.canvas, this.legend);
    this.resizeObserver = new ResizeObserver(() => this.draw());
    this.resizeObserver.observe(this.canvas);
    this.renderLegend();
  }

  /** Adds a sample (one value per series, in order) and redraws. */
  push(values: number[], at: number = Date.now()): void {
    this.samples.push({ at, values });
    if (this.samples.length > (this.options.maxPoints ?? 120)) this.samples.shift();
    this.canvas.dataset['points'] = String(this.samples.length);
    this.renderLegend();
    this.draw();
  }

  /** Stops watching the canvas size (the page went away). */
  dispose(): void {
    this.resizeObserver.disconnect();
  }

  private renderLegend(): void {
    const latest = this.samples.at(-1);
    replaceChildren(this.legend, ...this.options.series.map((series, index) => {
      const value = latest?.values[index];
      // Set through the CSSOM: the Content-Security-Policy refuses inline style attributes.
      const swatch = el('span', { class: 'swatch' });
      swatch.style.background = series.color;
      return el('span', { class: 'legend-entry', 'data-series': series.key },
        swatch,
        `${series.label} `,
        el('strong', { class: 'legend-value' }, value === undefined ? '–' : this.options.format(value)));
    }));
  }

  private draw(): void {
    const context = this.canvas.getContext('2d');
    const width = this.canvas.clientWidth;
    const height = this.options.height ?? 180;
    if (context === null || width === 0) return;
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    const plot = { x: PADDING.left, y: PADDING.top, width: width - PADDING.left - PADDING.right, height: height - PADDING.top - PADDING.bottom };
    // Grid lines at round values: the top is GRID_LINES round steps.
    const top = GRID_LINES * niceCeiling(Math.max(0, ...this.samples.flatMap((sample) => sample.values)) / GRID_LINES);
    this.drawGrid(context, plot, top);
    if (this.samples.length === 0) {
      context.fillStyle = '#6b7280';
      context.fillText('waiting for the first sample…', plot.x + 8, plot.y + plot.height / 2);
      return;
    }
    const first = this.samples[0]?.at ?? 0;
    const span = Math.max(1, (this.samples.at(-1)?.at ?? first) - first);
    this.options.series.forEach((series, index) => {
      context.strokeStyle = series.color;
      context.lineWidth = 2;
      context.beginPath();
      this.samples.forEach((sample, position) => {
        const x = this.samples.length === 1 ? plot.x + plot.width : plot.x + ((sample.at - first) / span) * plot.width;
        const y = plot.y + plot.height - ((sample.values[index] ?? 0) / top) * plot.height;
        if (position === 0) context.moveTo(x, y);
        else context.lineTo(x, y);
      });
      context.stroke();
    });
    context.fillStyle = '#6b7280';
    context.textAlign = 'right';
    context.fillText(`last ${Math.round(span / 1000)} s`, plot.x + plot.width, height - 6);
    context.textAlign = 'left';
  }

  private drawGrid(context: CanvasRenderingContext2D, plot: { x: number; y: number; width: number; height: number }, top: number): void {
    context.font = '11px system-ui, sans-serif';
    context.strokeStyle = '#e5e7eb';
    context.fillStyle = '#6b7280';
    context.lineWidth = 1;
    context.textAlign = 'right';
    for (let line = 0; line <= GRID_LINES; line++) {
      const y = Math.round(plot.y + (plot.height * line) / GRID_LINES) + 0.5;
      context.beginPath();
      context.moveTo(plot.x, y);
      context.lineTo(plot.x + plot.width, y);
      context.stroke();
      context.fillText(this.options.format((top * (GRID_LINES - line)) / GRID_LINES), plot.x - 6, y + 4);
    }
    context.textAlign = 'left';
  }
}

/** The smallest of 1, 2, 2.5, 5 times a power of ten at or above `value` (0.25 for 0, so an idle chart's top is 1). */
export function niceCeiling(value: number): number {
  if (value <= 0) return 0.25;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}
