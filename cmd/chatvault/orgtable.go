package main

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chatvault/chatvault/archiver"
)

// orgTableHeader are the columns of run's table of organizations.
var orgTableHeader = []string{"  ORG", "NAME", "OUTCOME", "REV", "EXPORTED", "DUPLICATES", "EXCLUDED", "BYTES"}

// orgTableRow returns an organization's cells, tabs and line breaks made spaces so that a
// cell stays one cell.
func orgTableRow(o *archiver.OrgResult, cells []string) []string {
	outcome := o.Outcome
	if o.Err != nil {
		// The message follows the table (failureLine): as the cell, a refused revision's
		// 350 characters padded every organization's row to its width.
		outcome = "FAILED"
	}
	cells = append(cells[:0], "  "+o.Org, o.Name, outcome, strconv.Itoa(o.Revision),
		strconv.FormatInt(o.Counts.Exported, 10), strconv.FormatInt(o.Counts.Duplicates, 10),
		strconv.FormatInt(sum(o.Counts.Excluded), 10), strconv.FormatInt(o.Data.Size, 10))
	for i, c := range cells {
		cells[i] = oneLine(c)
	}
	return cells
}

// oneLine makes tabs and line breaks spaces, so that a cell stays one cell and a message
// one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\t\n\v\f\r") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// failureLine is a failed organization's message, printed after the table: the error as
// is when it names the organization (a refused revision's does), else prefixed with it.
func failureLine(o *archiver.OrgResult) string {
	msg := o.Err.Error()
	if !strings.HasPrefix(msg, "organization "+o.Org) {
		msg = "organization " + o.Org + " (" + o.Name + "): " + msg
	}
	return "  FAILED: " + oneLine(msg) + "\n"
}

// printOrgTable writes run's table of organizations as text/tabwriter did (minimum width
// 2, padding 2, spaces, every cell ended by a tab), but in two passes over the results,
// one for the columns' widths and one to print, a row at a time: tabwriter keeps the
// whole table, some 20 MiB for 35,000 organizations, until it is flushed (issue 13).
func printOrgTable(w io.Writer, orgs []archiver.OrgResult) (bytes int64) {
	widths := make([]int, len(orgTableHeader))
	measure := func(cells []string) {
		for i, c := range cells {
			widths[i] = max(widths[i], utf8.RuneCountInString(c)+2, 2)
		}
	}
	measure(orgTableHeader)
	var cells []string
	for i := range orgs {
		cells = orgTableRow(&orgs[i], cells)
		measure(cells)
	}
	var line []byte
	emit := func(cells []string) {
		line = line[:0]
		for i, c := range cells {
			line = append(line, c...)
			for range widths[i] - utf8.RuneCountInString(c) {
				line = append(line, ' ')
			}
		}
		line = append(line, '\n')
		w.Write(line)
	}
	emit(orgTableHeader)
	for i := range orgs {
		cells = orgTableRow(&orgs[i], cells)
		emit(cells)
		bytes += orgs[i].Data.Size
	}
	for i := range orgs {
		if orgs[i].Err != nil {
			io.WriteString(w, failureLine(&orgs[i]))
		}
	}
	return bytes
}
