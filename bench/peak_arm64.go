//go:build !purego

package bench

// fmaLoopNEON runs n iterations of 12 independent 4-wide FMAs:
//
//	for i := 0; i < n; i++ {
//		for r := 0; r < 12; r++ { acc[r] = acc[r]*x + y } // 4 lanes each
//	}
//
//go:noescape
func fmaLoopNEON(n int)

func init() {
	probe = fmaProbe{name: "NEON FMLA (12×4 lanes)", flopsPerIter: 12 * 4 * 2, loop: fmaLoopNEON}
}
