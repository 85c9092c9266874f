// Live 1+X coverage: townships shaded when uncovered (GET /api/v1/coverage, `coverage` updates).
// command.js calls init({map, state, select}), snapshot(snapshot), update(update), planChanged(plan).

export function init() {}

export function snapshot() {}

export function update() {}
