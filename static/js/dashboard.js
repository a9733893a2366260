/* The dashboard's charts, drawn with the vendored uPlot from the figures the page carries
   in <script id="dashboard-data" type="application/json"> (json_script: the
   Content-Security-Policy allows no inline script). Each chart has a table of the same
   numbers under it; without uPlot the tables are opened instead. */
(function () {
  "use strict";
  var INBOUND = "#0b5fff";
  var OUTBOUND = "#c2410c";
  var HEIGHT = 260;

  // Ticks on whole numbers only: these are counts of messages, and days or hours.
  var WHOLE = [];
  for (var power = 1; power <= 1e9; power *= 10) WHOLE.push(power, 2 * power, 5 * power);

  function fromZero(u, min, max) {
    return [0, max > 0 ? Math.ceil(max * 1.1) : 1];
  }

  function labelled(labels) {
    return function (u, splits) {
      return splits.map(function (index) { return labels[index] === undefined ? "" : labels[index]; });
    };
  }

  function draw(container, options, data) {
    options.width = container.clientWidth;
    options.height = HEIGHT;
    var chart = new window.uPlot(options, data, container);
    window.addEventListener("resize", function () {
      chart.setSize({width: container.clientWidth, height: HEIGHT});
    });
    return chart;
  }

  function daily(container, figures) {
    var days = figures.days;
    var line = function (label, colour, dash) {
      return {label: label, stroke: colour, width: 2, dash: dash, points: {show: days.length <= 31}};
    };
    return draw(container, {
      scales: {x: {time: false}, y: {range: fromZero}},
      axes: [{values: labelled(days), incrs: [1, 2, 7, 14, 28], space: 60},
             {incrs: WHOLE}],
      series: [{label: "Day", value: function (u, index) { return days[index]; }},
               line("In", INBOUND), line("Out", OUTBOUND, [6, 4])],
    }, [days.map(function (day, index) { return index; }), figures.inbound, figures.outbound]);
  }

  function hourly(container, figures) {
    var labels = figures.hours.map(function (count, hour) { return (hour < 10 ? "0" : "") + hour + ":00"; });
    return draw(container, {
      scales: {x: {time: false, range: [-0.5, 23.5]}, y: {range: fromZero}},
      axes: [{values: labelled(labels), incrs: [1, 2, 3, 6], space: 45}, {incrs: WHOLE}],
      series: [{label: "Hour", value: function (u, hour) { return labels[hour]; }},
               {label: "Texts in", stroke: INBOUND, fill: INBOUND + "cc", width: 1,
                paths: window.uPlot.paths.bars({size: [0.8, 40]}), points: {show: false}}],
    }, [labels.map(function (label, hour) { return hour; }), figures.hours]);
  }

  function start() {
    var source = document.getElementById("dashboard-data");
    if (!source) return;
    var charts = {"chart-daily": daily, "chart-hours": hourly};
    var figures = JSON.parse(source.textContent);
    Object.keys(charts).forEach(function (id) {
      var container = document.getElementById(id);
      if (!container) return;
      if (!window.uPlot) {
        container.hidden = true;
        container.nextElementSibling.open = true;
        return;
      }
      charts[id](container, figures);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
