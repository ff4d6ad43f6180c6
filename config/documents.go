package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// checkDocuments refuses a file holding more than one YAML document with content: viper
// reads the first and drops the rest without a word, so an override appended after "---"
// (or two files concatenated) would be ignored. Parse errors are left to viper's reading,
// which reports them with their line.
func checkDocuments(b []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	n := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil
		}
		if len(doc.Content) > 0 && !(doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null") {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("holds %d YAML documents (separated by ---): only the first would be read; keep one", n)
	}
	return nil
}
