//go:build !purego

package bench

import "golang.org/x/sys/cpu"

// fmaLoopAVX2 runs n iterations of 12 independent 8-wide FMAs:
//
//	for i := 0; i < n; i++ {
//		for r := 0; r < 12; r++ { acc[r] = acc[r]*x + y } // 8 lanes each
//	}
//
//go:noescape
func fmaLoopAVX2(n int)

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		probe = fmaProbe{name: "AVX2 FMA (12×8 lanes)", flopsPerIter: 12 * 8 * 2, loop: fmaLoopAVX2}
	}
}
