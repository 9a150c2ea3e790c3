package xmltok

import "io"

// Source is a reader that lends the decoder its buffer: Peek returns the
// bytes it holds that nobody has taken yet (reading once when it holds
// none, and never returning an empty window without an error), and
// Discard(n) takes the first n of them. The decoder discards exactly the
// bytes it decoded, before every Peek and before Token returns, so a
// source that counts what Discard takes counts what was decoded, and
// whatever follows the last token is still the source's.
//
// A Source may hand out fewer bytes than it holds (a size limit), and fail
// Peek once nothing more may be taken.
type Source interface {
	Peek() ([]byte, error)
	Discard(n int)
}

// byteSource lends one byte at a time from an io.ByteReader: like
// encoding/xml reading it, the decoder takes no byte it does not decode.
type byteSource struct {
	r   io.ByteReader
	b   [1]byte
	has bool
}

func (s *byteSource) Peek() ([]byte, error) {
	if !s.has {
		c, err := s.r.ReadByte()
		if err != nil {
			return nil, err
		}
		s.b[0], s.has = c, true
	}
	return s.b[:], nil
}

func (s *byteSource) Discard(n int) {
	if n > 0 {
		s.has = false
	}
}

// readerSource buffers a plain io.Reader, as encoding/xml does with bufio:
// it reads ahead of what was decoded.
type readerSource struct {
	r     io.Reader
	buf   []byte
	r0    int
	w     int
	err   error
	empty int
}

func (s *readerSource) Peek() ([]byte, error) {
	for s.r0 == s.w {
		if s.err != nil {
			return nil, s.err
		}
		if s.buf == nil {
			s.buf = make([]byte, 4096)
		}
		n, err := s.r.Read(s.buf)
		s.r0, s.w, s.err = 0, n, err
		if n == 0 && err == nil {
			s.empty++
			if s.empty > 100 {
				s.err = io.ErrNoProgress
			}
		}
	}
	return s.buf[s.r0:s.w], nil
}

func (s *readerSource) Discard(n int) { s.r0 += n }

// sourceOf returns r as a Source: itself, an io.ByteReader read a byte at a
// time, or any other reader buffered.
func sourceOf(r io.Reader) Source {
	switch r := r.(type) {
	case Source:
		return r
	case io.ByteReader:
		return &byteSource{r: r}
	}
	return &readerSource{r: r}
}
