// Package scheduler is the nightly run of `chatvault serve`: on every tick of a cron
// schedule (github.com/robfig/cron/v3 syntax, UTC unless CRON_TZ= says otherwise) it seals,
// for every archiving organization, every closed day that is not sealed yet, oldest first
// from the organization's archivalStart. After downtime it catches up by itself. Which
// days are sealed comes from one listing per organization (ledger.Ledger.ListDays),
// not a lookup per day: the first tick lists each organization's days from its start;
// later ticks list only the days after its last sealed day and look up the gaps before
// it they remember (dayIndex), so a tick costs one request per organization whatever the
// archive's age. A day left pending shortly after its end is tried again every
// RetryInterval, not the next night.
//
// A process never runs two ticks at once (a tick that comes while one runs is skipped),
// and replicas coordinate through a lease in the store (see Lease): since the store is
// create-only, the lease is a numbered chain of small objects, each claiming the run until
// an expiry.
//
// The loop runs on a Clock, so tests drive it through midnights without sleeping.
package scheduler
