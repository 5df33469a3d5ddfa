// A time-series chart (uPlot on a canvas) in the console's dark theme: a
// title with its unit, a time axis in the browser's local time across the
// whole chosen window, a value axis formatted for people, a legend that shows
// the values under the cursor, or each line's latest value (a click on an
// entry hides that line), gaps
// where a series has null, and a width that follows its container. The
// uPlot instance is made once per chart and fed new data on every poll.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { pointsWithData, type AlignedSeries } from '../chart-data.js';

export interface ChartLine {
  label: string;
  /** CSS colour of the line, its legend marker and (`area`) its translucent fill. */
  color: string;
  area?: boolean;
  dash?: number[];
}

export interface TimeChartProps {
  /** Stable id: `data-chart` for tests, and the key the uPlot instance is made for. */
  id: string;
  title: string;
  /** The y axis's unit, shown on the axis ("images / min", "ms"). */
  unit: string;
  /** A line under the title: what is counted, how it is bucketed. */
  note?: string;
  lines: ChartLine[];
  /** uPlot data: x in epoch seconds, then one column per line. */
  data: AlignedSeries;
  /** The window shown on the time axis, epoch seconds. */
  range: { since: number; until: number };
  /** Formats a y value for the axis and the legend. */
  format: (v: number | null) => string;
  /** Whole numbers only on the value axis (a count of jobs): no 0.2 ticks. */
  integer?: boolean;
  /** Shown over the plot while no line has a value above zero. */
  emptyNote?: string;
  height?: number;
}

// styles.css's --muted and --line: canvas text and grid cannot read CSS variables.
const MUTED = '#9aa3b2';
const GRID = '#2a2f3a';
/** Tick steps for a count axis: 1, 2, 5, 10, 20, 50, … */
const INTEGER_STEPS = [1, 2, 5].flatMap((m) => [1, 10, 100, 1000, 10_000, 100_000, 1_000_000].map((p) => m * p)).sort((a, b) => a - b);
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

/** The local date and time of an epoch-seconds x, for the legend. */
const localTime = (s: number) =>
  new Date(s * 1000).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** The last value that is not null, or null. */
function latest(values: ArrayLike<number | null | undefined>): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i]!;
  return null;
}

/** The indices of values with a gap (or the end) on both sides, or null when there is none. */
function isolated(values: ArrayLike<number | null | undefined>): number[] | null {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== null && v !== undefined && (i === 0 || values[i - 1] == null) && (i === values.length - 1 || values[i + 1] == null)) out.push(i);
  }
  return out.length > 0 ? out : null;
}

/** Translucent version of a #rrggbb colour for an area fill. */
function translucent(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export function TimeChart({ id, title, unit, note, lines, data, range, format, integer = false, emptyNote, height = 220 }: TimeChartProps) {
  const plotRef = useRef<HTMLDivElement>(null);
  const figureRef = useRef<HTMLElement>(null);
  const chart = useRef<uPlot | null>(null);
  // The x range and the formatter are read through refs: the instance is made once, they change per poll.
  const rangeRef = useRef(range);
  rangeRef.current = range;
  const formatRef = useRef(format);
  formatRef.current = format;
  const points = pointsWithData(data);

  // One instance per chart id and set of lines (labels and colours).
  const shape = JSON.stringify([id, unit, lines]);
  useEffect(() => {
    const target = plotRef.current!;
    const figure = figureRef.current!;
    let draws = 0;
    const opts: uPlot.Options = {
      width: Math.max(200, target.clientWidth),
      height,
      pxAlign: 1,
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      legend: { show: true, live: true },
      scales: {
        x: { time: true, range: () => [rangeRef.current.since, rangeRef.current.until] },
        // From zero, with headroom; an all-zero or empty chart still gets an axis 0..1.
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: MUTED, font: FONT, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 } },
        {
          stroke: MUTED,
          font: FONT,
          labelFont: FONT,
          label: unit,
          labelSize: 18,
          size: 64,
          grid: { stroke: GRID, width: 1 },
          ticks: { stroke: GRID, width: 1 },
          values: (_u, splits) => splits.map((v) => formatRef.current(v)),
          ...(integer ? { incrs: INTEGER_STEPS } : {}),
        },
      ],
      series: [
        // Without the cursor on the plot, the legend shows each line's latest value.
        { label: 'time', value: (_u, v) => (v === null ? 'latest' : localTime(v)) },
        ...lines.map((line): uPlot.Series => ({
          label: line.label,
          stroke: line.color,
          width: 2,
          spanGaps: false,
          // A value between two gaps has no line to draw: a dot then, so it is not lost.
          points: { show: false, size: 7, fill: line.color, stroke: line.color, filter: (u, i) => isolated(u.data[i]!) },
          value: (u, v, i, idx) => formatRef.current(idx == null ? latest(u.data[i]!) : v),
          ...(line.area ? { fill: translucent(line.color, 0.15) } : {}),
          ...(line.dash ? { dash: line.dash } : {}),
        })),
      ],
      hooks: {
        draw: [
          () => {
            draws++;
            figure.dataset.drawn = String(draws);
          },
        ],
      },
    };
    const u = new uPlot(opts, data, target);
    chart.current = u;
    const resize = new ResizeObserver(() => {
      const width = Math.max(200, target.clientWidth);
      if (width !== u.width) u.setSize({ width, height });
    });
    resize.observe(target);
    return () => {
      resize.disconnect();
      u.destroy();
      chart.current = null;
    };
    // Data is fed by the effect below: a new instance only for a new shape.
  }, [shape, height, integer]);

  useEffect(() => {
    chart.current?.setData(data, true);
  }, [data, range.since, range.until]);

  return (
    <figure className="chart" ref={figureRef} data-testid="chart" data-chart={id} data-points={points}>
      <figcaption>
        <h2>
          {title} <span className="chart-unit">({unit})</span>
        </h2>
        {note && <p className="hint">{note}</p>}
      </figcaption>
      <div className="chart-plot">
        <div ref={plotRef} />
        {points === 0 && emptyNote && <p className="chart-empty">{emptyNote}</p>}
      </div>
    </figure>
  );
}
