package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/xtokend/xtokend/keystore"
	"github.com/xtokend/xtokend/sasl"
)

// unknownOption describes an option the decoder did not use: its full name,
// the line it is probably on, and the known option it is closest to, so that
// `listn = ...` gets `did you mean "listen"?`.
func unknownOption(data []byte, key toml.Key) string {
	msg := fmt.Sprintf("unknown option %q", key.String())
	if len(key) == 0 {
		return msg
	}
	var hints []string
	if line := lineOf(data, key[len(key)-1]); line > 0 {
		hints = append(hints, fmt.Sprintf("line %d", line))
	}
	if known := knownOptions(key[:len(key)-1]); len(known) > 0 {
		if near := nearest(key[len(key)-1], known); near != "" {
			hints = append(hints, fmt.Sprintf("did you mean %q?", near))
		} else {
			hints = append(hints, "known here: "+strings.Join(known, ", "))
		}
	}
	if len(hints) > 0 {
		msg += " (" + strings.Join(hints, "; ") + ")"
	}
	return msg
}

// lineOf finds the first line where name is written as a key or a table
// name. It is a hint: the decoder does not keep positions of unused keys.
func lineOf(data []byte, name string) int {
	re, err := regexp.Compile(`(^|[\s{,\[.])"?` + regexp.QuoteMeta(name) + `"?\s*(=|\]|\.)`)
	if err != nil {
		return 0
	}
	for i, line := range strings.Split(string(data), "\n") {
		if re.MatchString(line) {
			return i + 1
		}
	}
	return 0
}

// knownOptions lists the options a table of the file may hold, given its path.
func knownOptions(parent toml.Key) []string {
	t := reflect.TypeOf(rawConfig{})
	for _, piece := range parent {
		switch {
		case t == reflect.TypeOf(map[string]toml.Primitive{}):
			switch piece {
			case ModKeystore:
				t = reflect.TypeOf(keystore.Options{})
			case ModAuthToken:
				t = reflect.TypeOf(sasl.Options{})
			case ModStreamManagement:
				t = reflect.TypeOf(StreamManagementOptions{})
			case ModFAST:
				t = reflect.TypeOf(FASTOptions{})
			default:
				return nil
			}
		case t.Kind() == reflect.Struct:
			f, ok := fieldByTag(t, piece)
			if !ok {
				return nil
			}
			t = f.Type
		default:
			return nil
		}
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	if t == reflect.TypeOf(map[string]toml.Primitive{}) {
		return []string{ModKeystore, ModAuthToken, ModStreamManagement, ModFAST}
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for i := range t.NumField() {
		if tag := tomlName(t.Field(i)); tag != "" {
			names = append(names, tag)
		}
	}
	return names
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if tomlName(t.Field(i)) == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func tomlName(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	return tag
}

// nearest is the known name within two edits of name, if there is one.
func nearest(name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance (option names are short ASCII).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
