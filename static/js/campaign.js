/* A campaign's detail page: its figures, progress bar, delivery funnel and replies,
   opt-outs and clicks per hour, drawn with the vendored uPlot from <script id="campaign-data"> (json_script: the
   Content-Security-Policy allows no inline script), then refreshed from progress.json every
   1.5 s while the campaign runs. Figures are written with textContent only. */
(function () {
  "use strict";
  var HEIGHT = 240;
  var BLUE = "#0b5fff";
  var ORANGE = "#c2410c";
  var GREEN = "#15803d";
  var POLL_MS = 1500;
  var WHOLE = [];
  for (var power = 1; power <= 1e9; power *= 10) WHOLE.push(power, 2 * power, 5 * power);
  var STEPS = ["Recipients", "Sent", "Delivered", "Replied", "Clicked"];
  var charts = {};

  function fromZero(u, min, max) { return [0, max > 0 ? Math.ceil(max * 1.1) : 1]; }

  function labelled(labels) {
    return function (u, splits) {
      return splits.map(function (i) { return labels[i] === undefined ? "" : labels[i]; });
    };
  }

  function funnelData(progress) {
    var s = progress.stats;
    return [STEPS.map(function (step, i) { return i; }),
            [s.recipients, progress.left, s.delivered, s.replies, s.clicks]];
  }

  function timelineData(progress) {
    var t = progress.timeline;
    return [t.hours.map(function (hour, i) { return i; }), t.replies, t.opt_outs, t.clicks];
  }

  function hourLabels(progress) {
    return progress.timeline.hours.map(function (hour) { return hour.slice(5, 13).replace("T", " ") + "h"; });
  }

  function draw(id, options, data) {
    var container = document.getElementById(id);
    if (!container) return null;
    if (!window.uPlot) {
      container.hidden = true;
      container.nextElementSibling.open = true;
      return null;
    }
    options.width = container.clientWidth;
    options.height = HEIGHT;
    var chart = new window.uPlot(options, data, container);
    window.addEventListener("resize", function () {
      chart.setSize({width: container.clientWidth, height: HEIGHT});
    });
    return chart;
  }

  function drawAll(progress) {
    charts.funnel = draw("chart-funnel", {
      scales: {x: {time: false, range: [-0.5, STEPS.length - 0.5]}, y: {range: fromZero}},
      axes: [{values: labelled(STEPS), incrs: [1]}, {incrs: WHOLE}],
      series: [{label: "Step", value: function (u, i) { return STEPS[i]; }},
               {label: "Messages", stroke: BLUE, fill: BLUE + "cc", width: 1,
                paths: window.uPlot && window.uPlot.paths.bars({size: [0.6, 80]}),
                points: {show: false}}],
    }, funnelData(progress));
    var labels = hourLabels(progress);
    charts.timeline = draw("chart-timeline", {
      scales: {x: {time: false}, y: {range: fromZero}},
      axes: [{values: labelled(labels), space: 60}, {incrs: WHOLE}],
      series: [{label: "Hour", value: function (u, i) { return labels[i]; }},
               {label: "Replies", stroke: BLUE, width: 2},
               {label: "Opt-outs", stroke: ORANGE, width: 2, dash: [6, 4]},
               {label: "Clicks", stroke: GREEN, width: 2, dash: [2, 3]}],
    }, timelineData(progress));
  }

  function show(progress) {
    var figures = Object.assign({percent: progress.percent, left: progress.left,
                                 waiting_until: progress.stats.waiting_until || ""},
                                progress.stats);
    document.querySelectorAll("[data-figure]").forEach(function (node) {
      var value = figures[node.getAttribute("data-figure")];
      if (value !== undefined && typeof value !== "object") node.textContent = String(value);
    });
    var bar = document.getElementById("campaign-bar");
    if (bar) bar.value = progress.percent;
    var waiting = document.getElementById("campaign-waiting");
    if (waiting) waiting.hidden = !progress.stats.waiting_quiet_hours;
    var preparing = document.getElementById("campaign-preparing");
    if (preparing) preparing.hidden = !progress.preparing;
    if (charts.funnel) charts.funnel.setData(funnelData(progress));
    if (charts.timeline) charts.timeline.setData(timelineData(progress));
  }

  function start() {
    var source = document.getElementById("campaign-data");
    var section = document.getElementById("campaign-progress");
    if (!source || !section) return;
    var progress = JSON.parse(source.textContent);
    var status = progress.status;
    drawAll(progress);
    if (section.getAttribute("data-running") !== "true") return;
    var url = section.getAttribute("data-progress-url");
    function poll() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (next) {
          if (!next) return;
          if (next.status !== status) { window.location.reload(); return; }
          show(next);
        })
        .catch(function () { /* offline for a moment: the next poll catches up */ })
        .then(function () { window.setTimeout(poll, POLL_MS); });
    }
    window.setTimeout(poll, POLL_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
