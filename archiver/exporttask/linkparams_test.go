package exporttask_test

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// A download link is checked as it was made: a parameter of it given twice (…&by=x
// appended) is refused, where the first was checked and the second ignored, so a log or
// a proxy reading the last saw a holder, an organization or an expiry the server did not.
func TestLinkParameterGivenTwiceRefused(t *testing.T) {
	l := exporttask.Links{Key: []byte("k"), Expiry: time.Hour}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	const id = "5f0c0b3e-8a4f-4d7e-9a59-3f3f0e1d2c3b"
	link, _ := l.Make("http://x", acme, id, "tok-1", now)
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Check(id, u.Query(), now); err != nil {
		t.Fatalf("the link as made: %v", err)
	}
	for _, k := range []string{"org", "by", "expires", "nonce", "sig"} {
		q := u.Query()
		q.Add(k, "x")
		if _, _, err := l.Check(id, q, now); !errors.Is(err, exporttask.ErrLinkInvalid) {
			t.Errorf("%s given twice: %v, want ErrLinkInvalid", k, err)
		}
	}
	reliability.Record(t, "security", "download link with one of its parameters given twice", reliability.Refused,
		"403 invalid_link: the link is checked as it was made, not by the first of two values")
}
