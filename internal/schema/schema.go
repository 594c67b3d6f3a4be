// Package schema holds the JSON Schemas of hostdrift's documents (snapshot
// and report) and derives them from the Go types, so they cannot drift from
// what hostdrift writes.
package schema

import (
	"embed"
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"time"
)

//go:embed *.schema.json
var files embed.FS

// File returns a committed schema by file name, e.g. "report.schema.json".
func File(name string) ([]byte, error) { return files.ReadFile(name) }

// Enums lists the allowed values of named string types, so the schema can
// say which statuses or severities exist.
type Enums map[reflect.Type][]string

// Generate derives a draft 2020-12 JSON Schema from a Go type as
// encoding/json would write it: fields without omitempty are required,
// unknown fields are refused, nil slices and pointers may be null.
func Generate(t reflect.Type, id, title string, enums Enums) ([]byte, error) {
	g := &generator{defs: map[string]any{}, enums: enums}
	root := g.schemaFor(t)
	doc := map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id":     id,
		"title":   title,
		"$defs":   g.defs,
	}
	for k, v := range root.(map[string]any) {
		doc[k] = v
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

type generator struct {
	defs  map[string]any
	enums Enums
}

var (
	timeType   = reflect.TypeOf(time.Time{})
	addrType   = reflect.TypeOf(netip.Addr{})
	prefixType = reflect.TypeOf(netip.Prefix{})
	rawType    = reflect.TypeOf(json.RawMessage{})
)

func nullable(s any) any {
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

func (g *generator) schemaFor(t reflect.Type) any {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case addrType:
		return map[string]any{"type": "string", "description": "an IPv4 or IPv6 address, or empty"}
	case prefixType:
		return map[string]any{"type": "string", "description": "an address prefix in CIDR notation"}
	case rawType:
		return map[string]any{}
	}
	if vals, ok := g.enums[t]; ok {
		return map[string]any{"type": "string", "enum": vals}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(g.schemaFor(t.Elem()))
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": []any{"array", "null"}, "items": g.schemaFor(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": []any{"object", "null"}, "additionalProperties": g.schemaFor(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := t.Name()
		if name == "" {
			return g.object(t)
		}
		key := defName(t)
		if _, done := g.defs[key]; !done {
			g.defs[key] = nil // mark before recursing
			g.defs[key] = g.object(t)
		}
		return map[string]any{"$ref": "#/$defs/" + key}
	}
	return map[string]any{}
}

func defName(t reflect.Type) string {
	pkg := t.PkgPath()
	return pkg[strings.LastIndex(pkg, "/")+1:] + "." + t.Name()
}

func (g *generator) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	required := []string{}
	g.fields(t, props, &required)
	return map[string]any{
		"type":                 "object",
		"properties":           props,
		"required":             required,
		"additionalProperties": false,
	}
}

// fields adds t's fields to props; an embedded struct without a JSON name is
// flattened into its parent, as encoding/json does.
func (g *generator) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			g.fields(f.Type, props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schemaFor(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
}
