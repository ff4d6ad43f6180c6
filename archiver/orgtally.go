package archiver

// orgTally is an organization's OrgCounts by type, without maps: what its commit keeps
// from staging until its manifest is written. Three small maps cost some 700 bytes of heap
// per organization, and a day of 50,000 organizations keeps every commit until it is done
// (issue 13); two arrays indexed like eventTypes and contentTypes cost 72.
type orgTally struct {
	byEventType   [len(eventTypes)]int64
	byContentType [len(contentTypes)]int64
}

// pack moves c's counts by type into t and drops c's maps (Excluded too when empty): what
// is left of c is its numbers and, if any, its exclusions.
func (t *orgTally) pack(c *OrgCounts) {
	for i, name := range eventTypes {
		t.byEventType[i] = c.ByEventType[name]
	}
	for i, name := range contentTypes {
		t.byContentType[i] = c.ByContentType[name]
	}
	c.ByEventType, c.ByContentType = nil, nil
	if len(c.Excluded) == 0 {
		c.Excluded = nil
	}
}

// unpack returns c with its maps as pack found them: only the types counted, an empty
// Excluded as {} (the manifest's bytes do not change).
func (t *orgTally) unpack(c OrgCounts) OrgCounts {
	out := c
	out.ByEventType = make(map[string]int64, len(eventTypes))
	for i, n := range t.byEventType {
		if n != 0 {
			out.ByEventType[eventTypes[i]] = n
		}
	}
	out.ByContentType = make(map[string]int64, len(contentTypes))
	for i, n := range t.byContentType {
		if n != 0 {
			out.ByContentType[contentTypes[i]] = n
		}
	}
	if out.Excluded == nil {
		out.Excluded = map[string]int64{}
	}
	return out
}
