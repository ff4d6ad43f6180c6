package attach

import "testing"

func TestEncodingSuffix(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"identity", ""},
		{"gzip", ".gz"},
		{"x-gzip", ".gz"},
		{"gzip, br", ".gz.br"},
		{"zstd", ".zst"},
		{"deflate", ".zz"},
		{"aes128gcm", ".aes128gcm"},
		{`"bad/value"`, ".encoded"},
	} {
		if got := EncodingSuffix(tt.in); got != tt.want {
			t.Errorf("EncodingSuffix(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
