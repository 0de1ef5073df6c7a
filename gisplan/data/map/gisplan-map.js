/* gisplan map helpers: one overlay from a GeoJSON FeatureCollection whose properties carry pre-escaped
   popup (_p) and tooltip (_t) HTML and an optional style (_s). Points become DivIcon markers, clustered
   when o.cluster is set. Loaded after leaflet.js and leaflet.markercluster.js. */
function gisplanLayer(data, o) {
  var layer = L.geoJSON(data, {
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
  });
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
