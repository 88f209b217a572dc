package data

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
)

// MaxInflate is the largest uncompressed size of a compressed .npz member
// that OpenNpz inflates into memory. Larger compressed members are an
// error: re-save them uncompressed (np.savez rather than
// np.savez_compressed) so they can be read lazily.
const MaxInflate = 1 << 30

// Member names OpenNpz looks for, first match wins (np.savez adds ".npy").
var (
	npzImageNames = []string{"image", "images", "x"}
	npzLabelNames = []string{"label", "labels", "y"}
)

// OpenNpz opens an .npz archive of images and labels: a member "image"
// (or "images", "x") holding uint8 N×H×W×C or N×C×H×W, or float
// N×C×H×W in [0, 1], or N×H×W for one channel; and a member "label" (or
// "labels", "y") of N integers in [0, maxLabel]. This is the layout of the
// generated CIFAR-10 sets of Wang et al. (2023), which hold millions of
// images.
//
// Float pixels are passed through as they are: [0, 1] is the convention,
// not checked. A NaN or infinite pixel is an error, naming the archive,
// the sample and the pixel, when its sample is read (Image); the archive
// is not scanned whole when opened.
//
// An image member stored uncompressed (np.savez) is never loaded: its
// header is parsed and each sample is read on demand at its offset in the
// archive. A compressed member of at most MaxInflate bytes is inflated
// into memory; a larger one is an error. The class count is the largest
// label plus one. The set keeps the file open; Close releases it.
func OpenNpz(path string) (Dataset, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	ds, err := openNpz(path, f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	return ds, nil
}

// openNpz builds the Dataset of OpenNpz from the open file f.
func openNpz(path string, f *os.File, size int64) (*byteSet, error) {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return nil, fmt.Errorf("data: %s: not a readable .npz (zip) archive: %w", path, err)
	}
	var names []string
	members := map[string]*zip.File{}
	for _, zf := range zr.File {
		names = append(names, zf.Name)
		members[strings.TrimSuffix(zf.Name, ".npy")] = zf
	}
	find := func(what string, want []string) (*zip.File, error) {
		for _, w := range want {
			if zf := members[w]; zf != nil {
				return zf, nil
			}
		}
		return nil, fmt.Errorf("data: %s: no %s member (looked for %s; archive has %v)", path, what, strings.Join(want, ", "), names)
	}
	imf, err := find("image", npzImageNames)
	if err != nil {
		return nil, err
	}
	lbf, err := find("label", npzLabelNames)
	if err != nil {
		return nil, err
	}
	where := func(zf *zip.File) string { return path + ":" + zf.Name }
	img, err := npzMember(f, imf)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", where(imf), err)
	}
	lab, err := npzMember(f, lbf)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", where(lbf), err)
	}
	s, err := newArraySet(where(imf), img, where(lbf), lab)
	if err != nil {
		return nil, err
	}
	s.closer = f
	return s, nil
}

// npzMember returns the .npy array in zip member zf of the archive in f:
// read in place if stored, inflated into memory if compressed and small
// enough.
func npzMember(f *os.File, zf *zip.File) (*npyArray, error) {
	size := int64(zf.UncompressedSize64)
	if size < 0 {
		return nil, fmt.Errorf("member size %d is too large", zf.UncompressedSize64)
	}
	if zf.Method == zip.Store {
		if zf.CompressedSize64 != zf.UncompressedSize64 {
			return nil, fmt.Errorf("stored member with compressed size %d ≠ size %d", zf.CompressedSize64, zf.UncompressedSize64)
		}
		off, err := zf.DataOffset()
		if err != nil {
			return nil, err
		}
		return readNpyHeader(io.NewSectionReader(f, off, size), size)
	}
	if size > MaxInflate {
		return nil, fmt.Errorf("compressed member of %d bytes is over the %d that are inflated in memory; re-save the archive uncompressed with np.savez so it can be read lazily", size, int64(MaxInflate))
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, size+1))
	if err != nil {
		return nil, fmt.Errorf("inflating: %w", err)
	}
	if int64(len(b)) != size {
		return nil, fmt.Errorf("inflated to %d bytes, header says %d", len(b), size)
	}
	a, err := readNpyHeader(bytes.NewReader(b), size)
	if err != nil {
		return nil, err
	}
	a.mem = b
	return a, nil
}

// OpenNpy opens a pair of .npy files as a Dataset: images at xPath
// (uint8 or float, shaped as for OpenNpz) and integer labels at yPath.
// Images are read on demand, never loaded whole; as for OpenNpz, a NaN or
// infinite float pixel is an error when its sample is read. The set keeps xPath
// open; Close releases it.
func OpenNpy(xPath, yPath string) (Dataset, error) {
	xf, xsize, err := openSized(xPath)
	if err != nil {
		return nil, err
	}
	ds, err := openNpyPair(xPath, xf, xsize, yPath)
	if err != nil {
		xf.Close()
		return nil, err
	}
	return ds, nil
}

// openNpyPair builds the Dataset of OpenNpy from the open image file xf.
func openNpyPair(xPath string, xf *os.File, xsize int64, yPath string) (*byteSet, error) {
	img, err := readNpyHeader(xf, xsize)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", xPath, err)
	}
	yf, ysize, err := openSized(yPath)
	if err != nil {
		return nil, err
	}
	defer yf.Close()
	lab, err := readNpyHeader(yf, ysize)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", yPath, err)
	}
	s, err := newArraySet(xPath, img, yPath, lab)
	if err != nil {
		return nil, err
	}
	s.closer = xf
	return s, nil
}

// newArraySet makes a Dataset of the image array img and the label array
// lab (read now, whole); the names are for errors. Images are decoded
// from img's memory if it has any, else read from its file.
func newArraySet(imgName string, img *npyArray, labName string, lab *npyArray) (*byteSet, error) {
	s := &byteSet{name: imgName, dt: img.dt, base: img.off}
	sh := img.shape
	switch {
	case len(sh) == 3:
		s.c, s.h, s.w = 1, sh[1], sh[2]
	case len(sh) == 4 && (sh[1] == 1 || sh[1] == 3):
		s.c, s.h, s.w = sh[1], sh[2], sh[3]
	case len(sh) == 4 && (sh[3] == 1 || sh[3] == 3):
		s.c, s.h, s.w, s.hwc = sh[3], sh[1], sh[2], true
	default:
		return nil, fmt.Errorf("data: %s: image shape %v: want N×C×H×W or N×H×W×C with C = 1 or 3, or N×H×W", imgName, sh)
	}
	if s.h == 0 || s.w == 0 {
		return nil, fmt.Errorf("data: %s: image shape %v has an empty side", imgName, sh)
	}
	if img.dt.kind != 'f' && (img.dt.kind != 'u' || img.dt.size != 1) {
		return nil, fmt.Errorf("data: %s: image dtype %s: want uint8, float32 or float64", imgName, img.dt)
	}
	s.rec = int64(s.c*s.h*s.w) * int64(img.dt.size)
	if len(lab.shape) == 0 || lab.shape[0] != sh[0] || lab.count() != int64(sh[0]) {
		return nil, fmt.Errorf("data: %s: label shape %v: want (%d,) to match the images in %s", labName, lab.shape, sh[0], imgName)
	}
	y, err := readElems[int64](lab)
	if err != nil {
		return nil, fmt.Errorf("data: %s: labels: %w", labName, err)
	}
	s.y = make([]int32, len(y))
	if img.dt.kind == 'f' {
		s.finite = make([]atomic.Uint64, (len(y)+63)/64)
	}
	for i, v := range y {
		if v < 0 || v > maxLabel {
			return nil, fmt.Errorf("data: %s: label %d of sample %d not in [0, %d]", labName, v, i, maxLabel)
		}
		s.y[i] = int32(v)
		s.classes = max(s.classes, int(v)+1)
	}
	s.ra, s.mem, s.inMem = img.r, img.mem, img.mem != nil
	return s, nil
}
