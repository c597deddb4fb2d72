/* salscope neuron browser: a sortable, filterable table of channels and a panel per channel.
   Reads the JSON in <script id="neuron-data"> (written by salscope.report.browser); no libraries, works from file://.
   Deep links: neurons.html#<layer>/<channel>. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("neuron-data").textContent);
  var cats = D.categories, roles = D.roles, T = D.threshold, ref = D.reference;
  var others = roles.filter(function (r) { return r.key !== ref; });
  var roleByKey = {};
  roles.forEach(function (r) { roleByKey[r.key] = r; });
  var COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"];
  var ASSETS = document.body.getAttribute("data-assets") || "neurons";
  var state = { layer: "", cat: "", role: ref, q: "", sort: "nss", dir: -1, open: null };
  var byKey = {};
  D.units.forEach(function (u) { byKey[D.layers[u.layer].name + "/" + u.channel] = u; });

  function $(id) { return document.getElementById(id); }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function fmt(v, signed) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    var s = v.toFixed(2);
    return signed && v > 0 ? "+" + s : s;
  }
  function best(u, role) {
    var s = u.scores[role], k = -1;
    if (!s) return -1;
    for (var i = 0; i < s.length; i++) if (s[i] !== null && (k < 0 || s[i] > s[k])) k = i;
    return k;
  }
  function shown(u) { return state.cat === "" ? best(u, state.role) : Number(state.cat); }
  function score(u, role, k) { var s = u.scores[role]; return k < 0 || !s ? null : s[k]; }
  function delta(u, role, k) {
    var a = score(u, ref, k), b = score(u, role, k);
    return a === null || b === null ? null : b - a;
  }
  function href(u) { return "#" + encodeURIComponent(D.layers[u.layer].name) + "/" + u.channel; }
  function thumb(u, k, role) {
    var L = D.layers[u.layer];
    return ASSETS + "/" + D.thumb.pattern.replace("{layer}", L.slug).replace("{channel}", u.channel)
      .replace("{k}", k).replace("{role}", roleByKey[role].slug);
  }

  var columns = [
    { key: "layer", label: "layer", get: function (u) { return u.layer * 100000 + u.channel; } },
    { key: "channel", label: "channel", get: function (u) { return u.channel; } },
    { key: "best", label: "category", title: "best category in the chosen encoder (or the filtered one)",
      get: function (u) { var k = shown(u); return k < 0 ? "" : cats[k]; } },
    { key: "nss", label: "region NSS", title: "region NSS of that category",
      get: function (u) { return score(u, state.role, shown(u)); } }
  ];
  cats.forEach(function (c, i) {
    columns.push({ key: "c" + i, label: c, cat: i, get: function (u) { return score(u, state.role, i); } });
  });
  columns.push({ key: "iou", label: "IoU", title: "Network Dissection IoU of that category",
    get: function (u) { var s = u.iou[state.role], k = shown(u); return s && k >= 0 ? s[k] : null; } });
  columns.push({ key: "fires", label: "images fired", title: "images where an activation exceeds the channel's top-0.5 % threshold",
    get: function (u) { return u.fires[state.role]; } });
  others.forEach(function (r) {
    columns.push({ key: "d:" + r.key, label: "Δ " + r.label, title: "change of that category's region NSS from " + roleByKey[ref].label,
      delta: true, get: function (u) { return delta(u, r.key, shown(u)); } });
  });

  function rows() {
    var q = state.q.trim(), layer = state.layer === "" ? -1 : Number(state.layer);
    var cat = state.cat === "" ? -1 : Number(state.cat);
    var out = D.units.filter(function (u) {
      if (layer >= 0 && u.layer !== layer) return false;
      if (cat >= 0 && best(u, state.role) !== cat) return false;
      if (q && String(u.channel).indexOf(q) !== 0) return false;
      return true;
    });
    var col = columns.filter(function (c) { return c.key === state.sort; })[0] || columns[3];
    out.sort(function (a, b) {
      var x = col.get(a), y = col.get(b);
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      if (x < y) return -state.dir;
      if (x > y) return state.dir;
      return a.layer - b.layer || a.channel - b.channel;
    });
    return out;
  }

  function renderHead() {
    $("units-head").innerHTML = "<tr>" + columns.map(function (c) {
      var mark = c.key === state.sort ? (state.dir < 0 ? " ▼" : " ▲") : "";
      return '<th scope="col" data-key="' + esc(c.key) + '"' + (c.title ? ' title="' + esc(c.title) + '"' : "") +
        (c.cat !== undefined ? ' class="cat"' : "") + '><button type="button">' + esc(c.label) + mark + "</button></th>";
    }).join("") + "</tr>";
  }

  var current = [];
  function renderBody() {
    current = rows();
    var html = current.map(function (u) {
      var k = shown(u), id = D.layers[u.layer].name + "/" + u.channel;
      var cells = columns.map(function (c) {
        var v = c.get(u);
        if (c.key === "layer") return "<td>" + esc(D.layers[u.layer].name) + "</td>";
        if (c.key === "channel") return '<td><a href="' + href(u) + '">' + u.channel + "</a></td>";
        if (c.key === "best") return "<td>" + esc(k < 0 ? "–" : cats[k]) + "</td>";
        if (c.key === "fires") return "<td>" + (v === null || v === undefined ? "–" : v) + "</td>";
        var cls = c.delta ? (v > 0 ? "up" : v < 0 ? "down" : "") : (v !== null && v > T ? "above" : "");
        return "<td" + (cls ? ' class="' + cls + '"' : "") + ">" + fmt(v, c.delta) + "</td>";
      });
      return '<tr data-key="' + esc(id) + '"' + (state.open === id ? ' class="open"' : "") + ">" + cells.join("") + "</tr>";
    }).join("");
    $("units-body").innerHTML = html;
    $("count").textContent = current.length + " of " + D.units.length + " channels";
  }

  function bars(u) {
    var rowH = roles.length * 8 + 8, left = 92, width = 360, top = 18;
    var vals = [];
    roles.forEach(function (r) { (u.scores[r.key] || []).forEach(function (v) { if (v !== null) vals.push(v); }); });
    var lo = Math.min(0, Math.min.apply(null, vals.concat([0]))), hi = Math.max(T, Math.max.apply(null, vals.concat([T])));
    var x = function (v) { return left + (v - lo) / (hi - lo || 1) * width; };
    var h = top + cats.length * rowH + 6, parts = [];
    parts.push('<svg class="bars" viewBox="0 0 ' + (left + width + 12) + " " + h + '" role="img" aria-label="region NSS per category and encoder">');
    roles.forEach(function (r, j) {
      parts.push('<rect x="' + (left + j * 120) + '" y="2" width="9" height="9" fill="' + COLOURS[j % COLOURS.length] + '"/>' +
        '<text x="' + (left + j * 120 + 13) + '" y="10" class="legend">' + esc(r.label) + "</text>");
    });
    cats.forEach(function (c, i) {
      var y = top + i * rowH;
      parts.push('<text x="' + (left - 4) + '" y="' + (y + rowH / 2 + 3) + '" text-anchor="end">' + esc(c) + "</text>");
      roles.forEach(function (r, j) {
        var v = score(u, r.key, i);
        if (v === null) return;
        var a = x(Math.min(0, v)), b = x(Math.max(0, v));
        parts.push('<rect x="' + a.toFixed(1) + '" y="' + (y + 4 + j * 8) + '" width="' + Math.max(0.5, b - a).toFixed(1) +
          '" height="7" fill="' + COLOURS[j % COLOURS.length] + '"><title>' + esc(r.label + ", " + c + ": " + fmt(v)) + "</title></rect>");
      });
    });
    parts.push('<line x1="' + x(0) + '" x2="' + x(0) + '" y1="' + top + '" y2="' + (h - 6) + '" class="zero"/>');
    parts.push('<line x1="' + x(T) + '" x2="' + x(T) + '" y1="' + top + '" y2="' + (h - 6) + '" class="t"/>');
    parts.push('<text x="' + (x(T) - 3) + '" y="' + (h - 1) + '" text-anchor="end" class="legend">T = ' + T + "</text>");
    parts.push("</svg>");
    return parts.join("");
  }

  function thumbs(u) {
    var n = u.regions.length;
    if (!n) return "<p>No annotated region with fixations was scored for this channel.</p>";
    var html = ['<div class="thumbs" style="--n: ' + n + "; --w: " + D.thumb.width + 'px">'];
    html.push("<div></div>");
    u.regions.forEach(function (r) {
      html.push('<div class="head">' + esc(r.image) + "<br>" + esc(r.category) + "</div>");
    });
    roles.forEach(function (role) {
      html.push('<div class="role">' + esc(role.label) + "</div>");
      u.regions.forEach(function (r, k) {
        var v = r.scores[role.key];
        html.push('<figure><img src="' + esc(thumb(u, k, role.key)) + '" width="' + D.thumb.width + '" height="' + D.thumb.height +
          '" alt="' + esc("image " + r.image + " where " + role.label + " channel " + u.channel + " fires; " + r.category + " region outlined") +
          '"><figcaption>NSS ' + fmt(v) + "</figcaption></figure>");
      });
    });
    html.push("</div>");
    return html.join("");
  }

  function openPanel(key) {
    var panel = $("panel"), u = byKey[key];
    state.open = u ? key : null;
    if (!key) { panel.hidden = true; renderBody(); return; }
    panel.hidden = false;
    if (!u) {
      panel.innerHTML = "<h2>" + esc(key) + "</h2><p>No such analysed channel: it is not in these layers or is constant " +
        'over the images (never scored). <a href="#">Close</a></p>';
      renderBody();
      return;
    }
    var L = D.layers[u.layer];
    var summary = roles.map(function (r) {
      var k = best(u, r.key);
      return "<li><strong>" + esc(r.label) + "</strong>: best " + (k < 0 ? "–" : esc(cats[k]) + " (" + fmt(score(u, r.key, k)) + ")") +
        ", fires in " + (u.fires[r.key] === null ? "–" : u.fires[r.key]) + " of " + D.n_images + " images" +
        (u.iou[r.key] && k >= 0 ? ", IoU " + fmt(u.iou[r.key][k]) : "") + "</li>";
    }).join("");
    var i = current.indexOf(u), prev = i > 0 ? current[i - 1] : null, next = i >= 0 && i < current.length - 1 ? current[i + 1] : null;
    panel.innerHTML = '<h2 id="panel-title">' + esc(L.name) + " · channel " + u.channel + "</h2>" +
      '<p class="nav">' + (prev ? '<a href="' + href(prev) + '">← previous</a> ' : "") + (next ? '<a href="' + href(next) + '">next →</a> ' : "") +
      '<a href="' + href(u) + '" class="permalink">link to this channel</a> <a href="#">close</a></p>' +
      "<ul>" + summary + "</ul>" + '<div class="panel-body"><div>' + bars(u) + "</div><div>" + thumbs(u) + "</div></div>" +
      '<p class="note">Each image is shown only where the channel\'s map, z-scored over the image, exceeds T = ' + T +
      "; the outline marks the annotated region it was chosen for (each encoder's best regions in turn). Rows: the same channel in each encoder, on the same images.</p>";
    renderBody();
  }

  function route() {
    var h = decodeURIComponent(location.hash.replace(/^#/, ""));
    var cut = h.lastIndexOf("/");
    if (cut < 0) { openPanel(null); return; }
    openPanel(h.slice(0, cut) + "/" + Number(h.slice(cut + 1)));
    $("panel").scrollIntoView({ block: "start" });
  }

  $("units-head").addEventListener("click", function (e) {
    var th = e.target.closest("th");
    if (!th) return;
    var key = th.getAttribute("data-key");
    state.dir = state.sort === key ? -state.dir : (key === "layer" || key === "channel" || key === "best" ? 1 : -1);
    state.sort = key;
    renderHead();
    renderBody();
  });
  [["f-layer", "layer"], ["f-cat", "cat"], ["f-role", "role"], ["f-q", "q"]].forEach(function (p) {
    $(p[0]).addEventListener("input", function (e) { state[p[1]] = e.target.value; renderBody(); });
  });
  $("f-role").value = ref;
  window.addEventListener("hashchange", route);
  renderHead();
  renderBody();
  route();
  document.body.setAttribute("data-ready", "1");
})();
