package server

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"runtime"
	"testing"

	"github.com/opendsar/dsar"
)

// pngHeaderOnly is a tiny PNG whose header claims width×height pixels of
// 16-bit RGBA, with almost no pixel data: a decompression bomb's shape.
func pngHeaderOnly(width, height uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], width)
	binary.BigEndian.PutUint32(ihdr[4:], height)
	ihdr[8], ihdr[9] = 16, 6 // bit depth 16, RGBA
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	_, _ = w.Write([]byte{0, 0, 0})
	_ = w.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return b.Bytes()
}

func TestDecompressionBombIsRefusedWithoutDecoding(t *testing.T) {
	bomb := pngHeaderOnly(7000, 7000) // 392 MiB once decoded
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := checkDocument(bomb)
	runtime.ReadMemStats(&after)
	if dsar.ErrorCode(err) != dsar.EINVALID {
		t.Fatalf("want EINVALID naming the document, got %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
		t.Errorf("checking a %d-byte file allocated %d MiB", len(bomb), grew>>20)
	}
}
