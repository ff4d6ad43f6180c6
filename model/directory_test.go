package model

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

const validDirectory = `{
  "organizations": [
    {"id": "o1", "name": "Acme", "archival": true, "archivalStart": "2026-01-01", "retentionDays": 2557, "plan": "enterprise"},
    {"id": "o2", "name": "Globex", "archival": false}
  ],
  "users": [{"id": "u1", "orgId": "o1", "email": "ada@acme.example", "displayName": "Ada", "title": "CTO"}],
  "bots": [{"id": "b1", "orgId": "o1", "roamId": "r1", "integrationId": "i1", "botCode": "release"}],
  "chats": [{"id": "c1", "members": ["u1", "b1", "g-unknown"], "topic": "ignored"}],
  "generatedAt": "2026-11-23T00:00:00Z"
}`

func TestParseDirectory(t *testing.T) {
	d, err := ParseDirectory([]byte(validDirectory + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Organizations) != 2 || len(d.Users) != 1 || len(d.Bots) != 1 || len(d.Chats) != 1 {
		t.Fatalf("ParseDirectory = %+v", d)
	}
	want := Organization{ID: "o1", Name: "Acme", Archival: true, ArchivalStart: "2026-01-01", RetentionDays: 2557}
	if d.Organizations[0] != want {
		t.Errorf("organization = %+v, want %+v", d.Organizations[0], want)
	}
	if u := d.Users[0]; u != (User{ID: "u1", OrgID: "o1", Email: "ada@acme.example", DisplayName: "Ada"}) {
		t.Errorf("user = %+v", u)
	}
	if b := d.Bots[0]; b != (Bot{ID: "b1", OrgID: "o1", RoamID: "r1", IntegrationID: "i1", BotCode: "release"}) {
		t.Errorf("bot = %+v", b)
	}
	if c := d.Chats[0]; c.ID != "c1" || strings.Join(c.Members, ",") != "u1,b1,g-unknown" {
		t.Errorf("chat = %+v", c)
	}

	empty, err := ParseDirectory([]byte(`{}`))
	if err != nil || len(empty.Organizations)+len(empty.Users)+len(empty.Bots)+len(empty.Chats) != 0 {
		t.Errorf("ParseDirectory({}) = %+v, %v", empty, err)
	}
}

func TestParseDirectoryErrors(t *testing.T) {
	// edit replaces old with new in validDirectory, which must contain old exactly once.
	edit := func(old, new string) string {
		if strings.Count(validDirectory, old) != 1 {
			panic("edit: " + old)
		}
		return strings.Replace(validDirectory, old, new, 1)
	}
	tests := []struct {
		name, data, want string
	}{
		{"not JSON", `{"organizations":[`, "directory: "},
		{"wrong type", edit(`"retentionDays": 2557`, `"retentionDays": "7 years"`), "organizations[0].retentionDays: string, want int"},
		{"trailing object", validDirectory + `{}`, "trailing data"},
		{"trailing brace", validDirectory + `}`, "trailing data"},
		{"trailing bracket", validDirectory + `]`, "trailing data"},
		{"trailing garbage", validDirectory + ` x`, "trailing data"},
		{"not an object", `[]`, "directory: "},
		{"org without id", edit(`"id": "o2", `, ``), `organizations[1].id: missing`},
		{"duplicate org", edit(`"id": "o2"`, `"id": "o1"`), `organizations[1].id: duplicate "o1"`},
		{"org ids differing only in case", edit(`"id": "o2"`, `"id": "O1"`), `organizations[1].id: "O1" differs from organizations[0].id "o1" only in case`},
		{"negative retention", edit(`"retentionDays": 2557`, `"retentionDays": -1`), `organizations[0] ("o1").retentionDays: negative`},
		{"bad archival start", edit(`"2026-01-01"`, `"01/01/2026"`), `organizations[0] ("o1").archivalStart: "01/01/2026" is not YYYY-MM-DD`},
		{"impossible archival start", edit(`"2026-01-01"`, `"2026-02-30"`), `organizations[0] ("o1").archivalStart`},
		{"archival start without leading zeros", edit(`"2026-01-01"`, `"2026-2-3"`), `organizations[0] ("o1").archivalStart: "2026-2-3" is not YYYY-MM-DD`},
		{"zero-date archival start", edit(`"2026-01-01"`, `"0001-01-01"`), `organizations[0] ("o1").archivalStart: "0001-01-01" is before 1970-01-01`},
		{"archival start before the epoch", edit(`"2026-01-01"`, `"1969-12-31"`), `organizations[0] ("o1").archivalStart: "1969-12-31" is before 1970-01-01`},
		{"user without id", edit(`"id": "u1", `, ``), `users[0].id: missing`},
		{"user of unknown org", edit(`"orgId": "o1", "email"`, `"orgId": "o9", "email"`), `users[0] ("u1").orgId: unknown organization "o9"`},
		{"user without org", edit(`"orgId": "o1", "email"`, `"email"`), `users[0] ("u1").orgId: unknown organization ""`},
		{"bot without id", edit(`"id": "b1", `, ``), `bots[0].id: missing`},
		{"bot with a user's id", edit(`"id": "b1"`, `"id": "u1"`), `bots[0].id: duplicate "u1"`},
		{"bot of unknown org", edit(`"orgId": "o1", "roamId"`, `"orgId": "o3", "roamId"`), `bots[0] ("b1").orgId: unknown organization "o3"`},
		{"chat without id", edit(`"id": "c1", `, ``), `chats[0].id: missing`},
		{"duplicate chat", edit(`"chats": [{"id": "c1", "members": ["u1", "b1", "g-unknown"], "topic": "ignored"}]`, `"chats": [{"id": "c1"}, {"id": "c1"}]`), `chats[1].id: duplicate "c1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDirectory([]byte(tt.data))
			if err == nil {
				t.Fatalf("ParseDirectory succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "directory: ") {
				t.Errorf("ParseDirectory error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestDecodeDirectoryStreams counts the bytes DecodeDirectory allocates for a snapshot
// whose size is mostly fields it does not keep: a decoder that buffered the input whole
// (as one json.Decoder.Decode of the top-level object does, or a read of the file into
// memory) allocates at least the input's size; one that reads an entry at a time
// allocates what it keeps and a buffer about one entry long.
func TestDecodeDirectoryStreams(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"organizations": [{"id": "o1", "archival": true}], "users": [`)
	bio := strings.Repeat("x", 4<<10)
	const users = 2000
	for i := range users {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id": "u%d", "orgId": "o1", "bio": %q}`, i, bio)
	}
	b.WriteString(`]}`)
	in := b.String()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d, err := DecodeDirectory(strings.NewReader(in))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Users) != users {
		t.Fatalf("decoded %d users, want %d", len(d.Users), users)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("input %d bytes, allocated %d", len(in), alloc)
	if alloc > uint64(len(in))/4 {
		t.Errorf("decoding a %d-byte snapshot allocated %d bytes: the input was buffered whole, not streamed", len(in), alloc)
	}
	reliability.Record(t, "operations", "directory snapshot of tens of MB (43 MB at 4M events)", reliability.Kept,
		"TestDecodeDirectoryStreams: decoded one entry at a time, allocating under a quarter of a snapshot made mostly of ignored fields; the run used to keep the whole file and parse it twice")
}

// keptBytes returns the live heap that decoding data keeps (the Directory returned).
func keptBytes(t *testing.T, data string) (int64, *Directory) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d, err := ParseDirectory([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(data) // live before, so live after: only d differs
	return int64(after.HeapAlloc) - int64(before.HeapAlloc), d
}

// TestDirectoryKeepsIDsOnce decodes two snapshots of the same 4,000 users that differ
// only in how many users each of 20,000 chats has (2 or 6 members), and counts the heap
// each further chat member keeps. A member names a user (or bot) that the snapshot lists
// already: its id is kept once, shared, not as a fresh string per chat (48 bytes more a
// member; a platform of 50,000 organizations has hundreds of thousands), and so is a
// user's or bot's organization id.
func TestDirectoryKeepsIDsOnce(t *testing.T) {
	const orgs, users, chats = 200, 4000, 20000
	id := func(kind string, i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%s%011d", i, kind, i) }
	snapshot := func(members int) string {
		var b strings.Builder
		b.WriteString(`{"organizations":[`)
		for i := range orgs {
			fmt.Fprintf(&b, `%s{"id":%q,"name":"Org %d","archival":true}`, map[bool]string{true: ",", false: ""}[i > 0], id("a", i), i)
		}
		b.WriteString(`],"users":[`)
		for i := range users {
			fmt.Fprintf(&b, `%s{"id":%q,"orgId":%q,"email":"u%d@example.com","displayName":"U %d"}`, map[bool]string{true: ",", false: ""}[i > 0], id("b", i), id("a", i%orgs), i, i)
		}
		b.WriteString(`],"chats":[`)
		for i := range chats {
			fmt.Fprintf(&b, `%s{"id":%q,"members":[`, map[bool]string{true: ",", false: ""}[i > 0], id("c", i))
			for m := range members {
				fmt.Fprintf(&b, `%s%q`, map[bool]string{true: ",", false: ""}[m > 0], id("b", (i*7+m*13)%users))
			}
			b.WriteString(`]}`)
		}
		b.WriteString(`]}`)
		return b.String()
	}
	two, d2 := keptBytes(t, snapshot(2))
	six, d6 := keptBytes(t, snapshot(6))
	perMember := (six - two) / (4 * chats)
	t.Logf("kept %d KiB with 2 members a chat, %d KiB with 6: %d bytes per further member", two>>10, six>>10, perMember)
	if d6.Chats[1].Members[0] != d6.Users[7].ID || d2.Users[0].OrgID != d2.Organizations[0].ID {
		t.Fatal("the snapshot decoded wrong")
	}
	runtime.KeepAlive(d2)
	// A string header in the chat's list, and no more.
	const most = 24
	if perMember > most {
		t.Fatalf("%d bytes kept per chat member, want at most %d (its string header; the id is the user's)", perMember, most)
	}
	reliability.Record(t, "operations", "directory: heap kept per chat member", reliability.Kept,
		"a string header: a member's id is the user's or bot's own string, and members' and organization ids are kept once however often the snapshot repeats them (was a fresh 36-byte id each time, 64 bytes per member)")
}
