// Live countdown for <time class="countdown" datetime="ISO">: the server already wrote the text,
// this only keeps it current. Loaded as a file (the CSP forbids inline scripts).
(function () {
  function fmt(ms) {
    var late = ms < 0, s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    var t = d ? d + " 天 " + h + " 小时" : (h ? h + " 小时 " + m + " 分" : m + " 分钟");
    return (late ? "已超期 " : "剩余 ") + t;
  }
  function tick() {
    var nodes = document.querySelectorAll("time.countdown[datetime]");
    for (var i = 0; i < nodes.length; i++) {
      var ms = new Date(nodes[i].getAttribute("datetime")).getTime() - Date.now();
      nodes[i].textContent = fmt(ms);
      nodes[i].classList.toggle("late", ms < 0);
    }
  }
  tick();
  setInterval(tick, 30000);
})();
