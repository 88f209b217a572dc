package data

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"
)

// BenchmarkBatcher measures one CIFAR-sized batch of 128 with crop and
// flip, decoded from uint8 storage in memory.
func BenchmarkBatcher(b *testing.B) {
	const n = 1024
	s := &byteSet{
		labels: labels{y: make([]int32, n), classes: 10},
		name:   "bench", c: 3, h: 32, w: 32, dt: dtype{kind: 'u', size: 1},
		rec: cifarImage, inMem: true, mem: pattern(n*cifarImage, 1),
	}
	for _, pre := range []bool{false, true} {
		name := "sync"
		if pre {
			name = "prefetch"
		}
		b.Run(name, func(b *testing.B) {
			bt, err := NewBatcher(s, nil, Config{BatchSize: 128, Shuffle: true, CropPad: 4, Flip: true, Prefetch: pre})
			if err != nil {
				b.Fatal(err)
			}
			defer bt.Close()
			b.ReportAllocs()
			b.SetBytes(128 * cifarImage * 4)
			epoch := 0
			for b.Loop() {
				if !bt.Next() {
					epoch++
					bt.Reset(epoch)
					bt.Next()
				}
			}
		})
	}
}

// BenchmarkDecodeBatch measures decoding one batch of 128 28×28 float32
// images held in memory (a float image file, as npy: and npz: specs
// give) with the NaN/Inf check that a sample's first read runs ("check",
// what Image does once per sample) and without it ("nocheck", the
// conversion alone, as every later read of a checked sample); "checkonly" is
// the check's pass over the decoded batch by itself. The check's cost per
// training step is check − nocheck, or checkonly where a busy machine
// blurs that difference.
func BenchmarkDecodeBatch(b *testing.B) {
	const n, c, h, w = 128, 1, 28, 28
	const chw = c * h * w
	mem := make([]byte, 4*n*chw)
	for k := range n * chw {
		binary.LittleEndian.PutUint32(mem[4*k:], math.Float32bits(float32(k%256)/255))
	}
	s := &byteSet{
		labels: labels{y: make([]int32, n), classes: 10},
		name:   "bench", c: c, h: h, w: w, dt: dtype{kind: 'f', size: 4},
		rec: 4 * chw, inMem: true, mem: mem,
	}
	batch := make([]float32, n*chw)
	sample := func(i int) (dst []float32, raw []byte) {
		return batch[i*chw : (i+1)*chw], mem[i*4*chw : (i+1)*4*chw]
	}
	for i := range n { // checkonly reads the decoded batch
		dst, raw := sample(i)
		decodePixels(dst, raw, s.dt, c, h*w, false)
	}
	for _, bm := range []struct {
		name string
		read func(i int) error
	}{
		{"check", func(i int) error {
			dst, raw := sample(i)
			return s.decode(i, dst, raw)
		}},
		{"nocheck", func(i int) error {
			dst, raw := sample(i)
			decodePixels(dst, raw, s.dt, c, h*w, false)
			return nil
		}},
		{"checkonly", func(i int) error {
			dst, _ := sample(i)
			if k := firstNonFinite(dst); k >= 0 {
				return fmt.Errorf("sample %d: pixel %d is not finite", i, k)
			}
			return nil
		}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(mem)))
			for b.Loop() {
				for i := range n {
					if err := bm.read(i); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
