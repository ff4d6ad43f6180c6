package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

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

// checkFoldedKeys refuses a mapping that holds two keys differing only in case (store and
// Store, or sections http and HTTP): viper folds keys to lower case, so one value would
// win without a word, while YAML itself refuses a key written twice. Parse errors are
// left to viper's reading, as in checkDocuments.
func checkFoldedKeys(b []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil
	}
	var errs []error
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			seen := map[string]string{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				full := joinPath(path, k)
				folded := strings.ToLower(k)
				if first, ok := seen[folded]; ok && first != k {
					errs = append(errs, fmt.Errorf("keys %s and %s differ only in case (keys are read regardless of case): keep one", joinPath(path, first), full))
				}
				seen[folded] = k
				walk(n.Content[i+1], full)
			}
		}
	}
	walk(&doc, "")
	return errors.Join(errs...)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
