// Package model holds chatvault's record types: the message event with its Participant
// and MessageContent variants, its strict decoder and its canonical JSON encoding, and the
// directory snapshot. It opens nothing: the directory is decoded from a reader it is given.
//
// Canonical encoding is what makes exports deterministic and comparable: fields in the
// fixed order of the export format, only the fields of the variant, integers as integers,
// attachments verbatim, one '\n' after each record.
package model
