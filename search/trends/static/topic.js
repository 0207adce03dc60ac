/* Hot-topic page charts: daily counts and the heat factors, from data-* attributes. */
(function () {
  "use strict";
  if (typeof window.echarts === "undefined") { return; }
  var daily = document.getElementById("daily");
  if (daily) {
    var d = JSON.parse(daily.getAttribute("data-series"));
    var c1 = echarts.init(document.getElementById("chart-daily"));
    c1.setOption({
      animation: false, tooltip: { trigger: "axis" },
      grid: { left: 40, right: 16, top: 16, bottom: 28 },
      xAxis: { type: "category", data: d.days }, yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: d.counts, itemStyle: { color: "#b71c1c" } }]
    });
    window.addEventListener("resize", function () { c1.resize(); });
  }
  var heat = document.getElementById("heat");
  if (heat) {
    var f = JSON.parse(heat.getAttribute("data-factors"));
    var c2 = echarts.init(document.getElementById("chart-factors"));
    c2.setOption({
      animation: false, tooltip: { trigger: "axis" },
      grid: { left: 70, right: 16, top: 8, bottom: 24 },
      xAxis: { type: "value" }, yAxis: { type: "category", data: f.map(function (x) { return x.label; }) },
      series: [{ type: "bar", data: f.map(function (x) { return x.points; }), itemStyle: { color: "#0b5cad" } }]
    });
  }
  document.body.setAttribute("data-charts", "ready");
})();
