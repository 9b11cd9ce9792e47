// The mite-rs HTML report's charts: SVG line charts drawn from the series embedded in the
// page (script#mite-series), with a cursor that reads the values under the mouse.
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const series = JSON.parse(document.getElementById("mite-series").textContent);
  const COLORS = { p50: "#2e5bff", p95: "#f79009", p99: "#d92d20", rate: "#2e5bff",
                   errors: "#d92d20", active: "#2e5bff", target: "#98a2b3" };

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }

  // Round tick steps (1, 2, 5 × 10^n) covering 0..max in about `n` steps.
  function ticks(max, n) {
    if (!(max > 0)) max = 1;
    const raw = max / n;
    const base = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * base).find((s) => s >= raw);
    const out = [];
    for (let v = 0; v <= max * 1.0001 + step; v += step) {
      out.push(v);
      if (v >= max) break;
    }
    return out;
  }

  function elapsed(seconds) {
    const s = Math.round(seconds);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const two = (x) => String(x).padStart(2, "0");
    return h > 0 ? h + ":" + two(m) + ":" + two(r) : m + ":" + two(r);
  }

  function number(v) {
    if (v === null || v === undefined) return "-";
    if (Math.abs(v) >= 100) return Math.round(v).toLocaleString("en");
    return (Math.round(v * 100) / 100).toString();
  }

  // One chart: `lines` are {name, values, color}; null values leave gaps.
  function chart(parent, title, unit, lines) {
    const W = 640, H = 230, left = 58, right = 14, top = 30, bottom = 30;
    const box = document.createElement("div");
    box.className = "chart";
    parent.appendChild(box);
    const svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title }, box);
    svg.classList.add("plot");
    el("text", { x: left, y: 18, class: "title" }, svg).textContent = title + (unit ? " (" + unit + ")" : "");
    const t = series.t;
    const tMax = t.length ? t[t.length - 1] + series.width_s : 1;
    let yMax = 0;
    for (const line of lines) for (const v of line.values) if (v !== null && v > yMax) yMax = v;
    const yTicks = ticks(yMax, 4);
    const yTop = yTicks[yTicks.length - 1] || 1;
    const x = (s) => left + (s / tMax) * (W - left - right);
    const y = (v) => H - bottom - (v / yTop) * (H - top - bottom);
    for (const v of yTicks) {
      el("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), class: "grid" }, svg);
      el("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, svg).textContent = number(v);
    }
    for (const s of ticks(tMax, 6)) {
      if (s > tMax) break;
      el("text", { x: x(s), y: H - 10, "text-anchor": "middle", class: "axis" }, svg).textContent = elapsed(s);
    }
    let drawn = 0;
    let legendX = W - right;
    // Lines in order, so a later one (a dashed target) is drawn over an earlier one.
    for (const line of lines) {
      let d = "";
      let pen = false;
      line.values.forEach((v, i) => {
        if (v === null || v === undefined) { pen = false; return; }
        const px = x(t[i] + series.width_s / 2).toFixed(1), py = y(v).toFixed(1);
        d += (pen ? "L" : "M") + px + " " + py;
        pen = true;
        drawn += 1;
      });
      if (d) {
        const path = el("path", { d: d, class: "line", stroke: line.color }, svg);
        if (line.dash) path.setAttribute("stroke-dasharray", line.dash);
      }
    }
    // The legend from the right edge, ending with the first line's name.
    for (const line of lines.slice().reverse()) {
      const label = el("text", { x: legendX, y: 18, "text-anchor": "end", class: "legend" }, svg);
      label.textContent = "\u25A0 " + line.name;
      label.style.fill = line.color;
      legendX -= 12 + 7 * (line.name.length + 2);
    }
    svg.dataset.points = String(drawn);
    cursor(svg, lines, x, W, H, top, bottom, left, right, unit);
    return svg;
  }

  // The vertical cursor and the values of the bucket under the mouse.
  function cursor(svg, lines, x, W, H, top, bottom, left, right, unit) {
    const rule = el("line", { y1: top, y2: H - bottom, class: "cursor", visibility: "hidden" }, svg);
    const tip = el("g", { visibility: "hidden" }, svg);
    const back = el("rect", { class: "tip-box", rx: 3, width: 150, height: 16 + 14 * lines.length }, tip);
    const texts = [el("text", { class: "tip", x: 6, y: 13 }, tip)]
      .concat(lines.map((_, i) => el("text", { class: "tip", x: 6, y: 27 + 14 * i }, tip)));
    const area = el("rect", { x: left, y: top, width: W - left - right, height: H - top - bottom,
                              fill: "transparent" }, svg);
    area.addEventListener("mousemove", (event) => {
      const box = svg.getBoundingClientRect();
      const px = ((event.clientX - box.left) / box.width) * W;
      let best = 0;
      series.t.forEach((s, i) => {
        if (Math.abs(x(s + series.width_s / 2) - px) < Math.abs(x(series.t[best] + series.width_s / 2) - px)) best = i;
      });
      const cx = x(series.t[best] + series.width_s / 2);
      rule.setAttribute("x1", cx);
      rule.setAttribute("x2", cx);
      texts[0].textContent = "at " + elapsed(series.t[best]);
      lines.forEach((line, i) => {
        texts[i + 1].textContent = line.name + ": " + number(line.values[best]) + (unit ? " " + unit : "");
      });
      const tx = cx + 160 > W ? cx - 158 : cx + 8;
      tip.setAttribute("transform", "translate(" + tx + "," + (top + 4) + ")");
      back.setAttribute("width", 150);
      rule.setAttribute("visibility", "visible");
      tip.setAttribute("visibility", "visible");
    });
    area.addEventListener("mouseleave", () => {
      rule.setAttribute("visibility", "hidden");
      tip.setAttribute("visibility", "hidden");
    });
  }

  function latencyLines(s) {
    return [
      { name: "p50", values: s.p50, color: COLORS.p50 },
      { name: "p95", values: s.p95, color: COLORS.p95 },
      { name: "p99", values: s.p99, color: COLORS.p99 },
    ];
  }

  const overall = document.getElementById("charts-overall");
  chart(overall, "Requests per second", "", [{ name: "req/s", values: series.requests.rate, color: COLORS.rate }]);
  chart(overall, "Request latency", "ms", latencyLines(series.requests));
  chart(overall, "Errors per second", "", [{ name: "errors/s", values: series.requests.errors, color: COLORS.errors }]);
  chart(overall, "Active journeys", "", [
    { name: "active", values: series.journeys.active, color: COLORS.active },
    { name: "target", values: series.journeys.target, color: COLORS.target, dash: "6 4" },
  ]);

  const picker = document.getElementById("transaction-picker");
  const perTransaction = document.getElementById("charts-transaction");
  function showTransaction(index) {
    perTransaction.textContent = "";
    const s = series.transactions[index];
    if (!s) return;
    chart(perTransaction, "Transactions per second", "", [{ name: "txn/s", values: s.rate, color: COLORS.rate }]);
    chart(perTransaction, "Transaction duration", "ms", latencyLines(s));
    chart(perTransaction, "Failed transactions per second", "", [{ name: "failed/s", values: s.errors, color: COLORS.errors }]);
  }
  if (picker) {
    series.transactions.forEach((s, i) => {
      const option = document.createElement("option");
      option.value = String(i);
      option.textContent = (s.journey ? s.journey + " \u2014 " : "") + s.name;
      picker.appendChild(option);
    });
    picker.addEventListener("change", () => showTransaction(Number(picker.value)));
    showTransaction(0);
  }
  document.body.dataset.chartsReady = "true";
})();
