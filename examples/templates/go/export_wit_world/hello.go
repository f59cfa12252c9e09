// Package export_wit_world is a coapwasm plugin in Go: GET /hello answers
// "hello".
//
// Start a plugin from here: copy this folder to plugins/<name>/, rename
// things, and run `bash plugins/<name>/build.sh`. The bindings of
// wit/plugin.wit's `plugin` world (wit-bindgen's Go generator) are written
// by build.sh into target/go-plugins/<name>/, the module `wit_component` in
// which this package is built; read them there for every type. The package
// name is fixed: the generated main package calls Describe, Handle and
// Sample here.
package export_wit_world

import (
	witTypes "go.bytecodealliance.org/pkg/wit/types"
	"wit_component/coapwasm_plugin_log"
	. "wit_component/coapwasm_plugin_types"
)

// Content-Format text/plain;charset=utf-8 (RFC 7252 §12.3).
const text uint16 = 0

func Describe() PluginDescription {
	return PluginDescription{
		Name:    "hello", // names its key-value namespace
		Version: "0.1.0",
		Resources: []ResourceDescription{{
			Path:             "/hello",
			Methods:          MethodsGet,
			ContentFormats:   []uint16{text},
			Attributes:       []LinkAttribute{{Name: "rt", Value: witTypes.Some("greeting")}},
			SampleIntervalMs: witTypes.None[uint32](),
		}},
	}
}

func Handle(request Request) Response {
	coapwasm_plugin_log.Log(coapwasm_plugin_log.LevelDebug, "said hello")
	return Response{
		Code:          ResponseCodeContent,
		ContentFormat: witTypes.Some(text),
		MaxAge:        witTypes.None[uint32](),
		Etag:          witTypes.None[[]uint8](),
		Payload:       []byte("hello"),
	}
}

// Sample is called only for resources with a sample interval: none here.
func Sample(path string) bool {
	return false
}
