package prune

import "math"

// topK keeps the k smallest (key, index) pairs offered to it, ordered
// lexicographically, so ties go to the lower index. It is a max-heap with
// the worst kept pair at the root: once full, a candidate is usually
// rejected by one comparison with worst().
type topK struct {
	key []float32
	idx []int32
	n   int
}

func (h *topK) reset() { h.n = 0 }

// worst returns the largest kept key, or +Inf while fewer than k are kept.
// Offering only keys below it is exact if indices arrive in increasing
// order: a candidate equal to the worst key has the larger index and loses.
func (h *topK) worst() float32 {
	if h.n < len(h.key) {
		return float32(math.Inf(1))
	}
	return h.key[0]
}

// less orders pairs a and b of the heap by (key, index).
func (h *topK) less(a, b int) bool {
	return h.key[a] < h.key[b] || h.key[a] == h.key[b] && h.idx[a] < h.idx[b]
}

func (h *topK) swap(a, b int) {
	h.key[a], h.key[b] = h.key[b], h.key[a]
	h.idx[a], h.idx[b] = h.idx[b], h.idx[a]
}

// push adds a pair, evicting the worst if the heap is full. The caller
// has checked that the pair beats worst().
func (h *topK) push(key float32, idx int32) {
	if h.n < len(h.key) {
		h.key[h.n], h.idx[h.n] = key, idx
		h.n++
		for c := h.n - 1; c > 0; {
			p := (c - 1) / 2
			if !h.less(p, c) {
				break
			}
			h.swap(p, c)
			c = p
		}
		return
	}
	h.key[0], h.idx[0] = key, idx
	h.down(0, h.n)
}

// down restores the heap order below node p within the first n entries.
func (h *topK) down(p, n int) {
	for {
		c := 2*p + 1
		if c >= n {
			return
		}
		if c+1 < n && h.less(c, c+1) {
			c++
		}
		if !h.less(p, c) {
			return
		}
		h.swap(p, c)
		p = c
	}
}

// sort orders the kept pairs ascending in place (heapsort) and returns
// how many there are. The heap must be refilled after it.
func (h *topK) sort() int {
	for end := h.n - 1; end > 0; end-- {
		h.swap(0, end)
		h.down(0, end)
	}
	return h.n
}
