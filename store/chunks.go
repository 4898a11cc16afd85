package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

// Large content (task files, access packages) is stored as a sequence of
// sealed chunks: each chunk is sealed on its own, bound to its owner, its
// position and whether it is the last, so chunks cannot be reordered,
// moved or dropped from the end without the read failing, and neither a
// write nor a read holds more than two chunks in memory.

// ErrCorrupt is stored content that does not open: altered, reordered or
// cut short. No retry can fix it.
var ErrCorrupt = errors.New("stored content is corrupt")

// ChunkSize is the plaintext size of every chunk but the last.
const ChunkSize = 1 << 20

// chunkAAD is a chunk's associated data: what it is part of (kind and id),
// where, and whether it ends the content.
func chunkAAD(kind, id string, seq int, last bool) []byte {
	end := "more"
	if last {
		end = "last"
	}
	return []byte("dsar " + kind + " chunk " + id + " " + strconv.Itoa(seq) + " " + end)
}

// sealed is what sealChunks wrote: the plaintext's size and SHA-256, and
// how many chunks.
type sealed struct {
	Size   int64
	SHA256 string
	Chunks int
}

// sealChunks reads r to its end and hands each sealed chunk to put, in
// order. Content longer than maxSize (when positive) stops the write with
// ETOOLARGE as soon as it is seen. Empty content is one empty last chunk.
func sealChunks(key []byte, kind, id string, r io.Reader, maxSize int64, put func(seq int, sealed []byte) error) (sealed, error) {
	h := sha256.New()
	cur, next := make([]byte, ChunkSize), make([]byte, ChunkSize)
	// fill reads until buf is full or the content ends: only io.EOF itself
	// ends it; anything else (a body cut short is io.ErrUnexpectedEOF) is
	// a failure, and nothing is stored.
	fill := func(buf []byte) (int, error) {
		n := 0
		for n < len(buf) {
			m, err := r.Read(buf[n:])
			n += m
			if err == io.EOF { //nolint:errorlint // the end of the content, not an error that wraps it
				return n, nil
			}
			if err != nil {
				return n, err
			}
		}
		return n, nil
	}
	var out sealed
	n, err := fill(cur)
	if err != nil {
		return out, err
	}
	for seq := 0; ; seq++ {
		m := 0
		if n == ChunkSize { // there may be more: read ahead to know whether this chunk is the last
			if m, err = fill(next); err != nil {
				return out, err
			}
		}
		last := m == 0
		out.Size += int64(n)
		if maxSize > 0 && out.Size > maxSize {
			return out, dsar.Errorf(dsar.ETOOLARGE, "the file is larger than %d bytes", maxSize)
		}
		h.Write(cur[:n])
		s, err := crypto.Seal(key, cur[:n], chunkAAD(kind, id, seq, last))
		if err != nil {
			return out, err
		}
		if err := put(seq, s); err != nil {
			return out, err
		}
		out.Chunks++
		if last {
			break
		}
		cur, next, n = next, cur, m
	}
	out.SHA256 = hex.EncodeToString(h.Sum(nil))
	return out, nil
}

// readChunks reads content of kind and id stored in chunks, each fetched by
// query ($1 the id, $2 the sequence number) as it is read. gone, when not
// nil, is the error for a chunk no longer there; else it is the store's.
func (db *DB) readChunks(ctx context.Context, key []byte, kind, id string, chunks int, query string, gone error) *chunkReader {
	return &chunkReader{key: key, kind: kind, id: id, chunks: chunks, get: func(seq int) ([]byte, error) {
		var s []byte
		err := db.GetContext(ctx, &s, query, id, seq)
		if gone != nil && errors.Is(err, sql.ErrNoRows) {
			return nil, gone
		}
		if err != nil {
			return nil, fmt.Errorf("store: %s %s chunk %d: %w", kind, id, seq, Translate(err))
		}
		return s, nil
	}}
}

// chunkReader reads content stored by sealChunks: get fetches chunk seq,
// sealed, out of chunks in all.
type chunkReader struct {
	key    []byte
	kind   string
	id     string
	chunks int
	get    func(seq int) ([]byte, error)
	close  func() error
	seq    int
	buf    []byte
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.seq >= c.chunks {
			return 0, io.EOF
		}
		s, err := c.get(c.seq)
		if err != nil {
			return 0, err
		}
		plain, err := crypto.Open(c.key, s, chunkAAD(c.kind, c.id, c.seq, c.seq == c.chunks-1))
		if err != nil {
			return 0, fmt.Errorf("store: open %s %s chunk %d: %w: %w", c.kind, c.id, c.seq, ErrCorrupt, err)
		}
		c.seq++
		c.buf = plain
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func (c *chunkReader) Close() error {
	if c.close != nil {
		return c.close()
	}
	return nil
}
