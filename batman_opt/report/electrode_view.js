// The 3D electrode view: builds sphere meshes from window.VIEW (centres, radii, unit icospheres),
// the collector and the box, the switchable layers, and the time slider with its height curve.
(function () {
  "use strict";
  const V = window.VIEW;
  const PHASES = [["1", "AM"], ["2", "CBD"]];

  function sphereMesh(frame, phase) {
    const t = V.templates[phase];
    const nv = t.v.length / 3, nf = t.f.length / 3;
    const idx = [];
    for (let p = 0; p < frame.phase.length; p++) if (String(frame.phase[p]) === phase) idx.push(p);
    const x = new Float32Array(idx.length * nv), y = new Float32Array(idx.length * nv), z = new Float32Array(idx.length * nv);
    const i = new Int32Array(idx.length * nf), j = new Int32Array(idx.length * nf), k = new Int32Array(idx.length * nf);
    idx.forEach(function (p, s) {
      const r = frame.r[p], cx = frame.x[p], cy = frame.y[p], cz = frame.z[p];
      for (let a = 0; a < nv; a++) {
        x[s * nv + a] = cx + r * t.v[3 * a];
        y[s * nv + a] = cy + r * t.v[3 * a + 1];
        z[s * nv + a] = cz + r * t.v[3 * a + 2];
      }
      for (let b = 0; b < nf; b++) {
        i[s * nf + b] = s * nv + t.f[3 * b];
        j[s * nf + b] = s * nv + t.f[3 * b + 1];
        k[s * nf + b] = s * nv + t.f[3 * b + 2];
      }
    });
    return { x: x, y: y, z: z, i: i, j: j, k: k, count: idx.length };
  }

  function sphereTraces(frame) {
    return PHASES.map(function (ph) {
      const m = sphereMesh(frame, ph[0]);
      return {
        type: "mesh3d", name: ph[1] + " (" + m.count + ")", x: m.x, y: m.y, z: m.z, i: m.i, j: m.j, k: m.k,
        color: V.colours[ph[0]], flatshading: false, hoverinfo: "name", showlegend: true,
        lighting: { ambient: 0.45, diffuse: 0.8, specular: 0.25, roughness: 0.5 },
        lightposition: { x: 1000, y: 500, z: 2000 },
      };
    });
  }

  const heights = V.curve === null ? [] : V.curve.top.concat(V.curve.plate).filter(function (h) { return h !== null; });
  const box = V.box, top = Math.max.apply(null, heights.concat([box.thickness]).concat(V.frames.map(function (f) {
    let high = 0;
    for (let p = 0; p < f.z.length; p++) high = Math.max(high, f.z[p] + f.r[p]);
    return high;
  })));
  const collector = {
    type: "mesh3d", name: "current collector", color: V.colours.collector, hoverinfo: "name", showlegend: true,
    x: [0, box.lx, box.lx, 0, 0, box.lx, box.lx, 0], y: [0, 0, box.ly, box.ly, 0, 0, box.ly, box.ly],
    z: [-1, -1, -1, -1, 0, 0, 0, 0],
    i: [0, 0, 4, 4, 0, 0, 1, 1, 2, 2, 3, 3], j: [1, 2, 5, 6, 1, 5, 2, 6, 3, 7, 0, 4], k: [2, 3, 6, 7, 5, 4, 6, 5, 7, 6, 4, 7],
  };
  const bx = [], by = [], bz = [];
  [[0, 0], [box.lx, 0], [box.lx, box.ly], [0, box.ly], [0, 0]].forEach(function (c) { bx.push(c[0]); by.push(c[1]); bz.push(0); });
  bx.push(null); by.push(null); bz.push(null);
  [[0, 0], [box.lx, 0], [box.lx, box.ly], [0, box.ly], [0, 0]].forEach(function (c) { bx.push(c[0]); by.push(c[1]); bz.push(box.thickness); });
  [[0, 0], [box.lx, 0], [box.lx, box.ly], [0, box.ly]].forEach(function (c) {
    bx.push(null, c[0], c[0]); by.push(null, c[1], c[1]); bz.push(null, 0, box.thickness);
  });
  const boxTrace = {
    type: "scatter3d", mode: "lines", name: "box (film thickness)", x: bx, y: by, z: bz,
    line: { color: "#444", width: 3 }, hoverinfo: "name",
  };

  function aspect(lengths) {
    const longest = Math.max.apply(null, lengths);
    return { x: lengths[0] / longest, y: lengths[1] / longest, z: lengths[2] / longest };
  }

  const last = V.frames.length - 1;
  const zmin = -1, zmax = top * 1.02;
  const ratio = aspect([box.lx, box.ly, zmax - zmin]);
  const filmCentre = ((box.thickness / 2 - (zmax + zmin) / 2) / (zmax - zmin)) * ratio.z;
  const traces = sphereTraces(V.frames[last]).concat([collector, boxTrace], V.layers);
  const layout = {
    margin: { l: 0, r: 0, t: 0, b: 0 }, legend: { x: 0, y: 1 }, uirevision: "keep",
    scene: {
      // true proportions over the axis ranges (aspectmode "data" would follow the meshes, which
      // overhang the periodic box, and squash z)
      aspectmode: "manual", aspectratio: ratio,
      // looking at the final film (a drying slurry may stand much taller)
      camera: { eye: { x: 1.3, y: -1.3, z: 0.55 + filmCentre }, center: { x: 0, y: 0, z: filmCentre } },
      xaxis: { title: { text: "x (um)" }, range: [0, box.lx] }, yaxis: { title: { text: "y (um)" }, range: [0, box.ly] },
      zaxis: { title: { text: "z (um)" }, range: [zmin, zmax] },
    },
  };
  const scene = document.getElementById("scene");
  Plotly.newPlot(scene, traces, layout, { displaylogo: false, responsive: true });

  // switchable layers: one checkbox per trace after the spheres, collector and box
  const holder = document.getElementById("layers");
  traces.forEach(function (trace, n) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = trace.visible !== false;
    box.id = "layer-" + n;
    box.addEventListener("change", function () { Plotly.restyle(scene, { visible: box.checked }, [n]); });
    label.appendChild(box);
    label.appendChild(document.createTextNode(" " + trace.name));
    holder.appendChild(label);
  });

  // time slider and the heights / pressure curve of every frame
  const slider = document.getElementById("time"), text = document.getElementById("timelabel");
  const curve = document.getElementById("curve"), C = V.curve;
  if (C === null || V.frames.length < 2) {
    document.getElementById("side").style.display = "none";
    return;
  }
  const lines = [
    { x: C.frame, y: C.plate, mode: "lines", name: "plate / roll bottom (um)", text: C.label, connectgaps: false },
    { x: C.frame, y: C.top, mode: "lines", name: "film top (um)", text: C.label },
  ];
  if (C.pressure.some(function (p) { return p !== null; })) {
    lines.push({ x: C.frame, y: C.pressure, mode: "lines", name: "pressure (MPa)", yaxis: "y2", text: C.label,
                 line: { color: "#d73027" }, connectgaps: false });
  }
  const at = V.frames[last].frame;
  Plotly.newPlot(curve, lines, {
    margin: { l: 55, r: 55, t: 30, b: 45 }, title: { text: "Drying, compression and release", font: { size: 14 } },
    xaxis: { title: { text: "frame" } }, yaxis: { title: { text: "height above collector (um)" } },
    yaxis2: { title: { text: "pressure (MPa)" }, overlaying: "y", side: "right", rangemode: "tozero", showgrid: false },
    legend: { orientation: "h", y: -0.25 },
    shapes: [{ type: "line", x0: at, x1: at, yref: "paper", y0: 0, y1: 1, line: { color: "#444", dash: "dot" } }],
  }, { displayModeBar: false, responsive: true });
  slider.max = String(last);
  slider.value = String(last);
  function show(index) {
    const frame = V.frames[index];
    const meshes = sphereTraces(frame);
    Plotly.restyle(scene, {
      x: meshes.map(function (m) { return m.x; }), y: meshes.map(function (m) { return m.y; }),
      z: meshes.map(function (m) { return m.z; }), i: meshes.map(function (m) { return m.i; }),
      j: meshes.map(function (m) { return m.j; }), k: meshes.map(function (m) { return m.k; }),
      name: meshes.map(function (m) { return m.name; }),
    }, [0, 1]);
    Plotly.relayout(curve, { "shapes[0].x0": frame.frame, "shapes[0].x1": frame.frame });
    const k = C.frame.indexOf(frame.frame);
    text.textContent = frame.label + (C.pressure[k] === null ? "" : ", pressure " + C.pressure[k].toFixed(2) + " MPa") +
      ", film top " + C.top[k].toFixed(2) + " um";
  }
  slider.addEventListener("input", function () { show(Number(slider.value)); });
  text.textContent = V.frames[last].label;
})();
