package server

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"sync"

	"github.com/opendsar/dsar"
)

// Accepted identity document types.
const (
	typeJPEG = "image/jpeg"
	typePNG  = "image/png"
	typePDF  = "application/pdf"
)

// maxImagePixels and maxDecodedBytes bound a decoded image, so a small
// file cannot expand into gigabytes of memory (a decompression bomb): a
// 50-megapixel phone photo passes, a 16-bit 7000×7000 PNG of 72 bytes not.
const (
	maxImagePixels  = 50_000_000
	maxDecodedBytes = 200 << 20
)

// decodeSlots bounds how many images are decoded at once in this process,
// so that a burst of large uploads cannot exhaust memory together. It is
// a semaphore; nothing else is kept in it.
var decodeSlots = make(chan struct{}, 2)

// bytesPerPixel is what the decoder allocates per pixel for a colour model.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	case color.Gray16Model:
		return 2
	case color.GrayModel, color.AlphaModel:
		return 1
	}
	return 4
}

// checkDocument checks an identity document: EUNSUPPORTED unless its
// content (not its name or declared type) is JPEG, PNG or PDF, EINVALID for
// an empty or unreadable file. Images are decoded and re-encoded, which
// drops their metadata (EXIF location, camera, thumbnails); PDFs are kept as
// they are. It returns the document to store and its type.
func checkDocument(data []byte) ([]byte, string, error) {
	const field = "identity_document"
	if len(data) == 0 {
		return nil, "", dsar.Invalid(map[string]string{field: "the file is empty"})
	}
	switch ct := http.DetectContentType(data); ct {
	case typeJPEG, typePNG:
		out, err := reencode(data, ct)
		if err != nil {
			return nil, "", dsar.Invalid(map[string]string{field: "the image cannot be read; try another photo or a PDF"})
		}
		return out, ct, nil
	case typePDF:
		return data, typePDF, nil
	default:
		return nil, "", &dsar.Error{Code: dsar.EUNSUPPORTED, Message: "the identity document must be a JPEG, PNG or PDF file",
			Fields: map[string]string{field: "must be a JPEG, PNG or PDF file"}}
	}
}

func tooLarge(maxBytes int64) error {
	return &dsar.Error{Code: dsar.ETOOLARGE, Message: fmt.Sprintf("the identity document is larger than %s", humanBytes(maxBytes)),
		Fields: map[string]string{"identity_document": "must be at most " + humanBytes(maxBytes)}}
}

// pngEncoder reuses its compressor state (about a megabyte, allocated anew
// by png.Encode each time) from one upload to the next. It compresses at
// the fastest level: a document is kept only until the requester's identity
// is checked, and on a phone photo of a card the default level took half as
// long again for 15% fewer bytes (BenchmarkReencodeScan).
var pngEncoder = &png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngBuffers{}}

type pngBuffers struct{ pool sync.Pool }

func (p *pngBuffers) Get() *png.EncoderBuffer {
	b, _ := p.pool.Get().(*png.EncoderBuffer)
	return b
}

func (p *pngBuffers) Put(b *png.EncoderBuffer) { p.pool.Put(b) }

// reencode decodes an image and encodes its pixels again, without metadata.
func reencode(data []byte, ct string) ([]byte, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	pixels := int64(cfg.Width) * int64(cfg.Height)
	if cfg.Width <= 0 || cfg.Height <= 0 || pixels > maxImagePixels || pixels*bytesPerPixel(cfg.ColorModel) > maxDecodedBytes {
		return nil, fmt.Errorf("image of %dx%d pixels", cfg.Width, cfg.Height)
	}
	decodeSlots <- struct{}{}
	defer func() { <-decodeSlots }()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if ct == typePNG {
		err = pngEncoder.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	}
	return buf.Bytes(), err
}

// humanBytes writes a size for people: 10 MiB, 512 KiB.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
