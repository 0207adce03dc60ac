/* Dashboard charts: reads the JSON endpoint named in #dashboard[data-src] and draws with ECharts. */
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  drawSparklines();
  if (!root) { return; }
  if (typeof window.echarts === "undefined") {
    fallback("图表组件未安装（运行 make assets 安装 ECharts 后刷新）。");
    return;
  }
  fetch(root.getAttribute("data-src"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
    .then(draw)
    .catch(function () { fallback("图表数据加载失败，请刷新重试。"); });

  function fallback(text) {
    var charts = document.querySelectorAll(".chart");
    for (var i = 0; i < charts.length; i++) {
      var p = document.createElement("p");
      p.className = "fallback";
      p.textContent = text;
      charts[i].appendChild(p);
    }
  }

  function lines(el, days, series, stack) {
    var chart = echarts.init(document.getElementById(el));
    var names = Object.keys(series).slice(0, 8);
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0, type: "scroll" },
      grid: { left: 40, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: days },
      yAxis: { type: "value", minInterval: 1 },
      series: names.map(function (n) {
        return { name: n, type: "line", stack: stack ? "all" : undefined, areaStyle: stack ? {} : undefined,
                 showSymbol: false, data: series[n] };
      })
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function draw(data) {
    var sentiment = {};
    var names = { negative: "负面", neutral: "中性", positive: "正面" };
    Object.keys(data.sentiment).forEach(function (k) { sentiment[names[k] || k] = data.sentiment[k]; });
    lines("chart-source", data.days, data.by_source, true);
    lines("chart-label", data.days, data.by_label, true);
    lines("chart-sentiment", data.days, sentiment, false);
    var pie = echarts.init(document.getElementById("chart-shares"));
    pie.setOption({
      animation: false,
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      series: [{ type: "pie", radius: ["35%", "70%"], data: data.label_shares.slice(0, 15) }]
    });
    window.addEventListener("resize", function () { pie.resize(); });
    document.body.setAttribute("data-charts", "ready");
  }

  function drawSparklines() {
    var spans = document.querySelectorAll(".sparkline[data-values]");
    var ns = "http://www.w3.org/2000/svg";
    for (var i = 0; i < spans.length; i++) {
      var values = spans[i].getAttribute("data-values").split(",").map(Number);
      var w = 120, h = 28, max = Math.max.apply(null, values.concat([1]));
      var step = values.length > 1 ? w / (values.length - 1) : w;
      var points = values.map(function (v, j) { return (j * step).toFixed(1) + "," + (h - 2 - (v / max) * (h - 4)).toFixed(1); });
      var svg = document.createElementNS(ns, "svg");
      svg.setAttribute("width", w); svg.setAttribute("height", h); svg.setAttribute("viewBox", "0 0 " + w + " " + h);
      var line = document.createElementNS(ns, "polyline");
      line.setAttribute("points", points.join(" ")); line.setAttribute("fill", "none");
      line.setAttribute("stroke", "#b71c1c"); line.setAttribute("stroke-width", "1.5");
      svg.appendChild(line);
      spans[i].appendChild(svg);
    }
  }
})();
