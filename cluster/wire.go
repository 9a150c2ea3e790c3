package cluster

import (
	"encoding/binary"
	"errors"
)

// The link frames and the gossiped key set are written with this small
// codec: unsigned varints, and byte strings prefixed by their varint length.
// A decoder never reads past its buffer and fails on the first bad field, so
// a hostile or corrupt peer gets an error, never a panic or a huge
// allocation.

var errShort = errors.New("truncated or malformed field")

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) bytes(p []byte)  { e.uint(uint64(len(p))); e.b = append(e.b, p...) }
func (e *encoder) string(s string) { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) int(v int64)     { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) fixed(p []byte)  { e.b = append(e.b, p...) }
func (e *encoder) bool(v bool) {
	if v {
		e.uint(1)
	} else {
		e.uint(0)
	}
}

// presence is an availability flag then a priority.
func (e *encoder) presence(p presence) {
	e.bool(p.available)
	e.int(int64(p.priority))
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns a copy, so the result outlives the frame buffer.
func (d *decoder) bytes() []byte {
	n := d.uint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	p := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return p
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) fixed(p []byte) {
	if d.err != nil {
		return
	}
	if len(d.b) < len(p) {
		d.err = errShort
		return
	}
	copy(p, d.b)
	d.b = d.b[len(p):]
}

func (d *decoder) bool() bool {
	switch d.uint() {
	case 0:
		return false
	case 1:
		return true
	}
	if d.err == nil {
		d.err = errShort
	}
	return false
}

// count reads a number of items that follow, each at least min bytes long,
// and fails when the buffer cannot hold that many: no allocation is sized by
// a number the peer chose.
func (d *decoder) count(min int) int {
	n := d.uint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/min) {
		d.err = errShort
		return 0
	}
	return int(n)
}

// done fails when bytes are left over.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	return d.err
}

// presence reads what encoder.presence wrote; a priority outside
// -128..127 (RFC 6121 section 4.7.2.3) is malformed.
func (d *decoder) presence() presence {
	avail := d.bool()
	prio := d.int()
	if d.err == nil && (prio < -128 || prio > 127) {
		d.err = errors.New("priority out of range")
	}
	return presence{available: avail, priority: int8(prio)}
}
