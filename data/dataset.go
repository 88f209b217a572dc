package data

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"

	"github.com/bulwark-ml/bulwark/tensor"
)

// Dataset is a random-access set of labelled images. Image writes sample i
// as float32 CHW in [0, 1] into dst, which must have length C*H*W; it
// returns an error only for a sample from a file that cannot be read or
// that holds a NaN or infinite pixel (a float image file). An index out of
// [0, Len()) or a dst of the wrong length is a programmer error and
// panics. Implementations are safe for concurrent use by several
// goroutines.
type Dataset interface {
	Len() int
	Shape() (c, h, w int)
	Classes() int
	Label(i int) int
	Image(i int, dst []float32) error
}

// Close releases the file a Dataset reads from (sets from OpenNpz and
// OpenNpy hold one open); for other sets it does nothing. The set must
// not be used afterwards.
func Close(ds Dataset) error {
	if c, ok := ds.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// maxLabel bounds the labels accepted from .npy/.npz files, whose class
// count is inferred as the largest label plus one.
const maxLabel = 1 << 20

// labels holds a set's labels and its class count.
type labels struct {
	y       []int32
	classes int
}

// Len returns the number of samples.
func (l *labels) Len() int { return len(l.y) }

// Classes returns the number of classes.
func (l *labels) Classes() int { return l.classes }

// Label returns the class of sample i.
func (l *labels) Label(i int) int { return int(l.y[i]) }

// u8ToF32[v] is v/255 rounded to float32, as torchvision's ToTensor gives.
var u8ToF32 = func() (t [256]float32) {
	for v := range t {
		t[v] = float32(v) / 255
	}
	return t
}()

// byteSet is a Dataset whose images are fixed-size records of bytes, in
// memory or in a file: sample i's pixels start at base + i*rec, in dtype
// dt, channel-major (CHW) or, if hwc, channel-last.
type byteSet struct {
	labels
	name    string // the file, for errors
	c, h, w int
	hwc     bool
	dt      dtype
	base    int64
	rec     int64
	inMem   bool
	mem     []byte      // if inMem: the whole payload
	ra      io.ReaderAt // otherwise: the file
	closer  io.Closer
	scratch sync.Pool // *[]byte of one sample, for file reads
	// finite has a bit per sample of a float image array, set once the
	// sample's pixels were checked finite: each sample is checked on its
	// first read only, so the check costs one pass over the dataset, not
	// one per epoch. Nil for integer images, which are always finite.
	finite []atomic.Uint64
}

// Shape returns the image shape (channels, height, width).
func (s *byteSet) Shape() (c, h, w int) { return s.c, s.h, s.w }

// Close closes the underlying file, if any.
func (s *byteSet) Close() error {
	if s.closer == nil {
		return nil
	}
	err := s.closer.Close()
	s.closer = nil
	return err
}

// Image decodes sample i into dst; see Dataset.
func (s *byteSet) Image(i int, dst []float32) error {
	chw := s.c * s.h * s.w
	checkSample("Image", i, len(s.y), len(dst), chw)
	n := int64(chw * s.dt.size)
	off := s.base + int64(i)*s.rec
	if s.inMem {
		return s.decode(i, dst, s.mem[off:off+n])
	}
	bp, _ := s.scratch.Get().(*[]byte)
	if bp == nil || int64(len(*bp)) < n {
		b := make([]byte, n)
		bp = &b
	}
	defer s.scratch.Put(bp)
	raw := (*bp)[:n]
	if k, err := s.ra.ReadAt(raw, off); int64(k) < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("data: %s: reading sample %d at offset %d: %w", s.name, i, off, err)
	}
	return s.decode(i, dst, raw)
}

// decode converts the raw pixels of sample i into dst. A non-finite float
// pixel is an error naming the file, the sample and the pixel: a single
// NaN would silently poison every gradient of the batch it trains in.
// The check is a second pass over the decoded sample, still in cache, on
// its first read (finite); BenchmarkDecodeBatch measures its cost.
func (s *byteSet) decode(i int, dst []float32, raw []byte) error {
	decodePixels(dst, raw, s.dt, s.c, s.h*s.w, s.hwc)
	if s.dt.kind != 'f' {
		return nil // integers of at most 64 bits are finite in float32
	}
	word, bit := i/64, uint64(1)<<(i%64)
	if s.finite != nil && s.finite[word].Load()&bit != 0 {
		return nil
	}
	k := firstNonFinite(dst)
	if k < 0 {
		if s.finite != nil {
			s.finite[word].Or(bit)
		}
		return nil
	}
	hw := s.h * s.w
	return fmt.Errorf("data: %s: sample %d: pixel (channel %d, row %d, column %d) is %v; float images must be finite",
		s.name, i, k/hw, k%hw/s.w, k%s.w, dst[k])
}

// checkSample panics, naming op, if i is not in [0, n) or dst does not
// hold one sample of size want.
func checkSample(op string, i, n, got, want int) {
	if i < 0 || i >= n {
		panic(fmt.Sprintf("data.%s: index %d out of range [0, %d)", op, i, n))
	}
	if got != want {
		panic(fmt.Sprintf("data.%s: dst has %d elements, want C*H*W = %d", op, got, want))
	}
}

// decodePixels converts one sample of raw pixels (c planes of hw pixels,
// or hw pixels of c channels if hwc) to float32 CHW in dst. uint8 maps to
// v/255; floats are copied as they are (rounded to float32), in [0, 1] or
// not, and NaN or ±Inf too: the caller checks (firstNonFinite).
func decodePixels(dst []float32, raw []byte, dt dtype, c, hw int, hwc bool) {
	if dt.kind == 'u' && dt.size == 1 {
		if !hwc {
			for k, v := range raw[:len(dst)] {
				dst[k] = u8ToF32[v]
			}
			return
		}
		for ch := range c {
			plane := dst[ch*hw : (ch+1)*hw]
			for p := range plane {
				plane[p] = u8ToF32[raw[p*c+ch]]
			}
		}
		return
	}
	for ch := range c {
		plane := dst[ch*hw : (ch+1)*hw]
		for p := range plane {
			j := ch*hw + p
			if hwc {
				j = p*c + ch
			}
			plane[p] = float32(dt.float(raw[j*dt.size:]))
		}
	}
}

// firstNonFinite returns the index of the first NaN or ±Inf in x, or -1.
func firstNonFinite(x []float32) int {
	for k, v := range x {
		if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
			return k
		}
	}
	return -1
}

// floatSet is an in-memory Dataset of float32 CHW images.
type floatSet struct {
	labels
	x       []float32
	c, h, w int
}

// FromTensor returns an in-memory Dataset over x [N, C, H, W] (shared, not
// copied; values are passed through as they are, normally in [0, 1]) with
// the given labels, each in [0, classes). It is meant for synthetic and
// test data.
func FromTensor(x *tensor.Tensor, y []int, classes int) (Dataset, error) {
	s := x.Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("data.FromTensor: images %v: want a rank-4 [N, C, H, W] tensor", s)
	}
	if len(y) != s[0] {
		return nil, fmt.Errorf("data.FromTensor: %d labels for %d images", len(y), s[0])
	}
	l := labels{y: make([]int32, len(y)), classes: classes}
	for i, v := range y {
		if v < 0 || v >= classes {
			return nil, fmt.Errorf("data.FromTensor: label %d of sample %d not in [0, %d)", v, i, classes)
		}
		l.y[i] = int32(v)
	}
	return &floatSet{labels: l, x: x.Data(), c: s[1], h: s[2], w: s[3]}, nil
}

// Shape returns the image shape (channels, height, width).
func (s *floatSet) Shape() (c, h, w int) { return s.c, s.h, s.w }

// Image copies sample i into dst; see Dataset.
func (s *floatSet) Image(i int, dst []float32) error {
	chw := s.c * s.h * s.w
	checkSample("Image", i, len(s.y), len(dst), chw)
	copy(dst, s.x[i*chw:(i+1)*chw])
	return nil
}

// subset is a view of a Dataset through a list of indices.
type subset struct {
	ds  Dataset
	idx []int
}

// Subset returns the view of ds whose sample j is ds's sample indices[j].
// indices is copied; repeats are allowed. An index outside [0, ds.Len())
// is an error, since index lists usually come from files.
func Subset(ds Dataset, indices []int) (Dataset, error) {
	if err := checkIndices("data.Subset", indices, ds.Len()); err != nil {
		return nil, err
	}
	return &subset{ds: ds, idx: append([]int(nil), indices...)}, nil
}

// checkIndices returns an error, prefixed by what, for the first index
// not in [0, n).
func checkIndices(what string, indices []int, n int) error {
	for j, i := range indices {
		if i < 0 || i >= n {
			return fmt.Errorf("%s: index %d (position %d) out of range [0, %d)", what, i, j, n)
		}
	}
	return nil
}

// Len returns the number of indices.
func (s *subset) Len() int { return len(s.idx) }

// Shape returns the image shape of the parent set.
func (s *subset) Shape() (c, h, w int) { return s.ds.Shape() }

// Classes returns the class count of the parent set.
func (s *subset) Classes() int { return s.ds.Classes() }

// Label returns the label of the parent's sample indices[i].
func (s *subset) Label(i int) int { return s.ds.Label(s.idx[i]) }

// Image decodes the parent's sample indices[i].
func (s *subset) Image(i int, dst []float32) error { return s.ds.Image(s.idx[i], dst) }

// mulCheck returns a*b, or false if either is negative or the product
// overflows an int64.
func mulCheck(a, b int64) (int64, bool) {
	if a < 0 || b < 0 || (a != 0 && b > math.MaxInt64/a) {
		return 0, false
	}
	return a * b, true
}

// Sample returns sample i of ds as a batch of one, [1, C, H, W].
func Sample(ds Dataset, i int) (*tensor.Tensor, error) {
	c, h, w := ds.Shape()
	x := tensor.New(1, c, h, w)
	if err := ds.Image(i, x.Data()); err != nil {
		return nil, err
	}
	return x, nil
}
