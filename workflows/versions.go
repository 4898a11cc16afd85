package workflows

import "go.temporal.io/sdk/workflow"

// versionBaseline is the change id that stands for every change before it
// (from versionLocalDB to versionOptOutCorrection, and versionKeepAudits):
// a run that records it takes them all without a marker each. Each
// GetVersion marker comes with an upsert of the TemporalChangeVersion
// search attribute, so a new request's history loses 26 events: the
// history a worker reads and replays whenever its cache has let the run go
// (a burst of timers on more open requests than it caches) and the
// visibility writes Temporal makes at every start. Runs started before it
// keep their markers and replay as they did. Changes after it get their
// own GetVersion, chained after it.
const versionBaseline = "baseline-2026-12"

// takeVersions sets which changes this run has: all of the baseline's, or,
// on a run started before it, those its history recorded, each chained
// after the one before.
func (r *run) takeVersions(ctx workflow.Context) {
	if workflow.GetVersion(ctx, versionBaseline, workflow.DefaultVersion, 1) == 1 {
		r.baseline = true
		r.localDB, r.durable, r.seedFlow, r.fulfil, r.checkActors, r.appeals = true, true, true, true, true, true
		r.connectors, r.records, r.clocks, r.sourceWatch = true, true, true, true
		r.optOutAccepted, r.oneWrite, r.optOutCorrection = true, true, true
		return
	}
	// Version 1 of versionLocalDB runs the database activities as local
	// activities: the same code, run by the worker inside the workflow
	// task, so a burst of timers costs Temporal one task per event instead
	// of one per write.
	r.localDB = has(ctx, versionLocalDB)
	r.durable = has(ctx, versionDurable)
	r.seedFlow = r.durable && has(ctx, versionSeedFlow)
	r.fulfil = r.seedFlow && has(ctx, versionFulfilment)
	r.checkActors = r.fulfil && has(ctx, versionActorCheck)
	r.appeals = r.checkActors && has(ctx, versionAppeals)
	r.connectors = r.appeals && has(ctx, versionConnectors)
	r.records = r.connectors && has(ctx, versionRecords)
	r.clocks = r.records && has(ctx, versionClocks)
	r.sourceWatch = r.clocks && has(ctx, versionSourceWatch)
	r.optOutAccepted = r.sourceWatch && has(ctx, versionOptOutAccepted)
	r.oneWrite = r.sourceWatch && has(ctx, versionOneWrite)
	r.optOutCorrection = r.optOutAccepted && has(ctx, versionOptOutCorrection)
}

// has reports whether the run has the change: version 1 of changeID,
// recorded now on a new run or found in the history on a replay.
func has(ctx workflow.Context, changeID string) bool {
	return workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, 1) == 1
}
