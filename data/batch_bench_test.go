package data

import (
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
