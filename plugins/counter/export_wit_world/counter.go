// Package export_wit_world is the counter plugin, written in Go: /counter
// answers GET with a count and POST by adding one to it.
//
// The count lives in the host's key-value store, not in a variable: the host
// may replace or multiply instances at any time, and the count must survive
// upgrades and restarts. POST adds one with the store's atomic increment
// (WIT 0.2.3), not a read then a write: two instances, or two hosts sharing
// the namespace through Redis, would both read 7 and both store 8. The functions here are the world's exports, called
// by the main package that wit-bindgen's Go generator writes (see build.sh).
package export_wit_world

import (
	"strconv"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
	"wit_component/coapwasm_plugin_atomics"
	keyValue "wit_component/coapwasm_plugin_key_value"
	"wit_component/coapwasm_plugin_log"
	. "wit_component/coapwasm_plugin_types"
)

const (
	version = "0.1.0"
	path    = "/counter"
	key     = "count"

	// Content-Format text/plain;charset=utf-8 (RFC 7252 §12.3).
	text uint16 = 0
)

// Describe names the plugin and its one resource, with the link-format
// attributes that /.well-known/core shows (RFC 6690 §3).
func Describe() PluginDescription {
	attribute := func(name, value string) LinkAttribute {
		return LinkAttribute{Name: name, Value: witTypes.Some(value)}
	}
	return PluginDescription{
		Name:    "counter",
		Version: version,
		Resources: []ResourceDescription{{
			Path:           path,
			Methods:        MethodsGet | MethodsPost,
			Observable:     true,
			ContentFormats: []uint16{text},
			Attributes: []LinkAttribute{
				attribute("rt", "counter"),
				attribute("if", "core.rp"),
				attribute("title", "Counter"),
			},
			SampleIntervalMs: witTypes.None[uint32](),
		}},
	}
}

// Handle answers GET with the count (2.05) and POST by incrementing it
// (2.04, with the new count); the host has already refused other methods.
func Handle(request Request) Response {
	if request.Method == MethodPost {
		count, err := increment()
		if err != "" {
			return failure(err)
		}
		return answer(ResponseCodeChanged, count)
	}
	count, err := load()
	if err != "" {
		return failure(err)
	}
	return answer(ResponseCodeContent, count)
}

// Sample is never called: the count changes only through requests, and the
// host notifies observers after a POST on its own.
func Sample(path string) bool {
	return false
}

// load reads the count: 0 when none is stored yet, a message on failure.
func load() (uint64, string) {
	stored := keyValue.Get(key)
	if stored.IsErr() {
		return 0, describeError("read", stored.Err())
	}
	value := stored.Ok()
	if value.IsNone() {
		return 0, ""
	}
	count, err := strconv.ParseUint(string(value.Some()), 10, 64)
	if err != nil {
		return 0, "stored count is not a number: " + err.Error()
	}
	return count, ""
}

// increment adds one to the stored count in one atomic step and returns the
// new count. The store keeps it as decimal text, which load reads.
func increment() (uint64, string) {
	result := coapwasm_plugin_atomics.Increment(key, 1)
	if result.IsErr() {
		return 0, describeError("increment", result.Err())
	}
	return uint64(result.Ok()), ""
}

func describeError(what string, err keyValue.Error) string {
	if err.Tag() == keyValue.ErrorStorage {
		return "cannot " + what + " the count: " + err.Storage()
	}
	return "cannot " + what + " the count: too large"
}

// failure logs through the host and answers 5.00 with the reason as a
// diagnostic payload (RFC 7252 §5.5.2).
func failure(message string) Response {
	coapwasm_plugin_log.Log(coapwasm_plugin_log.LevelError, message)
	return Response{
		Code:          ResponseCodeInternalServerError,
		ContentFormat: witTypes.Some(text),
		MaxAge:        witTypes.None[uint32](),
		Etag:          witTypes.None[[]uint8](),
		Payload:       []byte(message),
	}
}

func answer(code ResponseCode, count uint64) Response {
	return Response{
		Code:          code,
		ContentFormat: witTypes.Some(text),
		// The count changes only through POST, which notifies observers, so
		// a cached GET is stale only until then: no caching.
		MaxAge:  witTypes.Some[uint32](0),
		Etag:    witTypes.None[[]uint8](),
		Payload: []byte(strconv.FormatUint(count, 10)),
	}
}
