// Package jsonstream writes a value as indented JSON to a writer as it goes,
// byte for byte what encoding/json's Encoder with SetIndent("", "  ") writes,
// without building the whole document in memory first.
//
// encoding/json marshals the whole value compactly and then indents a copy:
// for a snapshot of a big host that is two documents of hundreds of MB held at
// once. Encode walks the containers itself (structs with plain fields, slices)
// and hands each leaf value (an element without slices below it, anything
// with its own MarshalJSON, maps, anything this package does not walk) to
// encoding/json, so peak memory is the largest leaf, not the document.
package jsonstream

import (
	"bufio"
	"bytes"
	"encoding"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"sync"
)

// indent is the indentation hostdrift's documents use.
const indent = "  "

// Options choose the encoding/json settings to match.
type Options struct {
	// EscapeHTML escapes <, > and & in strings, as json.Marshal and a new
	// json.Encoder do by default.
	EscapeHTML bool
}

// Encode writes v to w as json.Encoder with SetIndent("", "  ") and
// SetEscapeHTML(o.EscapeHTML) would, followed by a newline. Bytes are written
// as they are produced: if an error comes mid-way, w has received part of a
// document, so write to a temporary file and rename it (atomicfile) where a
// reader must never see half a document.
func Encode(w io.Writer, v any, o Options) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	e := &encoder{w: bw}
	e.enc = json.NewEncoder(&e.leaf)
	e.enc.SetEscapeHTML(o.EscapeHTML)
	if err := e.value(reflect.ValueOf(v), 0); err != nil {
		return err
	}
	if err := bw.WriteByte('\n'); err != nil {
		return err
	}
	return bw.Flush()
}

type encoder struct {
	w    *bufio.Writer
	enc  *json.Encoder // writes compact leaves into leaf
	leaf bytes.Buffer
	ind  bytes.Buffer
}

// value writes v at nesting depth (its first line is already indented).
func (e *encoder) value(v reflect.Value, depth int) error {
	if !v.IsValid() {
		_, err := e.w.WriteString("null")
		return err
	}
	t := v.Type()
	switch {
	case !walkable(t):
		return e.marshal(v, depth)
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			_, err := e.w.WriteString("null")
			return err
		}
		return e.value(v.Elem(), depth)
	case t.Kind() == reflect.Slice:
		if v.IsNil() {
			_, err := e.w.WriteString("null")
			return err
		}
		return e.slice(v, depth)
	default:
		return e.object(v, depth)
	}
}

func (e *encoder) slice(v reflect.Value, depth int) error {
	if v.Len() == 0 {
		_, err := e.w.WriteString("[]")
		return err
	}
	e.w.WriteByte('[')
	for i := range v.Len() {
		if i > 0 {
			e.w.WriteByte(',')
		}
		e.newline(depth + 1)
		if err := e.value(v.Index(i), depth+1); err != nil {
			return err
		}
	}
	e.newline(depth)
	return e.w.WriteByte(']')
}

func (e *encoder) object(v reflect.Value, depth int) error {
	n := 0
	for _, f := range fieldsOf(v.Type()) {
		fv := v.Field(f.index)
		if f.omitEmpty && isEmpty(fv) {
			continue
		}
		if n == 0 {
			e.w.WriteByte('{')
		} else {
			e.w.WriteByte(',')
		}
		n++
		e.newline(depth + 1)
		e.w.WriteString(f.key)
		if err := e.value(fv, depth+1); err != nil {
			return err
		}
	}
	if n == 0 {
		_, err := e.w.WriteString("{}")
		return err
	}
	e.newline(depth)
	return e.w.WriteByte('}')
}

func (e *encoder) newline(depth int) {
	e.w.WriteByte('\n')
	for range depth {
		e.w.WriteString(indent)
	}
}

// marshal writes one leaf through encoding/json, indented as it would be at
// this depth of the whole document.
func (e *encoder) marshal(v reflect.Value, depth int) error {
	// encoding/json uses pointer-receiver methods only on addressable
	// values; marshalling the address keeps exactly that.
	x := v.Interface()
	if v.CanAddr() {
		x = v.Addr().Interface()
	}
	e.leaf.Reset()
	if err := e.enc.Encode(x); err != nil {
		return err
	}
	compact := bytes.TrimSuffix(e.leaf.Bytes(), []byte("\n"))
	e.ind.Reset()
	if err := json.Indent(&e.ind, compact, strings.Repeat(indent, depth), indent); err != nil {
		return err
	}
	_, err := e.w.Write(e.ind.Bytes())
	return err
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// hasMethods reports whether t or *t marshals itself.
func hasMethods(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Implements(marshalerType) || t.Implements(textMarshalerType) ||
		p.Implements(marshalerType) || p.Implements(textMarshalerType)
}

// field is one JSON member of a walked struct.
type field struct {
	index     int
	key       string // the quoted name and ": "
	omitEmpty bool
}

type typeInfo struct {
	walk   bool
	fields []field
}

var infos sync.Map // reflect.Type -> *typeInfo

// walkable reports whether Encode walks t itself rather than handing it to
// encoding/json: a pointer to, or a slice or struct holding, a slice
// somewhere below, with nothing this package does not reproduce exactly.
func walkable(t reflect.Type) bool { return info(t).walk }

func fieldsOf(t reflect.Type) []field { return info(t).fields }

func info(t reflect.Type) *typeInfo {
	if ti, ok := infos.Load(t); ok {
		return ti.(*typeInfo)
	}
	// Recursive types: assume not walkable while t is being looked at.
	infos.Store(t, &typeInfo{})
	ti := build(t)
	infos.Store(t, ti)
	return ti
}

func build(t reflect.Type) *typeInfo {
	if t.Kind() != reflect.Pointer && hasMethods(t) {
		return &typeInfo{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		if hasMethods(t.Elem()) || reflect.PointerTo(t.Elem()) != t {
			return &typeInfo{}
		}
		return &typeInfo{walk: info(t.Elem()).walk}
	case reflect.Slice:
		// []byte is base64; a slice of anything else is worth walking
		// element by element.
		return &typeInfo{walk: t.Elem().Kind() != reflect.Uint8}
	case reflect.Struct:
		return buildStruct(t)
	}
	return &typeInfo{}
}

func buildStruct(t reflect.Type) *typeInfo {
	var fs []field
	walk := false
	seen := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return &typeInfo{} // promoted fields: encoding/json's rules, not ours
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		omitEmpty := false
		for opt := range strings.SplitSeq(opts, ",") {
			switch opt {
			case "":
			case "omitempty":
				omitEmpty = true
			default: // string, omitzero, anything newer
				return &typeInfo{}
			}
		}
		if name == "" {
			name = sf.Name
		} else if !plainName(name) {
			return &typeInfo{}
		}
		if seen[name] {
			return &typeInfo{} // a name conflict: encoding/json drops both
		}
		seen[name] = true
		key, err := json.Marshal(name)
		if err != nil {
			return &typeInfo{}
		}
		fs = append(fs, field{index: i, key: string(key) + ": ", omitEmpty: omitEmpty})
		if info(sf.Type).walk {
			walk = true
		}
	}
	return &typeInfo{walk: walk, fields: fs}
}

// plainName reports whether a tag name is one encoding/json certainly takes
// as it is, and needs no escaping.
func plainName(s string) bool {
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// isEmpty is encoding/json's test for omitempty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}
