package metrics

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// A scrape's answer is the state's families, the same until the next
// reading, followed by the live collectors'. Compressing the whole answer
// at every scrape would cost as much as encoding it (17 ms for the 1 MB of
// 10,000 projects), so the state's part is compressed once and the answer
// is one gzip member (RFC 1952) made of that part's deflate blocks, ended
// by a flush on a byte boundary and not marked final, then the live part
// compressed now, whose last block is final. Any gzip reader reads it as
// it would one stream compressed in one go: the checksum and length in
// the trailer are of the whole.

// deflatedHead is the compressed head of a gzip member.
type deflatedHead struct {
	blocks []byte
	crc    uint32 // CRC-32 of the uncompressed bytes
	size   uint32 // their length, modulo 2³²
}

func deflate(plain []byte) *deflatedHead {
	var buf bytes.Buffer
	fw := flateWriters.Get().(*flate.Writer)
	defer func() { fw.Reset(io.Discard); flateWriters.Put(fw) }() // hold no destination in the pool
	fw.Reset(&buf)
	fw.Write(plain) // a bytes.Buffer does not fail
	fw.Flush()      // byte-aligned, not final: more blocks may follow
	return &deflatedHead{blocks: bytes.Clone(buf.Bytes()), crc: crc32.ChecksumIEEE(plain), size: uint32(len(plain))}
}

var flateWriters = sync.Pool{New: func() any {
	fw, _ := flate.NewWriter(nil, flate.DefaultCompression) // a valid level cannot fail
	return fw
}}

// gzipHeader is a member's header: deflate, no flags, no time, unknown OS.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

// writeGzip writes one gzip member holding head's bytes then tail.
func writeGzip(w io.Writer, head *deflatedHead, tail []byte) error {
	if _, err := w.Write(gzipHeader); err != nil {
		return err
	}
	if _, err := w.Write(head.blocks); err != nil {
		return err
	}
	fw := flateWriters.Get().(*flate.Writer)
	defer func() { fw.Reset(io.Discard); flateWriters.Put(fw) }() // hold no destination in the pool
	fw.Reset(w)
	if _, err := fw.Write(tail); err != nil {
		return err
	}
	if err := fw.Close(); err != nil {
		return err
	}
	trailer := binary.LittleEndian.AppendUint32(nil, crc32.Update(head.crc, crc32.IEEETable, tail))
	trailer = binary.LittleEndian.AppendUint32(trailer, head.size+uint32(len(tail)))
	_, err := w.Write(trailer)
	return err
}

// acceptsGzip reports whether a client's Accept-Encoding prefers gzip to
// no compression, as promhttp decides between the two: gzip when the
// best weight (q) given to it ("gzip" or "*") is above zero and above the
// best given to "identity" (or "*"), which is otherwise the answer.
func acceptsGzip(h http.Header) bool {
	gzipQ, identityQ := -1.0, -1.0
	for _, line := range h.Values("Accept-Encoding") {
		for _, spec := range strings.Split(line, ",") {
			coding, params, _ := strings.Cut(spec, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
						q = f
					}
				}
			}
			if coding == "gzip" || coding == "*" {
				gzipQ = max(gzipQ, q)
			}
			if coding == "identity" || coding == "*" {
				identityQ = max(identityQ, q)
			}
		}
	}
	return gzipQ > 0 && gzipQ > identityQ
}
