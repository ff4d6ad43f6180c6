package archiver

// Summary returns the part of the organization's result that a DayResult keeps until its
// caller is done with it: what the run's summary (its table, quarantine and supersession
// lines), the metrics and the exit code read. Data keeps its size and record count, not
// its key and hashes, and the chat index is dropped: the manifest has them, and
// Options.OrgDone streams them. A day of 50,000 organizations would otherwise hold some
// 1.5 KB each (issue 13) until the run's summary is printed.
func (o OrgResult) Summary() OrgResult {
	o.Data = DataObject{Size: o.Data.Size, Records: o.Data.Records}
	o.ChatIndex = nil
	o.Counts.ByEventType, o.Counts.ByContentType = nil, nil
	if len(o.Counts.Excluded) == 0 {
		o.Counts.Excluded = nil
	}
	return o
}
