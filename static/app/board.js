// The squad board: every squad with status, since when, current task, position age, zone, officers on duty;
// filter, sort, kept live. command.js calls init({map, state, select}), snapshot(snapshot), update(update).

export function init() {}

export function snapshot() {}

export function update() {}
