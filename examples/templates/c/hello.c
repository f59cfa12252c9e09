// A coapwasm plugin in C: GET /hello answers "hello".
//
// Start a plugin from here: copy this folder to plugins/<name>/, rename
// things, and run `bash plugins/<name>/build.sh`. plugin.h (the bindings of
// wit/plugin.wit's `plugin` world, from wit-bindgen's C generator) is written
// by build.sh into target/c-plugins/<name>/; read it for every type.
//
// Memory rules of the bindings: what an export returns is freed with `free`
// after the host has read it, so return only memory from malloc (for
// strings, plugin_string_dup); an export owns its arguments and frees them;
// arguments to an import are only borrowed (plugin_string_set is enough).

#include <stdlib.h>
#include <string.h>

#include "plugin.h"

#define TEXT 0  // Content-Format text/plain;charset=utf-8 (RFC 7252 §12.3)

static void *allocate(size_t size) {
  void *memory = calloc(1, size);
  if (memory == NULL) abort();  // a trap: the host answers 5.00
  return memory;
}

void exports_plugin_describe(plugin_plugin_description_t *ret) {
  plugin_string_dup(&ret->name, "hello");  // names its key-value namespace
  plugin_string_dup(&ret->version, "0.1.0");

  coapwasm_plugin_types_resource_description_t *resource = allocate(sizeof *resource);
  plugin_string_dup(&resource->path, "/hello");
  resource->methods = COAPWASM_PLUGIN_TYPES_METHODS_GET;
  resource->content_formats.len = 1;
  resource->content_formats.ptr = allocate(sizeof(coapwasm_plugin_types_content_format_t));
  resource->content_formats.ptr[0] = TEXT;
  resource->attributes.len = 1;
  resource->attributes.ptr = allocate(sizeof(coapwasm_plugin_types_link_attribute_t));
  plugin_string_dup(&resource->attributes.ptr[0].name, "rt");
  resource->attributes.ptr[0].value.is_some = true;
  plugin_string_dup(&resource->attributes.ptr[0].value.val, "greeting");

  ret->resources.len = 1;
  ret->resources.ptr = resource;
}

void exports_plugin_handle(plugin_request_t *request, plugin_response_t *ret) {
  plugin_request_free(request);

  plugin_string_t message;
  plugin_string_set(&message, "said hello");
  coapwasm_plugin_log_log(COAPWASM_PLUGIN_LOG_LEVEL_DEBUG, &message);

  static const char body[] = "hello";
  memset(ret, 0, sizeof *ret);
  ret->code = COAPWASM_PLUGIN_TYPES_RESPONSE_CODE_CONTENT;
  ret->content_format.is_some = true;
  ret->content_format.val = TEXT;
  ret->payload.len = sizeof body - 1;
  ret->payload.ptr = allocate(sizeof body - 1);
  memcpy(ret->payload.ptr, body, sizeof body - 1);
}

bool exports_plugin_sample(plugin_string_t *path) {
  plugin_string_free(path);
  return false;  // nothing here is sampled
}
