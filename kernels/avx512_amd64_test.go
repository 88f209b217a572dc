//go:build !purego

package kernels

import (
	"testing"

	"github.com/klauspost/cpuid/v2"
)

// TestFullWidthTable checks the CPU table that makes AVX-512 the default.
func TestFullWidthTable(t *testing.T) {
	for _, c := range []struct {
		name          string
		vendor        cpuid.Vendor
		family, model int
		amx, want     bool
	}{
		{"Sapphire Rapids", cpuid.Intel, 6, 0x8F, true, true},
		{"Ice Lake server", cpuid.Intel, 6, 0x6A, false, false},
		{"Zen 4 Genoa", cpuid.AMD, 0x19, 0x11, false, false},
		{"Zen 5 Turin", cpuid.AMD, 0x1A, 0x02, false, true},
		{"Zen 5 Turin dense", cpuid.AMD, 0x1A, 0x11, false, true},
		{"Zen 5 Granite Ridge", cpuid.AMD, 0x1A, 0x44, false, true},
		{"Zen 5 Strix Point", cpuid.AMD, 0x1A, 0x24, false, false},
		{"unknown", cpuid.VendorUnknown, 0, 0, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, why := fullWidth(c.vendor, c.family, c.model, c.amx); got != c.want || why == "" {
				t.Errorf("fullWidth = %v (%q), want %v", got, why, c.want)
			}
		})
	}
}

// TestGemmFor checks the AVX-512 tile chosen per shape: 6×16 for at most
// 16 columns, else 8×32 where it pads less below 96 rows, else 12×32.
func TestGemmFor(t *testing.T) {
	for m, want := range map[int]string{1: "8x32", 8: "8x32", 12: "12x32", 16: "8x32", 24: "12x32",
		32: "8x32", 64: "8x32", 72: "12x32", 95: "12x32", 96: "12x32", 100: "12x32", 288: "12x32"} {
		if got := avx512Impl.gemmFor(m, 100).name; got != want {
			t.Errorf("gemmFor(%d) = %s, want %s", m, got, want)
		}
	}
	if got := avx2Impl.gemmFor(32, 100).name; got != "6x16" {
		t.Errorf("avx2: gemmFor(32, 100) = %s, want 6x16", got)
	}
	for n, want := range map[int]string{1: "6x16", 16: "6x16", 17: "12x32", 32: "12x32"} {
		if got := avx512Impl.gemmFor(144, n).name; got != want {
			t.Errorf("gemmFor(144, %d) = %s, want %s", n, got, want)
		}
	}
}
