package archiver

// SealTargets returns the ids of the organizations a seal of day with dir commits (as the
// seal's router picks them): those archiving on that day, of shard's when sharded, only
// only when it is set. A caller whose seal failed as a whole records the failure for each
// (RecordFailure), as the writer does for one organization whose commit failed.
func SealTargets(dir *Directory, day Day, only string, shard Shard) []string {
	var ids []string
	for _, o := range dir.Organizations {
		if !o.Archival || (o.ArchivalStart != "" && o.ArchivalStart > day.String()) || !safeID.MatchString(o.ID) {
			continue
		}
		if (only != "" && o.ID != only) || (shard.Sharded() && ShardOf(o.ID, shard.Count) != shard.Index) {
			continue
		}
		ids = append(ids, o.ID)
	}
	return ids
}
