package smtp

import (
	"net/smtp"
	"testing"
)

// TestLoginAuthNeverInTheClear: like net/smtp's PlainAuth, LOGIN sends nothing over an
// unencrypted connection to another host, nor to a host other than the one configured.
func TestLoginAuthNeverInTheClear(t *testing.T) {
	for _, tc := range []struct {
		server smtp.ServerInfo
		ok     bool
	}{
		{smtp.ServerInfo{Name: "relay.example", TLS: true}, true},
		{smtp.ServerInfo{Name: "relay.example", TLS: false}, false},
		{smtp.ServerInfo{Name: "other.example", TLS: true}, false},
	} {
		a := &loginAuth{user: "u", pass: "p", host: "relay.example"}
		_, ir, err := a.Start(&tc.server)
		if (err == nil) != tc.ok || ir != nil {
			t.Errorf("%+v: Start error %v, initial response %q; want ok %v and none", tc.server, err, ir, tc.ok)
		}
	}
	a := &loginAuth{user: "u", pass: "p", host: "localhost"}
	if _, _, err := a.Start(&smtp.ServerInfo{Name: "localhost"}); err != nil {
		t.Errorf("localhost in the clear: %v", err)
	}
	for i, want := range []string{"u", "p"} {
		if got, err := a.Next([]byte("prompt"), true); err != nil || string(got) != want {
			t.Errorf("step %d: %q, %v; want %q", i+1, got, err, want)
		}
	}
	if _, err := a.Next([]byte("again?"), true); err == nil {
		t.Error("a third challenge was answered")
	}
}
