package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwark-ml/bulwark/data"
)

// Helpers shared by the subcommands: opening data named by a flag,
// progress bars, and flag values for lists and maps.

// openData opens the dataset spec of --flag; closeAll releases both of
// its splits.
func openData(flag, spec string) (train, test data.Dataset, closeAll func(), err error) {
	train, test, err = data.Open(spec)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--%s: %w", flag, err)
	}
	return train, test, func() {
		data.Close(train)
		if test != nil {
			data.Close(test)
		}
	}, nil
}

// progress returns where progress bars go: stderr if it is a terminal
// and quiet is off.
func progress(quiet bool) io.Writer {
	if quiet || !stderrIsTerminal() {
		return nil
	}
	return progressOut
}

// stringList is a flag.Value for a comma-separated list of words.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	*l = nil
	for w := range strings.SplitSeq(s, ",") {
		if w = strings.TrimSpace(strings.ToLower(w)); w != "" {
			*l = append(*l, w)
		}
	}
	return nil
}

// floatList is a flag.Value for a comma-separated list of numbers.
type floatList []float64

func (l *floatList) String() string {
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

func (l *floatList) Set(s string) error {
	*l = nil
	for w := range strings.SplitSeq(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", w)
		}
		*l = append(*l, v)
	}
	return nil
}

// fileMap is a flag.Value for comma-separated KEY=FILE pairs.
type fileMap map[string]string

func (m *fileMap) String() string {
	var s []string
	for _, k := range slices.Sorted(maps.Keys(*m)) {
		s = append(s, k+"="+(*m)[k])
	}
	return strings.Join(s, ",")
}

func (m *fileMap) Set(s string) error {
	*m = fileMap{}
	for w := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(w), "=")
		if !ok || k == "" || v == "" {
			return fmt.Errorf("%q: want SCORE=FILE", w)
		}
		(*m)[strings.ToLower(k)] = v
	}
	return nil
}
