package data

// CheckIndices returns an error, prefixed by what, for the first index
// not in [0, n): index lists that come from files or callers are checked
// before they reach a Dataset, whose Image panics out of range.
func CheckIndices(what string, indices []int, n int) error { return checkIndices(what, indices, n) }
