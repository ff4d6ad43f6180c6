package config

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// sizeUnits maps a lower-cased unit to its multiplier. Binary units (KiB, Ki) are powers of
// 1024 and decimal ones (KB) powers of 1000, as in IEC and Kubernetes. A bare "K", "M" or
// "G" is refused: half the world reads it as 1000 and the other half as 1024.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "pb": 1e15, "eb": 1e18,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "pib": 1 << 50, "eib": 1 << 60,
	"ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30, "ti": 1 << 40, "pi": 1 << 50, "ei": 1 << 60,
}

// formatUnits are the units FormatSize picks from, largest first.
var formatUnits = []struct {
	name string
	n    uint64
}{
	{"EiB", 1 << 60}, {"PiB", 1 << 50}, {"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
}

// ParseSize parses a byte size: a non-negative number, optionally with a fraction, and a
// unit: B (or none) for bytes, KiB MiB GiB TiB PiB EiB (also Ki, Mi, …) for powers of 1024,
// KB MB GB TB PB EB for powers of 1000. Units are case-insensitive and may follow a space.
// A fraction is allowed ("1.5GiB") and the result is rounded down to a whole byte.
func ParseSize(s string) (int64, error) {
	bad := func(why string) (int64, error) {
		return 0, fmt.Errorf("%q is not a size (%s)", s, why)
	}
	t := strings.TrimSpace(s)
	end := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end < 0 {
		end = len(t)
	}
	num, unit := t[:end], strings.ToLower(strings.TrimSpace(t[end:]))
	whole, frac, _ := strings.Cut(num, ".")
	if whole == "" && frac == "" || strings.Contains(frac, ".") {
		return bad("use units like 64MiB")
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		switch unit {
		case "k", "m", "g", "t", "p", "e":
			return bad(fmt.Sprintf("%s is ambiguous: use %sB for powers of 1000 or %siB for powers of 1024",
				strings.ToUpper(unit), strings.ToUpper(unit), strings.ToUpper(unit)))
		}
		return bad("use units like 64MiB")
	}
	// Exact arithmetic: float64 would turn 1.1MiB into one byte less on some inputs and
	// would silently lose precision above 2^53.
	n, ok := new(big.Int).SetString(whole+frac, 10)
	if !ok {
		return bad("use units like 64MiB")
	}
	n.Mul(n, big.NewInt(mult))
	n.Quo(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil))
	if !n.IsInt64() {
		return bad("too large")
	}
	return n.Int64(), nil
}

// FormatSize formats n in the largest binary unit that divides it exactly, or in bytes, so
// that ParseSize(FormatSize(n)) == n: 268435456 is "256MiB", 1000 is "1000B".
func FormatSize(n int64) string {
	sign, u := "", uint64(n)
	if n < 0 {
		sign, u = "-", uint64(-(n+1))+1 // -(n+1)+1 avoids overflowing on math.MinInt64
	}
	if u != 0 {
		for _, fu := range formatUnits {
			if u%fu.n == 0 {
				return sign + strconv.FormatUint(u/fu.n, 10) + fu.name
			}
		}
	}
	return sign + strconv.FormatUint(u, 10) + "B"
}
