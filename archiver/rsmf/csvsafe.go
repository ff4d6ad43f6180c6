package rsmf

import "strings"

// formulaStart holds the characters that make a spreadsheet read a cell as a formula
// (OWASP, "CSV Injection"): = + - @, and tab and carriage return, which some spreadsheets
// skip before looking at the next character.
const formulaStart = "=+-@\t\r"

// cell neutralizes a loadfile.csv cell: one that starts like a formula gets a leading
// single quote, which spreadsheets show as text and reviewers recognise. So does every
// part of it after a ";" (and any spaces): a spreadsheet whose list separator is ";"
// (much of continental Europe) splits every line there, quoted or not, so a cell starts
// after each ";" too, and "Bob;=HYPERLINK(…)" in a name would be a live formula. No
// column of the load file is a signed number (counts are positive, dates and hashes start
// with a digit), so nothing legitimate is quoted. The .rsmf files keep the original text:
// they are the evidence, the load file only its index.
func cell(s string) string {
	if s != "" && strings.IndexByte(formulaStart, s[0]) >= 0 {
		s = "'" + s
	}
	if !strings.Contains(s, ";") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] != ';' {
			continue
		}
		j := i + 1
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j < len(s) && strings.IndexByte(formulaStart, s[j]) >= 0 {
			b.WriteString(s[i+1 : j])
			b.WriteByte('\'')
			i = j - 1
		}
	}
	return b.String()
}
