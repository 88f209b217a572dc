package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DType is a tensor element type as spelled in a safetensors header.
type DType string

// The dtypes of the format. Read converts all of them to float32; Write
// writes F32.
const (
	Bool   DType = "BOOL"
	U8     DType = "U8"
	I8     DType = "I8"
	F8E5M2 DType = "F8_E5M2"
	F8E4M3 DType = "F8_E4M3"
	I16    DType = "I16"
	U16    DType = "U16"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I32    DType = "I32"
	U32    DType = "U32"
	F32    DType = "F32"
	F64    DType = "F64"
	I64    DType = "I64"
	U64    DType = "U64"
)

// maxSafe bounds the integers that float32 holds exactly.
const maxSafe = 1 << 24

// dtypeInfo says how wide an element is and how to widen a run of them to
// float32. convert fills dst from len(dst)*size bytes of src and returns
// the index of the first element float32 cannot hold exactly, or -1.
type dtypeInfo struct {
	size    int
	convert func(dst []float32, src []byte) int
}

var dtypes = map[DType]dtypeInfo{
	Bool:   {1, convertBool},
	U8:     {1, convertU8},
	I8:     {1, convertI8},
	F8E5M2: {1, convertF8E5M2},
	F8E4M3: {1, convertF8E4M3},
	I16:    {2, convertI16},
	U16:    {2, convertU16},
	F16:    {2, convertF16},
	BF16:   {2, convertBF16},
	I32:    {4, convertI32},
	U32:    {4, convertU32},
	F32:    {4, convertF32},
	F64:    {8, convertF64},
	I64:    {8, convertI64},
	U64:    {8, convertU64},
}

// Size returns the width of one element in bytes, or 0 for an unknown dtype.
func (d DType) Size() int { return dtypes[d].size }

// IsFloat reports whether d is a floating-point dtype.
func (d DType) IsFloat() bool {
	switch d {
	case F8E5M2, F8E4M3, F16, BF16, F32, F64:
		return true
	}
	return false
}

// HalfToFloat32 widens an IEEE 754 binary16 value, given as its bits, to
// float32 exactly: subnormals, infinities and NaN payloads included.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch exp {
	case 0: // zero or subnormal: man·2^-24, exact in float32
		v := float32(man) * (1.0 / (1 << 24))
		return math.Float32frombits(math.Float32bits(v) | sign)
	case 0x1f: // infinity or NaN, keeping the payload
		return math.Float32frombits(sign | 0xff<<23 | man<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// BFloat16ToFloat32 widens a bfloat16 value, given as its bits, to float32:
// bfloat16 is the top half of a float32.
func BFloat16ToFloat32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// float8E4M3ToFloat32 widens an OCP float8 E4M3 value (torch.float8_e4m3fn:
// bias 7, no infinities, S.1111.111 is NaN).
func float8E4M3ToFloat32(b byte) float32 {
	exp := int(b>>3) & 0xf
	man := float32(b & 7)
	var v float32
	switch {
	case exp == 0xf && b&7 == 7:
		v = float32(math.NaN())
	case exp == 0:
		v = man / 8 * (1.0 / 64)
	default:
		v = (1 + man/8) * float32(math.Ldexp(1, exp-7))
	}
	if b&0x80 != 0 {
		v = -v
	}
	return v
}

// widen is the loop of the convert functions below: it fills dst from
// the size-byte elements of src, each widened by elem, and returns the
// index of the first element elem reports as not exact (float32 cannot
// hold it, or a BOOL byte is not 0 or 1), or -1. Each dtype passes its
// element rule as a function literal, which is inlined into the loop.
func widen(dst []float32, src []byte, size int, elem func(b []byte) (v float32, exact bool)) int {
	for i := range dst {
		v, exact := elem(src[size*i:])
		if !exact {
			return i
		}
		dst[i] = v
	}
	return -1
}

func convertBool(dst []float32, src []byte) int {
	return widen(dst, src, 1, func(b []byte) (float32, bool) { return float32(b[0]), b[0] <= 1 })
}

func convertU8(dst []float32, src []byte) int {
	return widen(dst, src, 1, func(b []byte) (float32, bool) { return float32(b[0]), true })
}

func convertI8(dst []float32, src []byte) int {
	return widen(dst, src, 1, func(b []byte) (float32, bool) { return float32(int8(b[0])), true })
}

func convertF8E5M2(dst []float32, src []byte) int {
	return widen(dst, src, 1, func(b []byte) (float32, bool) {
		return HalfToFloat32(uint16(b[0]) << 8), true // E5M2 is the top byte of a binary16
	})
}

func convertF8E4M3(dst []float32, src []byte) int {
	return widen(dst, src, 1, func(b []byte) (float32, bool) { return float8E4M3ToFloat32(b[0]), true })
}

func convertI16(dst []float32, src []byte) int {
	return widen(dst, src, 2, func(b []byte) (float32, bool) {
		return float32(int16(binary.LittleEndian.Uint16(b))), true
	})
}

func convertU16(dst []float32, src []byte) int {
	return widen(dst, src, 2, func(b []byte) (float32, bool) { return float32(binary.LittleEndian.Uint16(b)), true })
}

func convertF16(dst []float32, src []byte) int {
	return widen(dst, src, 2, func(b []byte) (float32, bool) {
		return HalfToFloat32(binary.LittleEndian.Uint16(b)), true
	})
}

func convertBF16(dst []float32, src []byte) int {
	return widen(dst, src, 2, func(b []byte) (float32, bool) {
		return BFloat16ToFloat32(binary.LittleEndian.Uint16(b)), true
	})
}

func convertI32(dst []float32, src []byte) int {
	return widen(dst, src, 4, func(b []byte) (float32, bool) {
		v := int32(binary.LittleEndian.Uint32(b))
		return float32(v), v <= maxSafe && v >= -maxSafe
	})
}

func convertU32(dst []float32, src []byte) int {
	return widen(dst, src, 4, func(b []byte) (float32, bool) {
		v := binary.LittleEndian.Uint32(b)
		return float32(v), v <= maxSafe
	})
}

func convertF32(dst []float32, src []byte) int {
	return widen(dst, src, 4, func(b []byte) (float32, bool) {
		return math.Float32frombits(binary.LittleEndian.Uint32(b)), true
	})
}

func convertF64(dst []float32, src []byte) int {
	return widen(dst, src, 8, func(b []byte) (float32, bool) {
		return float32(math.Float64frombits(binary.LittleEndian.Uint64(b))), true
	})
}

func convertI64(dst []float32, src []byte) int {
	return widen(dst, src, 8, func(b []byte) (float32, bool) {
		v := int64(binary.LittleEndian.Uint64(b))
		return float32(v), v <= maxSafe && v >= -maxSafe
	})
}

func convertU64(dst []float32, src []byte) int {
	return widen(dst, src, 8, func(b []byte) (float32, bool) {
		v := binary.LittleEndian.Uint64(b)
		return float32(v), v <= maxSafe
	})
}

// describe renders the dtype d element at the start of src for an error
// message.
func describe(d DType, src []byte) string {
	switch d {
	case Bool:
		return fmt.Sprintf("byte %d", src[0])
	case I32:
		return fmt.Sprint(int32(binary.LittleEndian.Uint32(src)))
	case U32:
		return fmt.Sprint(binary.LittleEndian.Uint32(src))
	case I64:
		return fmt.Sprint(int64(binary.LittleEndian.Uint64(src)))
	case U64:
		return fmt.Sprint(binary.LittleEndian.Uint64(src))
	}
	return "value"
}
