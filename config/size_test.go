package config

import (
	"math"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string // substring of the error; "" means success
	}{
		{"0", 0, ""},
		{"1048576", 1 << 20, ""},
		{"512B", 512, ""},
		{"4KiB", 4 << 10, ""},
		{"256MiB", 256 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"2TiB", 2 << 40, ""},
		{"1PiB", 1 << 50, ""},
		{"1EiB", 1 << 60, ""},
		{"64Mi", 64 << 20, ""},
		{"1Gi", 1 << 30, ""},
		{"1KB", 1000, ""},
		{"5MB", 5_000_000, ""},
		{"2GB", 2_000_000_000, ""},
		{"1TB", 1_000_000_000_000, ""},
		{"256mib", 256 << 20, ""},
		{"256 MiB", 256 << 20, ""},
		{"  64KiB  ", 64 << 10, ""},
		{"1.5GiB", 3 << 29, ""},
		{"0.5KiB", 512, ""},
		{".5KiB", 512, ""},
		{"1.1KiB", 1126, ""}, // 1126.4, rounded down
		{"2.5KB", 2500, ""},
		{"7EiB", 7 << 60, ""},
		{"", 0, "not a size"},
		{"MiB", 0, "not a size"},
		{"12XB", 0, "use units like 64MiB"},
		{"-1MiB", 0, "not a size"},
		{"+1MiB", 0, "not a size"},
		{"1..5MiB", 0, "not a size"},
		{"1.2.3MiB", 0, "not a size"},
		{"1e6", 0, "not a size"},
		{"10M", 0, "ambiguous"},
		{"1g", 0, "ambiguous"},
		{"8EiB", 0, "too large"},
		{"99999999999999999999", 0, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSize(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1000, "1000B"},
		{1024, "1KiB"},
		{64 << 10, "64KiB"},
		{1536, "1536B"}, // 1.5KiB is not a whole KiB
		{256 << 20, "256MiB"},
		{3 << 29, "1536MiB"},
		{1 << 30, "1GiB"},
		{1<<30 + 1, "1073741825B"},
		{1 << 60, "1EiB"},
		{-1 << 20, "-1MiB"},
		{math.MaxInt64, "9223372036854775807B"},
		{math.MinInt64, "-8EiB"},
	}
	for _, tt := range tests {
		got := FormatSize(tt.in)
		if got != tt.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tt.in, got, tt.want)
		}
		if tt.in < 0 {
			continue
		}
		if back, err := ParseSize(got); err != nil || back != tt.in {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v; want it back", tt.in, back, err)
		}
	}
}
