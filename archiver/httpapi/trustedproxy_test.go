package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestTrustedProxyClientAddress: behind a reverse proxy every request comes from the
// proxy's address, so the audit named the proxy as the client of every access, and every
// client shared one budget of failed authentications. With http.trustedProxies, a
// request whose peer is a trusted proxy is the X-Forwarded-For client's: the address
// nearest the server, walking the header from its end, that is not a trusted proxy (the
// ones before it are the client's word). Without it, or from a peer that is not trusted,
// the header is ignored, so that no client can name its own address.
func TestTrustedProxyClientAddress(t *testing.T) {
	// httptest's clients connect from 127.0.0.1: the proxy.
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
	clientOf := func(t *testing.T, proxies []netip.Prefix, xff ...string) string {
		t.Helper()
		var srv *httpapi.Server
		f := newFixture(t, func(s *httpapi.Server) { srv, s.TrustedProxies = s, proxies })
		req, _ := http.NewRequest("POST", f.url+"/messageevent.export", strings.NewReader(date(sample)))
		req.Header.Set("Authorization", "Bearer "+f.tokens["acme"])
		for _, v := range xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("export: %d", resp.StatusCode)
		}
		// The handler appends its record after the last byte: wait for it to return.
		if n, err := srv.Drain(context.Background()); n != 0 || err != nil {
			t.Fatal(n, err)
		}
		flushAudit(t, f.audit)
		var clients []string
		day := mustDay(t, sample)
		if err := f.audit.List(context.Background(), acme, day, day.Next().Next(), func(r audit.Record) error {
			clients = append(clients, r.Client)
			return nil
		}); err != nil || len(clients) != 1 {
			t.Fatalf("audit: %q (%v), want one record", clients, err)
		}
		return clients[0]
	}
	for _, tc := range []struct {
		name    string
		proxies []netip.Prefix
		xff     []string
		want    string
	}{
		{"the proxy names the client", trusted, []string{"203.0.113.9"}, "203.0.113.9"},
		{"the client's own entries are not believed", trusted, []string{"198.51.100.7, 203.0.113.9"}, "203.0.113.9"},
		{"an inner trusted proxy is passed over", trusted, []string{"198.51.100.7, 203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
		{"over several header lines", trusted, []string{"198.51.100.7", "203.0.113.9:4711", "10.1.2.3"}, "203.0.113.9"},
		{"an IPv4-mapped IPv6 address", trusted, []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"a hop that is no address stops the walk", trusted, []string{"203.0.113.9, unknown"}, "127.0.0.1"},
		{"no header", trusted, nil, "127.0.0.1"},
		{"no trusted proxy: the header is the client's word", nil, []string{"203.0.113.9"}, "127.0.0.1"},
		{"a peer that is not trusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, []string{"203.0.113.9"}, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := clientOf(t, tc.proxies, tc.xff...); got != tc.want {
				t.Fatalf("audit client %q, want %q", got, tc.want)
			}
		})
	}

	// The failed-authentication budget is each client's, not the proxy's: one guesser
	// behind the proxy does not lock the others out.
	f := newFixture(t, func(s *httpapi.Server) { s.TrustedProxies, s.AuthFailures = trusted, 2 })
	guess := func(from string) int {
		req, _ := http.NewRequest("POST", f.url+"/messageevent.export", strings.NewReader(date(sample)))
		req.Header.Set("Authorization", "Bearer cvt_not-a-token")
		req.Header.Set("X-Forwarded-For", from)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, want := range []int{401, 401, 429} {
		if got := guess("203.0.113.9"); got != want {
			t.Fatalf("guess %d from 203.0.113.9: %d, want %d", i+1, got, want)
		}
	}
	if got := guess("198.51.100.7"); got != 401 {
		t.Fatalf("another client behind the proxy: %d, want 401 (its own budget)", got)
	}

	reliability.Record(t, "security", "clients behind a trusted proxy; forged X-Forwarded-For entries", reliability.Kept,
		"audit and per-address limits see the nearest untrusted X-Forwarded-For hop; the client's own entries and untrusted peers' headers ignored")
}
