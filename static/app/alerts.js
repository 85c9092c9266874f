// Alerts: the open list, a badge, a sound for critical ones, acknowledge (GET /api/v1/alerts, `alert` updates).
// command.js calls init({map, state, select}), snapshot(snapshot), update(update).

export function init() {}

export function snapshot() {}

export function update() {}
