package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

// chunkStore is sealed chunks as a table holds them: by sequence.
type chunkStore map[int][]byte

func (s chunkStore) put(seq int, sealed []byte) error {
	if _, ok := s[seq]; ok {
		return fmt.Errorf("chunk %d put twice", seq)
	}
	s[seq] = bytes.Clone(sealed)
	return nil
}

func (s chunkStore) get(seq int) ([]byte, error) {
	c, ok := s[seq]
	if !ok {
		return nil, fmt.Errorf("no chunk %d", seq)
	}
	return c, nil
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, crypto.KeySize) }

// sealed content: random bytes (so a chunk swapped for another differs).
func content(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

func sealInto(t *testing.T, key []byte, kind, id string, data []byte) (chunkStore, sealed) {
	t.Helper()
	s := chunkStore{}
	out, err := sealChunks(key, kind, id, bytes.NewReader(data), 0, s.put)
	if err != nil {
		t.Fatal(err)
	}
	return s, out
}

func readChunks(key []byte, kind, id string, chunks int, s chunkStore) ([]byte, error) {
	return io.ReadAll(&chunkReader{key: key, kind: kind, id: id, chunks: chunks, get: s.get})
}

func TestChunksRoundTrip(t *testing.T) {
	key := testKey(1)
	for _, tc := range []struct {
		size, chunks int
	}{
		{0, 1}, {1, 1}, {ChunkSize - 1, 1}, {ChunkSize, 1}, {ChunkSize + 1, 2}, {3 * ChunkSize, 3},
	} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			data := content(tc.size)
			s, out := sealInto(t, key, kindTaskFile, "f1", data)
			sum := sha256.Sum256(data)
			if out.Size != int64(tc.size) || out.Chunks != tc.chunks || out.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("sealed %+v, want size %d in %d chunks, sha256 %x", out, tc.size, tc.chunks, sum)
			}
			if len(s) != tc.chunks {
				t.Fatalf("%d chunks put, %d reported", len(s), tc.chunks)
			}
			for seq, c := range s {
				if seq < tc.chunks-1 && len(c) <= ChunkSize {
					t.Errorf("chunk %d of %d is short (%d sealed bytes): only the last may be", seq, tc.chunks, len(c))
				}
			}
			got, err := readChunks(key, kindTaskFile, "f1", out.Chunks, s)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes (want %d), equal %v: %v", len(got), len(data), bytes.Equal(got, data), err)
			}
			// Reads of every size give the same bytes.
			if err := iotest.TestReader(&chunkReader{key: key, kind: kindTaskFile, id: "f1", chunks: out.Chunks, get: s.get}, data); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestChunksTamperedFailToRead: whoever can write the chunk table cannot
// reorder, alter, truncate or transplant content without the read failing.
func TestChunksTamperedFailToRead(t *testing.T) {
	key := testKey(2)
	data := content(3 * ChunkSize)
	other := content(3*ChunkSize + 5)
	for _, tc := range []struct {
		name   string
		kind   string
		id     string
		chunks int
		tamper func(s, o chunkStore)
	}{
		{name: "chunks swapped", tamper: func(s, _ chunkStore) { s[0], s[1] = s[1], s[0] }},
		{name: "last two swapped", tamper: func(s, _ chunkStore) { s[1], s[2] = s[2], s[1] }},
		{name: "a byte altered", tamper: func(s, _ chunkStore) { s[1][len(s[1])/2] ^= 1 }},
		{name: "a tag altered", tamper: func(s, _ chunkStore) { s[2][len(s[2])-1] ^= 0x80 }},
		{name: "a nonce altered", tamper: func(s, _ chunkStore) { s[0][0] ^= 1 }},
		{name: "last chunk dropped", chunks: 2, tamper: func(s, _ chunkStore) { delete(s, 2) }},
		{name: "a chunk added", chunks: 4, tamper: func(s, o chunkStore) { s[3] = o[3] }},
		{name: "told one chunk more", chunks: 4, tamper: func(s, _ chunkStore) { s[3] = s[2] }},
		{name: "chunk from another file", tamper: func(s, o chunkStore) { s[1] = o[1] }},
		{name: "last chunk from another file", tamper: func(s, o chunkStore) { s[2] = o[2] }},
		{name: "content moved to another id", id: "f2", tamper: func(s, _ chunkStore) {}},
		{name: "content read as another kind", kind: kindPackage, tamper: func(s, _ chunkStore) {}},
		{name: "chunk truncated", tamper: func(s, _ chunkStore) { s[0] = s[0][:10] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, out := sealInto(t, key, kindTaskFile, "f1", data)
			o, _ := sealInto(t, key, kindTaskFile, "f2", other)
			tc.tamper(s, o)
			kind, id, chunks := kindTaskFile, "f1", out.Chunks
			if tc.kind != "" {
				kind = tc.kind
			}
			if tc.id != "" {
				id = tc.id
			}
			if tc.chunks != 0 {
				chunks = tc.chunks
			}
			got, err := readChunks(key, kind, id, chunks, s)
			if !errors.Is(err, crypto.ErrDecrypt) {
				t.Fatalf("read %d bytes, err %v; want crypto.ErrDecrypt", len(got), err)
			}
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		s, out := sealInto(t, key, kindTaskFile, "f1", data)
		if _, err := readChunks(testKey(3), kindTaskFile, "f1", out.Chunks, s); !errors.Is(err, crypto.ErrDecrypt) {
			t.Fatalf("err %v; want crypto.ErrDecrypt", err)
		}
	})
	t.Run("empty content dropped", func(t *testing.T) {
		s, _ := sealInto(t, key, kindTaskFile, "f1", nil)
		// The one chunk of empty content, read as content of one chunk more
		// than it has, must not pass for the first of two.
		if _, err := readChunks(key, kindTaskFile, "f1", 2, chunkStore{0: s[0], 1: s[0]}); !errors.Is(err, crypto.ErrDecrypt) {
			t.Fatalf("err %v; want crypto.ErrDecrypt", err)
		}
	})
}

// endless is a reader that never ends, counting what was read.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	clear(p)
	e.n += int64(len(p))
	return len(p), nil
}

func TestChunksMaxSize(t *testing.T) {
	key := testKey(4)
	for _, tc := range []struct {
		name      string
		size, max int64
		tooLarge  bool
	}{
		{"small at the limit", 10, 10, false},
		{"small past the limit", 11, 10, true},
		{"a chunk at the limit", ChunkSize, ChunkSize, false},
		{"a chunk past the limit", ChunkSize + 1, ChunkSize, true},
		{"three chunks at the limit", 3 * ChunkSize, 3 * ChunkSize, false},
		{"three chunks one byte past", 3 * ChunkSize, 3*ChunkSize - 1, true},
		{"no limit", 2*ChunkSize + 3, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := chunkStore{}
			out, err := sealChunks(key, kindTaskFile, "f", bytes.NewReader(make([]byte, tc.size)), tc.max, s.put)
			if tc.tooLarge {
				if dsar.ErrorCode(err) != dsar.ETOOLARGE {
					t.Fatalf("err %v, want ETOOLARGE", err)
				}
				var stored int64
				for _, c := range s {
					stored += int64(len(c))
				}
				if stored > tc.max+int64(len(s))*64 {
					t.Errorf("%d sealed bytes put before refusing %d bytes over a limit of %d", stored, tc.size, tc.max)
				}
				return
			}
			if err != nil || out.Size != tc.size {
				t.Fatalf("sealed %+v: %v", out, err)
			}
		})
	}
	t.Run("stops reading an endless body", func(t *testing.T) {
		r := &endless{}
		puts := 0
		_, err := sealChunks(key, kindTaskFile, "f", r, 2*ChunkSize+1, func(int, []byte) error { puts++; return nil })
		if dsar.ErrorCode(err) != dsar.ETOOLARGE {
			t.Fatalf("err %v, want ETOOLARGE", err)
		}
		if puts > 2 || r.n > 5*ChunkSize {
			t.Errorf("%d chunks put, %d bytes read before refusing a body past 2 MiB", puts, r.n)
		}
	})
}

func TestChunksPassOnErrors(t *testing.T) {
	key := testKey(5)
	boom := errors.New("boom")
	if _, err := sealChunks(key, kindTaskFile, "f", iotest.ErrReader(boom), 0, chunkStore{}.put); !errors.Is(err, boom) {
		t.Errorf("reader error: got %v", err)
	}
	r := io.MultiReader(bytes.NewReader(make([]byte, ChunkSize+10)), iotest.ErrReader(boom))
	if _, err := sealChunks(key, kindTaskFile, "f", r, 0, chunkStore{}.put); !errors.Is(err, boom) {
		t.Errorf("reader error after a chunk: got %v", err)
	}
	puts := 0
	_, err := sealChunks(key, kindTaskFile, "f", bytes.NewReader(make([]byte, 3*ChunkSize)), 0, func(int, []byte) error {
		puts++
		return boom
	})
	if !errors.Is(err, boom) || puts != 1 {
		t.Errorf("put error: got %v after %d puts", err, puts)
	}
	if _, err := readChunks(key, kindTaskFile, "f", 2, chunkStore{}); err == nil {
		t.Error("a missing chunk read as nothing")
	}
}

// TestChunksWriteInBoundedMemory seals 64 MiB of zeros into a put that
// discards: the live heap, sampled after a collection as chunks go by,
// stays a few chunks above where it began.
func TestChunksWriteInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB sealed")
	}
	const size = 64 << 20
	key := testKey(6)
	var before, m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var peak uint64
	_, err := sealChunks(key, kindPackage, "p", io.LimitReader(&endless{}, size), 0, func(seq int, _ []byte) error {
		if seq%8 == 4 {
			runtime.GC()
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&m)
	grew := int64(peak) - int64(before.HeapAlloc)
	total := m.TotalAlloc - before.TotalAlloc
	t.Logf("live heap grew by at most %d KiB; %d MiB allocated in all for %d MiB sealed", grew>>10, total>>20, size>>20)
	if grew > 8*ChunkSize {
		t.Errorf("the live heap grew by %d MiB sealing %d MiB: the write holds the content", grew>>20, size>>20)
	}
	// One sealed copy per chunk is expected; twice the content would mean
	// the content is copied or buffered on the way.
	if total > 2*size {
		t.Errorf("%d MiB allocated sealing %d MiB", total>>20, size>>20)
	}
}

// TestChunksACutShortReaderIsNoEnd: a reader that fails with
// io.ErrUnexpectedEOF (what net/http's body and a multipart part return
// when the client's upload is cut short) has not ended: its content is
// not the whole file and must not be sealed as if it were.
func TestChunksACutShortReaderIsNoEnd(t *testing.T) {
	key := testKey(7)
	for _, size := range []int{10, ChunkSize, ChunkSize + 10} {
		r := io.MultiReader(bytes.NewReader(make([]byte, size)), iotest.ErrReader(io.ErrUnexpectedEOF))
		out, err := sealChunks(key, kindTaskFile, "f", r, 0, chunkStore{}.put)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d bytes then the connection lost: sealed %+v as the whole content (err %v)", size, out, err)
		}
	}
}
