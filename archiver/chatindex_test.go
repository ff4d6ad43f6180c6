package archiver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/synth"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// TestChatIndex: each sealed organization-day names a chat index whose chats,
// participants and membership changes are those of its records, and whose members are
// the organization's chats in the directory; verify re-derives the first three from the
// records and refuses an index that differs, even one whose hash the manifest records.
func TestChatIndex(t *testing.T) {
	f := newFixture(t, sampleLog)
	res := f.seal(t, sampleDay, archiver.Options{Layout: archiver.Layout2})
	lg := ledger.Ledger{Store: f.store}
	dir, err := model.ParseDirectory(f.directory)
	if err != nil {
		t.Fatal(err)
	}
	orgOf := map[string]string{}
	for _, u := range dir.Users {
		orgOf[u.ID] = u.OrgID
	}
	for _, o := range res.Orgs {
		jsonl, m := f.export(t, o.Org, sampleDay)
		if m.ChatIndex == nil || o.ChatIndex == nil || !reflect.DeepEqual(m.ChatIndex, o.ChatIndex) {
			t.Fatalf("%s: manifest names chat index %+v, result %+v", o.Name, m.ChatIndex, o.ChatIndex)
		}
		if m.ChatIndex.MembersTime() != fixedClock().UnixMilli() {
			t.Errorf("%s: membersAt %d, want the seal's start %d", o.Name, m.ChatIndex.MembersTime(), fixedClock().UnixMilli())
		}
		x, err := lg.ReadChatIndex(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		chats, people := map[string]bool{}, map[string]bool{}
		changes := 0
		for line := range bytes.Lines(jsonl) {
			e, err := model.Decode(bytes.TrimSuffix(line, []byte("\n")))
			if err != nil {
				t.Fatal(err)
			}
			chats[e.ChatID], people[e.Sender.ID] = true, true
			if e.ContentType == model.ContentMembersChanged && e.HasContent {
				changes++
				for _, p := range slices.Concat(e.Content.Added, e.Content.Removed) {
					people[p.ID] = true
				}
			}
		}
		keys := func(m map[string]bool) []string {
			var out []string
			for k := range m {
				out = append(out, k)
			}
			slices.Sort(out)
			return out
		}
		if !slices.Equal(x.Chats, keys(chats)) || !slices.Equal(x.Participants, keys(people)) || len(x.MembershipChanges) != changes {
			t.Errorf("%s: index %+v; records hold chats %v, participants %v, %d membership changes", o.Name, x, keys(chats), keys(people), changes)
		}
		var want []archiver.ChatMembers
		for _, c := range dir.Chats {
			if slices.ContainsFunc(c.Members, func(id string) bool { return orgOf[id] == o.Org }) {
				members := slices.Clone(c.Members)
				slices.Sort(members)
				want = append(want, archiver.ChatMembers{ChatID: c.ID, Members: slices.Compact(members)})
			}
		}
		slices.SortFunc(want, func(a, b archiver.ChatMembers) int { return strings.Compare(a.ChatID, b.ChatID) })
		if len(want) == 0 || !slices.EqualFunc(x.Members, want, func(a, b archiver.ChatMembers) bool {
			return a.ChatID == b.ChatID && slices.Equal(a.Members, b.Members)
		}) {
			t.Errorf("%s: members %+v, want %+v", o.Name, x.Members, want)
		}
	}
	// A forged index: a chat dropped, the manifest rewritten to name the forgery's hash
	// (an unsigned store: whoever can write can do this). Verify re-derives the chats from
	// the records and refuses it.
	m, err := lg.Latest(context.Background(), acme, sampleDay)
	if err != nil {
		t.Fatal(err)
	}
	x, err := lg.ReadChatIndex(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	forged := bytes.Replace(mustRead(t, f.storeDir, m.ChatIndex.Key), []byte(`"chats":["`+x.Chats[0]+`",`), []byte(`"chats":[`), 1)
	if len(forged) == int(m.ChatIndex.Size) {
		t.Fatal("forgery did not change the index")
	}
	sum := sha256.Sum256(forged)
	// The key is named by the hash too.
	manifest := bytes.ReplaceAll(m.Bytes, []byte(m.ChatIndex.SHA256), []byte(hex.EncodeToString(sum[:])))
	manifest = bytes.Replace(manifest, []byte(`"size": `+itoa(m.ChatIndex.Size)+`,`), []byte(`"size": `+itoa(int64(len(forged)))+`,`), 1)
	for _, key := range []string{m.Key, "orgs/" + acme + "/manifests/000000000001.json"} {
		writeFile(t, filepath.Join(f.storeDir, filepath.FromSlash(key)), manifest)
	}
	forgedKey := strings.ReplaceAll(m.ChatIndex.Key, m.ChatIndex.SHA256, hex.EncodeToString(sum[:]))
	if err := os.WriteFile(filepath.Join(f.storeDir, filepath.FromSlash(forgedKey)), forged, 0o444); err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Run(context.Background(), lg, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, "chats are not those of the day's records") }) {
		t.Fatalf("verify of a forged chat index: problems %v", rep.Problems)
	}
	reliability.Record(t, "security", "chat index rewritten with its manifest's hash to match", reliability.CleanFailure,
		"verify reports it: it re-derives the index's chats, participants and membership changes from the day's records")
}

func mustRead(t *testing.T, root, key string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestChatIndexFastPath: the seal reads most records' chat and sender from the canonical
// layout without decoding them; over a generated day (escapes, Unicode, bots, guests,
// membership changes) and ids with escapes, it finds what decoding every record finds.
func TestChatIndexFastPath(t *testing.T) {
	logDir := t.TempDir()
	st, err := synth.Generate(context.Background(), logDir, synth.Options{Day: sampleDay, Events: 20_000, Orgs: 5, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	var lines []byte
	for _, f := range st.Files {
		b, err := os.ReadFile(filepath.Join(logDir, f))
		if err != nil {
			t.Fatal(err)
		}
		for raw := range bytes.Lines(b) {
			if e, err := model.Decode(bytes.TrimSuffix(raw, []byte("\n"))); err == nil {
				lines = append(model.AppendJSON(lines, &e), '\n')
			}
		}
	}
	for _, odd := range []model.Event{
		{EventType: model.EventSent, ChatID: `chat "quoted" \ back`, Timestamp: 1, EventTimestamp: 1, MessageID: "m1",
			Sender:      model.Participant{Type: model.ParticipantOccupant, ID: `o-"x",\"sender\"`, DisplayName: `,"sender":{"participantType":"email","id":"forged"`},
			ContentType: model.ContentText, HasContent: true, Content: model.Content{Type: model.ContentText, Text: `,"contentType":"membersChanged"`}},
	} {
		lines = append(model.AppendJSON(lines, &odd), '\n')
	}
	chats, people, changes, err := archiver.ChatIndexOfLines(lines)
	if err != nil {
		t.Fatal(err)
	}
	wantChats, wantPeople, wantChanges := map[string]bool{}, map[string]bool{}, 0
	for raw := range bytes.Lines(lines) {
		e, err := model.Decode(bytes.TrimSuffix(raw, []byte("\n")))
		if err != nil {
			t.Fatal(err)
		}
		wantChats[e.ChatID], wantPeople[e.Sender.ID] = true, true
		if e.ContentType == model.ContentMembersChanged && e.HasContent {
			wantChanges++
			for _, p := range slices.Concat(e.Content.Added, e.Content.Removed) {
				wantPeople[p.ID] = true
			}
		}
	}
	sorted := func(m map[string]bool) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(chats, sorted(wantChats)) || !slices.Equal(people, sorted(wantPeople)) || changes != wantChanges || wantChanges == 0 {
		t.Fatalf("fast path: %d chats, %d participants, %d changes; decoding: %d, %d, %d",
			len(chats), len(people), changes, len(wantChats), len(wantPeople), wantChanges)
	}
}

// TestChatIndexFieldsReadsHead: the chat index finds a record's chat and sender from the
// head of its canonical line, up to its content type, and never reads its content (most of
// its bytes): the seal did a search of the whole line per record for a membership change,
// 7% of a 1M-event run's CPU. The result on the line cut at the bytes read must be the
// same as on the whole line, and no record's content may be read.
func TestChatIndexFieldsReadsHead(t *testing.T) {
	logDir := t.TempDir()
	st, err := synth.Generate(context.Background(), logDir, synth.Options{Day: sampleDay, Events: 5_000, Orgs: 3, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	var total, read, fast, changes int
	for _, f := range st.Files {
		b, err := os.ReadFile(filepath.Join(logDir, f))
		if err != nil {
			t.Fatal(err)
		}
		for raw := range bytes.Lines(b) {
			e, err := model.Decode(bytes.TrimSuffix(raw, []byte("\n")))
			if err != nil {
				continue
			}
			line := model.AppendJSON(nil, &e)
			total += len(line)
			chat, sender, n, ok := archiver.ChatIndexFields(line)
			if e.ContentType == model.ContentMembersChanged {
				changes++
				if ok {
					t.Fatalf("a membership change took the fast path: %s", line)
				}
				continue
			}
			if !ok {
				continue // an id with an escape: decoded whole
			}
			fast++
			read += n
			if string(chat) != e.ChatID || string(sender) != e.Sender.ID {
				t.Fatalf("fields %q %q, decoded %q %q: %s", chat, sender, e.ChatID, e.Sender.ID, line)
			}
			if c := bytes.Index(line, []byte(`,"content":`)); c >= 0 && n > c {
				t.Fatalf("read %d bytes, into the content at %d: %s", n, c, line)
			}
			chat2, sender2, n2, ok2 := archiver.ChatIndexFields(line[:n])
			if !ok2 || n2 != n || !bytes.Equal(chat2, chat) || !bytes.Equal(sender2, sender) {
				t.Fatalf("cut at the %d bytes read: %q %q %d %v; whole: %q %q", n, chat2, sender2, n2, ok2, chat, sender)
			}
		}
	}
	if changes == 0 || fast < 4_000 {
		t.Fatalf("%d records on the fast path, %d membership changes: the generated day should have thousands and some", fast, changes)
	}
	t.Logf("read %d of %d bytes (%.0f%%) of %d records", read, total, 100*float64(read)/float64(total), fast)
	reliability.Record(t, "operations", "chat index of a sealed day: bytes read per record", reliability.Kept,
		"each record read up to its content type, never its content; membership changes and escaped ids decoded whole")
}
