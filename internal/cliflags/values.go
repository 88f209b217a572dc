package cliflags

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// IntList is a flag.Value for a comma-separated list of integers.
type IntList []int

func (l *IntList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l *IntList) Set(s string) error {
	*l = nil
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("%q is not an integer", f)
		}
		*l = append(*l, v)
	}
	return nil
}

// StringList is a flag.Value for a comma-separated list of words.
type StringList []string

func (l *StringList) String() string { return strings.Join(*l, ",") }

func (l *StringList) Set(s string) error {
	*l = nil
	for w := range strings.SplitSeq(s, ",") {
		if w = strings.TrimSpace(strings.ToLower(w)); w != "" {
			*l = append(*l, w)
		}
	}
	return nil
}

// FloatList is a flag.Value for a comma-separated list of numbers.
type FloatList []float64

func (l *FloatList) String() string {
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

func (l *FloatList) Set(s string) error {
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

// FileMap is a flag.Value for comma-separated KEY=FILE pairs.
type FileMap map[string]string

func (m *FileMap) String() string {
	var s []string
	for _, k := range slices.Sorted(maps.Keys(*m)) {
		s = append(s, k+"="+(*m)[k])
	}
	return strings.Join(s, ",")
}

func (m *FileMap) Set(s string) error {
	*m = FileMap{}
	for w := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(w), "=")
		if !ok || k == "" || v == "" {
			return fmt.Errorf("%q: want SCORE=FILE", w)
		}
		(*m)[strings.ToLower(k)] = v
	}
	return nil
}

// Fraction is a flag.Value for a non-negative number written as a
// decimal or a fraction, like 0.3 or 8/255.
type Fraction float64

func (f *Fraction) String() string {
	if f == nil {
		return "0"
	}
	return strconv.FormatFloat(float64(*f), 'g', -1, 64)
}

func (f *Fraction) Set(s string) error {
	num, den, isFrac := strings.Cut(s, "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err == nil && isFrac {
		var d float64
		if d, err = strconv.ParseFloat(strings.TrimSpace(den), 64); err == nil {
			if d == 0 {
				return fmt.Errorf("%q divides by zero", s)
			}
			v /= d
		}
	}
	if err != nil || !(v >= 0) || math.IsInf(v, 0) {
		return fmt.Errorf("%q is not a non-negative number or fraction like 8/255", s)
	}
	*f = Fraction(v)
	return nil
}

// Join lists values as "a, b, c".
func Join[T ~string](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
