package server

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"testing"
)

// scan is a PNG shaped like a phone photo of an identity document: 1600×1000
// RGB, a paper-coloured card with lines of dark "text" over sensor noise.
func scan(tb testing.TB) []byte {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1600, 1000))
	r := rand.New(rand.NewPCG(7, 7))
	for y := range 1000 {
		for x := range 1600 {
			v := 200 + r.IntN(24)
			if y%40 < 12 && x%14 < 9 && x > 120 && x < 1480 && y > 100 && y < 900 {
				v = 40 + r.IntN(24)
			}
			img.Set(x, y, color.RGBA{uint8(v), uint8(v - 8), uint8(v - 20), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkReencodeScan times the re-encoding every PNG upload goes
// through and reports the stored size against the uploaded one.
func BenchmarkReencodeScan(b *testing.B) {
	in := scan(b)
	var out []byte
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		var err error
		if out, err = reencode(in, typePNG); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(out))/float64(len(in)), "stored/uploaded")
}
