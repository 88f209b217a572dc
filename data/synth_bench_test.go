package data

import (
	"sync/atomic"
	"testing"
)

// BenchmarkSyntheticImage measures one sample of a pool over 1×28×28
// digits-like images (and 3×32×32 for CIFAR-sized sets); ns/op is the time
// per sample on one goroutine, except in "parallel".
func BenchmarkSyntheticImage(b *testing.B) {
	for _, bc := range []struct {
		name    string
		c, h, w int
		opts    SynthOptions
	}{
		{"default-28x28", 1, 28, 28, DefaultSynthOptions()},
		{"affine-28x28", 1, 28, 28, SynthOptions{Rotate: 15, Scale: 0.1, Shear: 0.2, Translate: 2}},
		{"elastic-28x28", 1, 28, 28, SynthOptions{Alpha: 34, Sigma: 4}},
		{"default-3x32x32", 3, 32, 32, DefaultSynthOptions()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := newSynth(b, blobSet(b, 100, bc.c, bc.h, bc.w), 1_000_000, 1, bc.opts)
			dst := make([]float32, bc.c*bc.h*bc.w)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.Image(i, dst); err != nil {
					b.Fatal(err)
				}
				i = (i + 7919) % s.Len()
			}
		})
	}
	b.Run("parallel-default-28x28", func(b *testing.B) {
		s := newSynth(b, blobSet(b, 100, 1, 28, 28), 1_000_000, 1, DefaultSynthOptions())
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			dst := make([]float32, 28*28)
			for pb.Next() {
				if err := s.Image(int(next.Add(1))%s.Len(), dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
