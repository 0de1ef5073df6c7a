/* gisplan map helpers, loaded after leaflet.js and leaflet.markercluster.js.
   gisplanLayer: one overlay from a GeoJSON FeatureCollection whose properties carry pre-escaped popup (_p) and
   tooltip (_t) HTML, a marker icon (_i), a style (_s) or a label name (_n); points become DivIcon markers,
   clustered when o.cluster is set; kind "label" makes name labels, kind "image" a basemap image.
   gisplanSetup: panes, the grouped layer panel, the legend that follows it, label decluttering, the view that
   leaves the panel free, print and PNG export. Every text it inserts is escaped in Python or set as text. */
var gisplanLayers = {};  // layer key -> {o, dataId, layer}: a layer is built the first time it is shown

/* Register an overlay whose GeoJSON waits, unparsed, in the <script type="application/json"> `dataId`: most
   layers start off, and parsing and building them only when first shown halves the time to the first view. */
function gisplanLayer(dataId, o) {
  var holder = {o: o, dataId: dataId, layer: null};
  gisplanLayers[o.key] = holder;
  return holder;
}

function gisplanGet(key) {
  var h = gisplanLayers[key];
  if (!h) { return null; }
  if (!h.layer) {
    var o = h.o, el = document.getElementById(h.dataId), data = el ? JSON.parse(el.textContent) : null;
    if (o.kind === 'image') {
      h.layer = L.imageOverlay(o.url, o.bounds, {pane: 'gp-basemap', className: o.className, interactive: false});
    } else if (o.kind === 'label') {
      h.layer = gisplanLabelLayer(data, o);
    } else {
      h.layer = gisplanFeatures(data, o);
    }
  }
  return h.layer;
}

function gisplanFeatures(data, o) {
  var options = {
    className: o.className,
    style: function (f) {
      return Object.assign({}, o.style || {}, (f.properties && f.properties._s) || {});
    },
    pointToLayer: function (f, latlng) {
      var icon = L.divIcon({
        className: o.className,
        html: (f.properties && f.properties._i) || o.iconHtml || '',
        iconSize: o.iconSize || [22, 22]
      });
      return L.marker(latlng, {icon: icon, keyboard: false, riseOnHover: true});
    },
    onEachFeature: function (f, l) {
      var p = f.properties || {};
      if (p._p) { l.bindPopup(p._p, {maxWidth: 380}); }
      if (p._t) { l.bindTooltip(p._t, {sticky: !!o.sticky}); }
    }
  };
  if (o.pane) { options.pane = o.pane; }
  var layer = L.geoJSON(data, options);
  if (!o.cluster) { return layer; }
  var group = L.markerClusterGroup({
    showCoverageOnHover: false,
    maxClusterRadius: 45,
    iconCreateFunction: function (c) {
      return L.divIcon({
        html: '<div style="background:' + o.colour + '"><span>' + c.getChildCount() + '</span></div>',
        className: 'marker-cluster gp-cl ' + o.typeClass,
        iconSize: L.point(36, 36)
      });
    }
  });
  group.addLayers(layer.getLayers());
  return group;
}

/* Name labels: zero-size DivIcons whose text is centred on the point (the label point of a polygon). */
function gisplanLabelLayer(data, o) {
  var group = L.layerGroup();
  group.gpLabel = {minZoom: o.minZoom || 0, priority: o.priority || 0};
  data.features.forEach(function (f) {
    var c = f.geometry.coordinates;
    var icon = L.divIcon({
      className: o.className,
      html: '<i class="gp-leader"></i><span class="gp-lt">' + f.properties._n + '</span>',
      iconSize: [0, 0]
    });
    var m = L.marker([c[1], c[0]], {icon: icon, keyboard: false, interactive: false, pane: 'gp-labels'});
    m.gpRadius = f.properties._r || 0;
    group.addLayer(m);
  });
  return group;
}

/* Place the labels of the shown label layers, highest priority first: each takes the first free spot among
   its point and rings around it (joined to its point by a leader line), or is hidden. */
function gisplanDeclutter(map) {
  var size = map.getSize();
  var zoom = map.getZoom();
  /* the title block and the side panel are obstacles: no label goes under them */
  var mapBox = map.getContainer().getBoundingClientRect();
  var placed = ['gp-title', 'gp-side'].map(function (id) { return document.getElementById(id); })
    .filter(function (e) { return e && e.offsetParent !== null; })
    .map(function (e) {
      var r = e.getBoundingClientRect();
      return [r.left - mapBox.left, r.top - mapBox.top, r.right - mapBox.left, r.bottom - mapBox.top];
    });
  var layers = Object.keys(gisplanLayers).map(function (k) { return gisplanLayers[k].layer; })
    .filter(function (l) { return l && l.gpLabel && map.hasLayer(l); })
    .sort(function (a, b) { return b.gpLabel.priority - a.gpLabel.priority; });
  /* facility and site markers: a label moves off them when it can (else it may lie under one) */
  var markers = [];
  map.getContainer().querySelectorAll('.leaflet-marker-pane .leaflet-marker-icon:not(.gp-label)').forEach(function (e) {
    var r = e.getBoundingClientRect();
    markers.push([r.left - mapBox.left, r.top - mapBox.top, r.right - mapBox.left, r.bottom - mapBox.top]);
  });
  function hits(box, boxes) {
    for (var i = 0; i < boxes.length; i++) {
      var p = boxes[i];
      if (box[0] < p[2] && box[2] > p[0] && box[1] < p[3] && box[3] > p[1]) { return true; }
    }
    return false;
  }
  function free(box, avoidMarkers) {
    if (box[0] < 2 || box[1] < 2 || box[2] > size.x - 2 || box[3] > size.y - 2) { return false; }
    return !hits(box, placed) && !(avoidMarkers && hits(box, markers));
  }
  layers.forEach(function (layer) {
    var visible = zoom >= layer.gpLabel.minZoom;
    var rings = layer.gpLabel.priority >= 2 ? 6 : 1;
    layer.eachLayer(function (m) {
      var el = m.getElement();
      if (!el) { return; }
      var span = el.querySelector('.gp-lt'), leader = el.querySelector('.gp-leader');
      var pt = map.latLngToContainerPoint(m.getLatLng());
      var inView = pt.x > -50 && pt.y > -50 && pt.x < size.x + 50 && pt.y < size.y + 50;
      el.classList.remove('gp-hidden');
      if (!visible || !inView) { el.classList.add('gp-hidden'); return; }
      span.style.left = '0px'; span.style.top = '0px';
      var w = span.offsetWidth + 4, h = span.offsetHeight + 2;
      var spots = [[0, 0]];
      for (var r = 1; r <= rings; r++) {
        var dy = r * (h + 1), dx = r * (w / 2 + 6);
        spots.push([0, -dy], [0, dy], [dx, 0], [-dx, 0], [dx, -dy], [-dx, -dy], [dx, dy], [-dx, dy]);
      }
      var tries = spots.map(function (sp) { return [sp, true]; }).concat(spots.map(function (sp) { return [sp, false]; }));
      for (var i = 0; i < tries.length; i++) {
        var sp = tries[i][0], x = pt.x + sp[0], y = pt.y + sp[1];
        var box = [x - w / 2, y - h / 2, x + w / 2, y + h / 2];
        if (free(box, tries[i][1])) {
          placed.push(box);
          span.style.left = sp[0] + 'px'; span.style.top = sp[1] + 'px';
          var len = Math.sqrt(sp[0] * sp[0] + sp[1] * sp[1]);
          leader.style.display = len > 0 ? 'block' : 'none';
          leader.style.width = Math.max(0, len - h / 2) + 'px';
          leader.style.transform = 'rotate(' + Math.atan2(sp[1], sp[0]) + 'rad)';
          el.classList.toggle('gp-moved', len > 0);
          return;
        }
      }
      el.classList.add('gp-hidden');
    });
  });
}

function gisplanEl(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) { e.className = cls; }
  if (text !== undefined) { e.textContent = text; }
  return e;
}

function gisplanSetup(map, cfg) {
  [['gp-basemap', 250], ['gp-towns', 400], ['gp-gaps', 410], ['gp-areas', 420], ['gp-lines', 430],
   ['gp-labels', 580]].forEach(function (p) {
    var pane = map.createPane(p[0]);
    pane.style.zIndex = p[1];
    if (p[0] === 'gp-labels' || p[0] === 'gp-basemap') { pane.style.pointerEvents = 'none'; }
  });
  var side = document.getElementById('gp-side');
  var box = document.getElementById('gp-layers');
  var checks = {};  // layer key -> its checkboxes (a layer can sit in several groups)
  var wanted = {};  // layer key -> switched on (a label layer joins the map only from its zoom level on)
  function on(key) { return !!wanted[key]; }
  function apply(key) {
    var h = gisplanLayers[key];
    if (!h || (!wanted[key] && !h.layer)) { return; }
    var tooFar = h.o.kind === 'label' && map.getZoom() < (h.o.minZoom || 0);
    var visible = wanted[key] && !tooFar;
    var layer = visible ? gisplanGet(key) : h.layer;
    if (!layer) { return; }
    if (visible && !map.hasLayer(layer)) { layer.addTo(map); } else if (!visible && map.hasLayer(layer)) { map.removeLayer(layer); }
  }
  function syncLegend() {
    document.querySelectorAll('#gp-legend .gp-li').forEach(function (li) {
      var keys = li.getAttribute('data-l').split(',');
      li.classList.toggle('gp-off', !keys.some(on));
    });
    document.querySelectorAll('#gp-legend .gp-ls').forEach(function (s) {
      s.classList.toggle('gp-off', s.querySelector('.gp-li') !== null && s.querySelector('.gp-li:not(.gp-off)') === null);
    });
  }
  function syncChecks() {
    Object.keys(checks).forEach(function (k) { checks[k].forEach(function (c) { c.checked = on(k); }); });
    box.querySelectorAll('.gp-group').forEach(function (g) {
      var keys = g.gpKeys, n = keys.filter(on).length, c = g.querySelector('.gp-gcheck');
      c.checked = n === keys.length; c.indeterminate = n > 0 && n < keys.length;
    });
    syncLegend();
  }
  function show(key, visible) { wanted[key] = visible; apply(key); }
  function changed() { syncChecks(); gisplanDeclutter(map); }
  function fold(head, list, open) {
    var b = gisplanEl('button', 'gp-fold', open ? '▾' : '▸'); b.type = 'button';
    list.hidden = !open;
    function flip() { list.hidden = !list.hidden; b.textContent = list.hidden ? '▸' : '▾'; }
    b.addEventListener('click', flip);
    head.appendChild(b);
    return flip;
  }
  function group(parent, title, keys, isOn, headline) {
    var g = gisplanEl('div', 'gp-group' + (headline ? ' gp-headline' : ''));
    g.gpKeys = keys;
    var head = gisplanEl('div', 'gp-gh'), c = gisplanEl('input', 'gp-gcheck');
    c.type = 'checkbox';
    var t = gisplanEl('span', 'gp-gt'); t.innerHTML = title; t.title = t.textContent;
    head.appendChild(c); head.appendChild(t);
    var list = gisplanEl('div', 'gp-gl');
    t.addEventListener('click', fold(head, list, false));
    keys.forEach(function (k) {
      var row = gisplanEl('label', 'gp-lr'), b = gisplanEl('input');
      b.type = 'checkbox'; b.setAttribute('data-k', k);
      var n = gisplanEl('span'); n.innerHTML = cfg.names[k] || k;
      row.appendChild(b); row.appendChild(n); list.appendChild(row);
      (checks[k] = checks[k] || []).push(b);
      b.addEventListener('change', function () { show(k, b.checked); changed(); });
    });
    c.addEventListener('change', function () { keys.forEach(function (k) { show(k, c.checked); }); changed(); });
    g.appendChild(head); g.appendChild(list); parent.appendChild(g);
    if (isOn) { keys.forEach(function (k) { wanted[k] = true; }); }
  }
  function section(title, open) {
    var head = gisplanEl('div', 'gp-gsec'), list = gisplanEl('div', 'gp-gsl');
    var t = gisplanEl('span', '', title); head.appendChild(t);
    t.addEventListener('click', fold(head, list, open));
    box.appendChild(head); box.appendChild(list);
    return list;
  }
  group(box, '边界与地名', cfg.base, true, false);
  var headlines = cfg.groups.filter(function (g) { return g.headline; });
  var others = cfg.groups.filter(function (g) { return !g.headline; });
  if (headlines.length) {
    var first = section('重点指标（默认显示）', true);
    headlines.forEach(function (g) { group(first, g.title, g.layers, true, true); });
  }
  if (others.length) {
    var rest = section('其他指标（默认关闭，' + others.length + ' 项）', false);
    others.forEach(function (g) { group(rest, g.title, g.layers, false, false); });
  }
  syncChecks();
  window.gisplanOn = function () { return Object.keys(wanted).filter(on); };

  var toggle = document.getElementById('gp-toggle');
  function collapse(c) { side.classList.toggle('gp-collapsed', c); toggle.setAttribute('aria-expanded', String(!c)); }
  toggle.addEventListener('click', function () { collapse(!side.classList.contains('gp-collapsed')); });
  collapse(window.innerWidth < 900);
  L.control.scale({imperial: false, maxWidth: 160, position: 'bottomleft'}).addTo(map);

  /* the district in the part of the map that the title and the panel leave free */
  function fit() {
    var size = map.getSize(), title = document.getElementById('gp-title').getBoundingClientRect();
    var mapBox = map.getContainer().getBoundingClientRect(), sideBox = side.getBoundingClientRect();
    var right = size.x - (sideBox.left - mapBox.left) + 8, top = title.bottom - mapBox.top + 8;
    if (right > size.x * 0.6) { right = 12; }
    if (top > size.y * 0.5) { top = 12; }
    map.fitBounds(cfg.bounds, {paddingTopLeft: [12, top], paddingBottomRight: [right, 30], animate: false});
  }
  window.gisplanFit = fit;
  window.gisplanBounds = cfg.bounds;
  fit();  /* sets the first view: the layers switched on join the map now, drawn once */
  Object.keys(wanted).forEach(apply);
  map.on('zoomend', function () { Object.keys(wanted).forEach(apply); });
  map.on('zoomend moveend', function () { gisplanDeclutter(map); });
  gisplanDeclutter(map);
  window.addEventListener('resize', function () { gisplanDeclutter(map); });

  document.getElementById('gp-print').addEventListener('click', function () { window.print(); });
  window.addEventListener('beforeprint', function () { map.invalidateSize(); gisplanDeclutter(map); });
  window.addEventListener('afterprint', function () { map.invalidateSize(); gisplanDeclutter(map); });
  document.getElementById('gp-png').addEventListener('click', function () {
    gisplanPng(map, cfg).then(function (blob) {
      var a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = (cfg.title || 'map').replace(/[\\/:*?"<>|\s]+/g, '_') + '_' + cfg.date + '.png';
      document.body.appendChild(a); a.click(); a.remove();
    });
  });
}

/* ------------------------------------------------------------------------------------------ PNG export */

function gisplanImage(src) {
  return new Promise(function (resolve) {
    var img = new Image();
    img.onload = function () { resolve(img); };
    img.onerror = function () { resolve(null); };
    img.src = src;
  });
}

/* The current view drawn on a canvas (2x): basemap image, every SVG pane, markers and labels, then the title
   with the notice and the date, the legend entries that are on, the scale bar and the north arrow. */
function gisplanPng(map, cfg) {
  var scale = 2, container = map.getContainer(), cb = container.getBoundingClientRect();
  var size = map.getSize(), canvas = document.createElement('canvas');
  canvas.width = size.x * scale; canvas.height = size.y * scale;
  var ctx = canvas.getContext('2d');
  ctx.scale(scale, scale);
  ctx.fillStyle = '#f4f3ef'; ctx.fillRect(0, 0, size.x, size.y);
  var jobs = [];
  container.querySelectorAll('.leaflet-image-layer').forEach(function (img) {
    var r = img.getBoundingClientRect();
    jobs.push(gisplanImage(img.src).then(function (im) { return [im, r]; }));
  });
  container.querySelectorAll('.leaflet-pane svg').forEach(function (svg) {
    var r = svg.getBoundingClientRect(), copy = svg.cloneNode(true);
    copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
    copy.removeAttribute('style');  /* its translate is already in the rectangle it is drawn into */
    var text = new XMLSerializer().serializeToString(copy);
    var zi = parseInt(getComputedStyle(svg.parentNode).zIndex, 10) || 400;
    jobs.push(gisplanImage('data:image/svg+xml;charset=utf-8,' + encodeURIComponent(text))
      .then(function (im) { return [im, r, zi]; }));
  });
  return Promise.all(jobs).then(function (drawn) {
    drawn.sort(function (a, b) { return (a[2] || 0) - (b[2] || 0); });
    drawn.forEach(function (d) {
      if (d[0]) { ctx.drawImage(d[0], d[1].left - cb.left, d[1].top - cb.top, d[1].width, d[1].height); }
    });
    gisplanPngMarkers(ctx, container, cb);
    gisplanPngFurniture(ctx, size, cfg);
    return new Promise(function (resolve) { canvas.toBlob(resolve, 'image/png'); });
  });
}

function gisplanText(ctx, text, x, y, font, colour, halo) {
  ctx.font = font;
  if (halo) { ctx.lineWidth = 3; ctx.strokeStyle = 'rgba(255,255,255,0.9)'; ctx.strokeText(text, x, y); }
  ctx.fillStyle = colour; ctx.fillText(text, x, y);
}

function gisplanPngMarkers(ctx, container, cb) {
  ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
  container.querySelectorAll('.leaflet-marker-icon').forEach(function (el) {
    if (el.classList.contains('gp-hidden')) { return; }
    var span = el.querySelector('.gp-lt');
    if (span) {
      var s = span.getBoundingClientRect(), cs = getComputedStyle(span);
      gisplanText(ctx, span.textContent, s.left - cb.left + s.width / 2, s.top - cb.top + s.height / 2,
                  cs.fontWeight + ' ' + cs.fontSize + ' ' + cs.fontFamily, cs.color, true);
      return;
    }
    var div = el.querySelector('div');
    if (!div) { return; }
    var r = div.getBoundingClientRect(), x = r.left - cb.left + r.width / 2, y = r.top - cb.top + r.height / 2;
    var bg = getComputedStyle(div).backgroundColor, rad = Math.max(r.width, r.height) / 2;
    ctx.beginPath();
    if (el.classList.contains('gp-site')) {
      rad = 12; ctx.moveTo(x, y - rad); ctx.lineTo(x + rad, y); ctx.lineTo(x, y + rad); ctx.lineTo(x - rad, y);
      ctx.closePath();
    } else { ctx.arc(x, y, rad, 0, 2 * Math.PI); }
    ctx.fillStyle = bg; ctx.fill(); ctx.lineWidth = 1.5;
    ctx.strokeStyle = el.classList.contains('gp-site') ? '#111' : '#fff'; ctx.stroke();
    gisplanText(ctx, div.textContent, x, y + 0.5, 'bold 11px sans-serif',
                getComputedStyle(div).color || '#fff', false);
    var year = el.querySelector('.gp-year');
    if (year) {
      var yr = year.getBoundingClientRect();
      gisplanText(ctx, year.textContent, yr.left - cb.left + yr.width / 2, yr.top - cb.top + yr.height / 2,
                  '10px sans-serif', '#333', true);
    }
  });
}

function gisplanPngFurniture(ctx, size, cfg) {
  ctx.textAlign = 'left'; ctx.textBaseline = 'top';
  var font = '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
  var lines = [[cfg.title, '#222'], ['制图日期：' + cfg.date + '　' + document.getElementById('gp-notice').textContent, '#222']];
  var ill = document.querySelector('.gp-illustrative');
  if (ill) { lines.push([ill.textContent, '#c62828']); }
  document.querySelectorAll('#gp-title .gp-note').forEach(function (n) { lines.push([n.textContent, '#222']); });
  ctx.fillStyle = 'rgba(255,255,255,0.92)'; ctx.fillRect(8, 8, Math.min(size.x - 16, 760), 24 + 18 * lines.length);
  lines.forEach(function (line, i) {
    var t = line[0].length > 70 ? line[0].slice(0, 69) + '…' : line[0];
    gisplanText(ctx, t, 16, 14 + (i ? 22 + 18 * (i - 1) : 0), (i ? '12px ' : 'bold 16px ') + font, line[1], false);
  });
  var items = [];
  document.querySelectorAll('#gp-legend .gp-ls:not(.gp-off)').forEach(function (section) {
    var head = section.querySelector('h3');
    if (head) { items.push([null, head.textContent]); }
    section.querySelectorAll('.gp-li:not(.gp-off)').forEach(function (li) {
      var sym = li.querySelector('i, b'), colour = sym ? getComputedStyle(sym).backgroundColor : '';
      items.push([colour, li.textContent.slice(sym ? sym.textContent.length : 0)]);
    });
  });
  var h = 22 + 16 * items.length, w = 380, x0 = size.x - w - 8, y0 = size.y - h - 8;
  ctx.fillStyle = 'rgba(255,255,255,0.92)'; ctx.fillRect(x0, y0, w, h);
  gisplanText(ctx, '图例', x0 + 8, y0 + 4, 'bold 12px ' + font, '#222', false);
  items.forEach(function (it, i) {
    if (it[0] === null) {
      gisplanText(ctx, it[1].slice(0, 36), x0 + 8, y0 + 20 + 16 * i, 'bold 11px ' + font, '#444', false);
      return;
    }
    if (it[0] && it[0] !== 'rgba(0, 0, 0, 0)') {
      ctx.fillStyle = it[0]; ctx.fillRect(x0 + 8, y0 + 22 + 16 * i, 16, 11);
      ctx.strokeStyle = '#777'; ctx.strokeRect(x0 + 8, y0 + 22 + 16 * i, 16, 11);
    }
    gisplanText(ctx, it[1].slice(0, 30), x0 + 30, y0 + 20 + 16 * i, '11px ' + font, '#222', false);
  });
  var bar = document.querySelector('.leaflet-control-scale-line');
  if (bar) {
    var bw = bar.offsetWidth, by = size.y - 22;
    ctx.strokeStyle = '#222'; ctx.lineWidth = 2; ctx.beginPath();
    ctx.moveTo(12, by - 6); ctx.lineTo(12, by); ctx.lineTo(12 + bw, by); ctx.lineTo(12 + bw, by - 6); ctx.stroke();
    gisplanText(ctx, bar.textContent, 16, by - 18, '11px ' + font, '#222', true);
  }
  var nx = 28, ny = 54 + 18 * lines.length;
  ctx.beginPath(); ctx.moveTo(nx, ny); ctx.lineTo(nx + 8, ny + 26); ctx.lineTo(nx, ny + 20); ctx.lineTo(nx - 8, ny + 26);
  ctx.closePath(); ctx.fillStyle = '#222'; ctx.fill();
  gisplanText(ctx, 'N', nx - 4, ny - 16, 'bold 13px sans-serif', '#222', true);
}
