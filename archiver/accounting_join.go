package archiver

// Equal reports whether c and o count the day's lines alike (an absent reason is 0).
func (c InputCounts) Equal(o InputCounts) bool {
	if c.Read != o.Read || c.Exported != o.Exported || c.Duplicates != o.Duplicates || c.Quarantined != o.Quarantined {
		return false
	}
	for k, v := range c.Excluded {
		if o.Excluded[k] != v {
			return false
		}
	}
	for k, v := range o.Excluded {
		if c.Excluded[k] != v {
			return false
		}
	}
	return true
}
