package rsmf

import "strings"

// formulaStart holds the characters that make a spreadsheet read a cell as a formula
// (OWASP, "CSV Injection"): = + - @, and tab and carriage return, which some spreadsheets
// skip before looking at the next character.
const formulaStart = "=+-@\t\r"

// cell neutralizes a loadfile.csv cell: one that starts like a formula gets a leading
// single quote, which spreadsheets show as text and reviewers recognise. No column of the
// load file is a signed number (counts are positive, dates and hashes start with a digit),
// so nothing legitimate is quoted. The .rsmf files keep the original text: they are the
// evidence, the load file only its index.
func cell(s string) string {
	if s != "" && strings.IndexByte(formulaStart, s[0]) >= 0 {
		return "'" + s
	}
	return s
}
