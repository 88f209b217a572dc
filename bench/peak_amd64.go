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

// fmaLoopAVX512 is fmaLoopAVX2 with 16 lanes per FMA.
//
//go:noescape
func fmaLoopAVX512(n int)

// init picks the widest probe the CPU has: the machine's peak, whichever
// implementation a table measures. Where 512-bit FMAs are double-pumped
// (AMD Zen 4), the AVX-512 probe measures the same peak as the AVX2 one.
func init() {
	switch {
	case cpu.X86.HasAVX512F:
		probe = fmaProbe{name: "AVX-512 FMA (12×16 lanes)", flopsPerIter: 12 * 16 * 2, loop: fmaLoopAVX512}
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		probe = fmaProbe{name: "AVX2 FMA (12×8 lanes)", flopsPerIter: 12 * 8 * 2, loop: fmaLoopAVX2}
	}
}
