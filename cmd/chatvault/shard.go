package main

import (
	"github.com/chatvault/chatvault/archiver"
	"github.com/spf13/pflag"
)

// shardFlag reads run's --shard I/N (archiver/shard.go). A shard seals a day or a range
// given by date: the catch-up decides which days are due with the store's lease, which
// shards running at once would take from each other, and a shard of one organization is
// no shard at all.
func shardFlag(fs *pflag.FlagSet, catchUp bool, org string) (archiver.Shard, error) {
	v, _ := fs.GetString("shard")
	if v == "" {
		// Given empty, it is a template whose variable was unset (--shard "$SHARD"): run
		// unsharded, each pod would seal every shard's organizations.
		if fs.Changed("shard") {
			return archiver.Shard{}, usagef("--shard is given but empty (an unset variable?): give I/N with 0 <= I < N, or leave --shard out to seal every organization")
		}
		return archiver.Shard{}, nil
	}
	shard, err := archiver.ParseShard(v)
	if err != nil {
		return archiver.Shard{}, usagef("--shard: %v", err)
	}
	switch {
	case catchUp:
		return archiver.Shard{}, usagef("--shard needs --date D (for example --date yesterday) or --from D --to D: every shard must seal the same days")
	case org != "":
		return archiver.Shard{}, usagef("--shard and --org exclude each other")
	}
	return shard, nil
}
