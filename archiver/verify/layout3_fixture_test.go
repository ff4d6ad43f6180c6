package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// The layout-3 fixtures: a store sealed by the real sealer (layout 2), whose days from one
// on are then moved to layout 3 as the layout-3 writer stores them (docs/design/layout.md):
// each manifest re-encoded as version 3 under its day key (previousKey, the export under
// d/, no export for a day without records, the chat index inline with its members in a
// members object), re-signed, the chain re-linked and the day's accounting objects
// re-signed with the new hashes. Days before it stay as sealed: an old chain continued in
// layout 3 (a mixed store); from the first day on, a store in layout 3 only.

// toLayout3 moves every organization's manifests of a.days[from:] to layout 3 and writes
// the store's layout marker.
func (a *archive) toLayout3(t *testing.T, from int) {
	t.Helper()
	ctx := context.Background()
	l := ledger.Ledger{Store: a.store}
	since := a.days[from]
	if _, err := archiver.WriteStoreLayout(ctx, a.store, since); err != nil { // as the layout-3 writer does
		t.Fatal(err)
	}
	renamed := map[string]string{} // org/seq → the manifest's new SHA-256
	for _, org := range a.orgs(t) {
		prevKey, prevSum := "", ""
		for seq := int64(1); ; seq++ {
			key := archiver.ChainKey(org, seq)
			m, err := l.ReadManifest(ctx, key)
			if errors.Is(err, archiver.ErrNotFound) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			day, _ := archiver.ParseDay(m.Date)
			if day.Before(since) {
				prevKey, prevSum = key, hexSum(m.SHA256)
				continue
			}
			m3 := a.manifest3(t, m, day, prevKey, prevSum)
			b := a.sign(t, m3)
			k3 := archiver.DayKey3(org, day, m.Revision)
			a.create(t, k3, b)
			remove(t, a.root, key)
			remove(t, a.root, archiver.DayPrefix(org, day))
			prevKey, prevSum = k3, hexSum(sha256.Sum256(b))
			renamed[fmt.Sprintf("%s/%d", org, seq)] = prevSum
		}
	}
	a.reaccount(t, renamed)
}

// manifest3 is m (of day) as a version 3 manifest after the manifest stored at prevKey,
// whose SHA-256 is prevSum, with its objects copied to layout 3.
func (a *archive) manifest3(t *testing.T, m *archiver.StoredManifest, day archiver.Day, prevKey, prevSum string) *archiver.Manifest {
	t.Helper()
	ctx := context.Background()
	m3 := *m.Manifest
	m3.Version = archiver.ManifestVersion3
	m3.Previous, m3.PreviousKey = prevSum, prevKey
	org := m.Org
	if m.Data.Records == 0 {
		m3.Data = archiver.DataObject{JSONLSHA256: archiver.EmptySHA256}
	} else {
		b := a.read(t, m.Data.Key)
		m3.Data.Key = archiver.DataKey3(org, day, sha256.Sum256(b))
		m3.Data.VersionID = ""
		a.create(t, m3.Data.Key, b)
	}
	if q := m.Quarantined; q != nil {
		b := a.read(t, q.Key)
		nq := *q
		nq.Key, nq.VersionID = archiver.DayPrefix3(org, day)+"quarantine-"+hexSum(sha256.Sum256(b))+".jsonl.gz", ""
		a.create(t, nq.Key, b)
		m3.Quarantined = &nq
	}
	if m.ChatIndex != nil {
		x, err := ledger.Ledger{Store: a.store}.ReadChatIndex(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		members := x.Members
		if members == nil {
			members = []archiver.ChatMembers{}
		}
		mo, err := json.Marshal(archiver.MembersObject{Version: archiver.MembersObjectVersion, Org: org, Year: day.Start().Year(), Members: members})
		if err != nil {
			t.Fatal(err)
		}
		mo = append(mo, '\n')
		mk := archiver.MembersKey(org, day.Start().Year(), sha256.Sum256(mo))
		if _, err := a.store.Open(ctx, mk); err != nil {
			a.create(t, mk, mo)
		}
		sum := sha256.Sum256(mo)
		m3.ChatIndex = &archiver.ChatIndexRef{Inline: &archiver.InlineChatIndex{Version: archiver.InlineChatIndexVersion,
			Chats: x.Chats, Participants: x.Participants, MembershipChanges: x.MembershipChanges,
			Members: archiver.MembersRef{Key: mk, Size: int64(len(mo)), SHA256: hex.EncodeToString(sum[:]), MembersAt: m.ChatIndex.MembersAt}}}
	}
	return &m3
}

// sign signs m with a's key and returns its stored bytes.
func (a *archive) sign(t *testing.T, m *archiver.Manifest) []byte {
	t.Helper()
	m.Signature = nil
	body := encode(t, m)
	m.Signature = archiver.SignBody(a.key, body)
	return encode(t, m)
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// reaccount rewrites the accounting objects that name a manifest renamed (org/seq → its
// new SHA-256), re-signed, under their new keys.
func (a *archive) reaccount(t *testing.T, renamed map[string]string) {
	t.Helper()
	ctx := context.Background()
	l := ledger.Ledger{Store: a.store}
	keys, err := listKeys(ctx, a.store, archiver.AccountingPrefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		st, err := l.ReadAccounting(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		acc := *st.Accounting
		acc.Manifests = slices.Clone(acc.Manifests)
		changed := false
		for i, am := range acc.Manifests {
			if sum, ok := renamed[fmt.Sprintf("%s/%d", am.Org, am.Seq)]; ok {
				acc.Manifests[i].SHA256, changed = sum, true
			}
		}
		if !changed {
			continue
		}
		acc.Signature = nil
		acc.Signature = archiver.SignBody(a.key, encode(t, &acc))
		b := encode(t, &acc)
		day, n, _, _ := archiver.ParseAccountingKey(key)
		remove(t, a.root, key)
		a.create(t, fmt.Sprintf("%s%s/%06d-%s.json", archiver.AccountingPrefix, day, n, hexSum(sha256.Sum256(b))), b)
	}
}

// lateRevision commits, in layout 3, revision 2 of a.days[i] for org with the records of
// revision 1, after the chain's head: a late commit (its key sorts before the tip), with
// its copy under late/. It returns the day key.
func (a *archive) lateRevision(t *testing.T, org string, i int) string {
	t.Helper()
	ctx := context.Background()
	l := ledger.Ledger{Store: a.store}
	day := a.days[i]
	head := a.head(t, org)
	r1, err := l.ReadManifest(ctx, archiver.DayKey3(org, day, 1))
	if errors.Is(err, archiver.ErrNotFound) {
		// A late revision of an old-layout day: its objects in layout 3.
		if r1, err = l.ReadManifest(ctx, archiver.RevisionKey(org, day, 1)); err == nil {
			r1 = &archiver.StoredManifest{Manifest: a.manifest3(t, r1, day, head.Key, hexSum(head.SHA256)), Key: r1.Key}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	m := *r1.Manifest
	m.Revision, m.Seq, m.Late = 2, head.Seq+1, true
	m.Previous, m.PreviousKey = hexSum(head.SHA256), head.Key
	b := a.sign(t, &m)
	a.create(t, archiver.LateKey(org, m.Seq), b)
	key := archiver.DayKey3(org, day, 2)
	a.create(t, key, b)
	a.account(t, day, org, m.Seq, m.Revision, b)
	return key
}

// account writes the accounting object of a run of day that committed org's manifest
// seq, revision rev (stored bytes b): the day's latest one, numbered after it, naming
// that manifest only.
func (a *archive) account(t *testing.T, day archiver.Day, org string, seq int64, rev int, b []byte) {
	t.Helper()
	ctx := context.Background()
	keys := a.keysUnder(t, archiver.AccountingPrefix+day.String()+"/")
	if len(keys) == 0 {
		t.Fatalf("%s: no accounting object", day)
	}
	st, err := ledger.Ledger{Store: a.store}.ReadAccounting(ctx, keys[len(keys)-1])
	if err != nil {
		t.Fatal(err)
	}
	_, n, _, _ := archiver.ParseAccountingKey(keys[len(keys)-1])
	acc := *st.Accounting
	acc.Manifests = []archiver.AccountedManifest{{Org: org, Seq: seq, Revision: rev, Outcome: archiver.OutcomeCommitted, SHA256: hexSum(sha256.Sum256(b))}}
	acc.Signature = nil
	acc.Signature = archiver.SignBody(a.key, encode(t, &acc))
	ab := encode(t, &acc)
	a.create(t, fmt.Sprintf("%s%s/%06d-%s.json", archiver.AccountingPrefix, day, n+1, hexSum(sha256.Sum256(ab))), ab)
}

// head is org's manifest with the greatest seq, read from its layout-3 keys and its old
// chain.
func (a *archive) head(t *testing.T, org string) *archiver.StoredManifest {
	t.Helper()
	ctx := context.Background()
	l := ledger.Ledger{Store: a.store}
	var head *archiver.StoredManifest
	keys, err := listKeys(ctx, a.store, "orgs/"+org+"/")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, ok := manifestKey(org, k); !ok {
			continue
		}
		m, err := l.ReadManifest(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if head == nil || m.Seq > head.Seq {
			head = m
		}
	}
	if head == nil {
		t.Fatalf("%s: no manifest", org)
	}
	return head
}

// orgs are the organizations with a folder in a's store.
func (a *archive) orgs(t *testing.T) []string {
	t.Helper()
	keys, err := listKeys(context.Background(), a.store, "orgs/")
	if err != nil {
		t.Fatal(err)
	}
	var orgs []string
	for _, k := range keys {
		o, _, _ := strings.Cut(strings.TrimPrefix(k, "orgs/"), "/")
		if len(orgs) == 0 || orgs[len(orgs)-1] != o {
			orgs = append(orgs, o)
		}
	}
	return orgs
}

func (a *archive) read(t *testing.T, key string) []byte {
	t.Helper()
	b, err := archiver.ReadAll(context.Background(), a.store, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (a *archive) create(t *testing.T, key string, b []byte) {
	t.Helper()
	if err := a.store.Create(context.Background(), key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
		t.Fatalf("create %s: %v", key, err)
	}
}

// keysUnder lists a's keys under prefix (a folder or a name prefix).
func (a *archive) keysUnder(t *testing.T, prefix string) []string {
	t.Helper()
	keys, err := listKeys(context.Background(), a.store, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
