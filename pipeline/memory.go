package pipeline

import (
	"bytes"
	"os"
	"strconv"
)

// peakMiB returns the process's peak resident set size since the last
// resetPeak (or its start), in MiB, from Linux's /proc/self/status; 0
// where that is not available.
func peakMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, err := strconv.ParseFloat(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 64)
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}

// resetPeak starts a new peak resident set size measurement (Linux: "5"
// to /proc/self/clear_refs); elsewhere it does nothing, and the peaks
// are the process's since its start.
func resetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }
