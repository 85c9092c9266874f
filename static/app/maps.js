// The server-rendered Folium maps (/maps/...): tooltips built from data, never from markup.
// Each feature carries its text in properties.tip (descriptions, zone, squad and region names,
// actors); it is shown with textContent, so a name like `${...}` or <img onerror> stays text.
// Folium calls dispatchMaps.textTooltip(feature, layer) for every feature (GeoJson on_each_feature).
"use strict";

window.dispatchMaps = {
  textTooltip(feature, layer) {
    const tip = feature && feature.properties ? feature.properties.tip : null;
    if (tip === null || tip === undefined || tip === "") return;
    layer.bindTooltip(
      () => {
        const box = document.createElement("div");
        box.textContent = String(tip);
        return box;
      },
      { sticky: true },
    );
  },
};
