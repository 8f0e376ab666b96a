const NS = "http://www.w3.org/2000/svg";

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

/**
 * A small line chart of recent values, inline SVG (no chart library): the line, the area under it and two
 * grid lines (half and all of the highest value, which the caller says in text: the drawing stretches to its
 * box, text inside it would too). `label` names it for screen readers, with the newest value.
 */
export function sparkline(values: readonly number[], label: string, width = 320, height = 96): SVGSVGElement {
  const newest = values.at(-1) ?? 0;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "admin-chart",
    role: "img",
    "aria-label": `${label}: ${formatRate(newest)} now`,
    preserveAspectRatio: "none",
  });
  const top = Math.max(1, ...values);
  const pad = 4;
  const step = values.length > 1 ? (width - 2 * pad) / (values.length - 1) : 0;
  const points = values.map((value, i) => {
    const x = pad + i * step;
    const y = height - pad - (value / top) * (height - 2 * pad);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  for (const fraction of [0.5, 1]) {
    const y = height - pad - fraction * (height - 2 * pad);
    chart.append(svg("line", { x1: 0, x2: width, y1: y, y2: y, class: "admin-chart-grid" }));
  }
  if (points.length > 1) {
    const base = `${(pad + (values.length - 1) * step).toFixed(1)},${height - pad} ${pad},${height - pad}`;
    chart.append(svg("polygon", { points: `${points.join(" ")} ${base}`, class: "admin-chart-area" }));
    chart.append(svg("polyline", { points: points.join(" "), class: "admin-chart-line" }));
  }
  return chart;
}

/** A rate as people read it: whole numbers from 10 up, one decimal below. */
export function formatRate(value: number): string {
  return value >= 10 ? String(Math.round(value)) : String(Math.round(value * 10) / 10);
}
