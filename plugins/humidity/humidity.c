// A simulated relative-humidity sensor at /humidity, written in C.
//
// The reading is a bounded random walk around 45 %RH. Its position lives in
// the host's key-value store, not in a global: the host may replace or
// multiply instances at any time, and a global would restart or fork the
// walk. The host calls `sample` every two seconds (RFC 7641 observers are
// told when the reading moved) and the plugin logs through the host when its
// store fails.
//
// JSON: {"timestamp":"2026-11-22T10:00:00Z","unit":"percent","value":45.0},
// the implementation guide's shape (a timestamp in RFC 3339 UTC, like
// /temperature's); text: `45.0 %RH`.
//
// Built by build.sh (see examples/templates/c): the bindings in plugin.h
// come from wit-bindgen's C generator for the `plugin` world of wit/.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugin.h"

#define VERSION "0.1.0"

// Content-Formats (RFC 7252 §12.3).
#define TEXT 0
#define JSON 50

#define PATH "/humidity"
#define SAMPLE_INTERVAL_MS 2000
// A reading stays fresh for a few seconds; observers are notified no slower.
#define MAX_AGE_SECS 5

// The reading in tenths of a percent, so that no floating point is needed.
#define KEY "tenths"
#define START_TENTHS 450
#define MIN_TENTHS 300
#define MAX_TENTHS 700
// Largest move per sample, either way.
#define STEP_TENTHS 5

// Memory handed to the host is freed by the bindings after the call returns
// (`free`), so everything returned is allocated here; running out of memory
// is a trap, which the host answers with 5.00.
static void *allocate(size_t size) {
  void *memory = calloc(1, size);
  if (memory == NULL) abort();
  return memory;
}

static void log_line(coapwasm_plugin_log_level_t level, const char *message) {
  plugin_string_t text;
  plugin_string_set(&text, message);  // borrowed by the import: no copy
  coapwasm_plugin_log_log(level, &text);
}

static void log_store_error(const char *what, coapwasm_plugin_key_value_error_t *error) {
  char message[160];
  if (error->tag == COAPWASM_PLUGIN_KEY_VALUE_ERROR_STORAGE) {
    snprintf(message, sizeof message, "cannot %s %s: %.*s", what, KEY,
             (int)error->val.storage.len, (const char *)error->val.storage.ptr);
  } else {
    snprintf(message, sizeof message, "cannot %s %s: too large", what, KEY);
  }
  log_line(COAPWASM_PLUGIN_LOG_LEVEL_WARN, message);
  coapwasm_plugin_key_value_error_free(error);
}

// The walk's position, START_TENTHS if nothing (valid) is stored.
static int stored_tenths(void) {
  plugin_string_t key;
  plugin_string_set(&key, KEY);
  plugin_option_list_u8_t value;
  coapwasm_plugin_key_value_error_t error;
  if (!coapwasm_plugin_key_value_get(&key, &value, &error)) {
    log_store_error("read", &error);
    return START_TENTHS;
  }
  int tenths = START_TENTHS;
  if (value.is_some) {
    char text[16] = {0};
    if (value.val.len < sizeof text) {
      memcpy(text, value.val.ptr, value.val.len);
      char *end;
      long parsed = strtol(text, &end, 10);
      if (end != text && *end == '\0' && parsed >= MIN_TENTHS && parsed <= MAX_TENTHS) {
        tenths = (int)parsed;
      }
    }
  }
  plugin_option_list_u8_free(&value);
  return tenths;
}

static void store_tenths(int tenths) {
  char text[16];
  int length = snprintf(text, sizeof text, "%d", tenths);
  plugin_string_t key;
  plugin_string_set(&key, KEY);
  plugin_list_u8_t value = {.ptr = (uint8_t *)text, .len = (size_t)length};
  coapwasm_plugin_key_value_error_t error;
  if (!coapwasm_plugin_key_value_set(&key, &value, &error)) {
    log_store_error("store", &error);
  }
}

// A step in [-STEP_TENTHS, STEP_TENTHS], from wasi:random.
static int random_step(void) {
  unsigned char byte = 0;
  if (getentropy(&byte, 1) != 0) return 0;
  return (int)(byte % (2 * STEP_TENTHS + 1)) - STEP_TENTHS;
}

// The time now as an RFC 3339 UTC timestamp such as 2026-11-22T10:00:00Z
// (wasi:clocks through wasi-libc).
static void rfc3339_now(char *out, size_t size) {
  time_t now = time(NULL);
  struct tm utc;
  if (now == (time_t)-1 || gmtime_r(&now, &utc) == NULL ||
      strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &utc) == 0) {
    snprintf(out, size, "1970-01-01T00:00:00Z");
  }
}

static void set_string(plugin_string_t *target, const char *text) {
  plugin_string_dup(target, text);
}

static void set_attribute(coapwasm_plugin_types_link_attribute_t *attribute,
                          const char *name, const char *value) {
  set_string(&attribute->name, name);
  attribute->value.is_some = true;
  set_string(&attribute->value.val, value);
}

void exports_plugin_describe(plugin_plugin_description_t *ret) {
  set_string(&ret->name, "humidity");
  set_string(&ret->version, VERSION);

  coapwasm_plugin_types_resource_description_t *resource = allocate(sizeof *resource);
  set_string(&resource->path, PATH);
  resource->methods = COAPWASM_PLUGIN_TYPES_METHODS_GET;
  resource->observable = true;
  resource->content_formats.len = 2;
  resource->content_formats.ptr = allocate(2 * sizeof(coapwasm_plugin_types_content_format_t));
  resource->content_formats.ptr[0] = JSON;  // the default comes first
  resource->content_formats.ptr[1] = TEXT;
  resource->attributes.len = 3;
  resource->attributes.ptr = allocate(3 * sizeof(coapwasm_plugin_types_link_attribute_t));
  // RFC 6690 §3.1: one rt, space-separated values: ours, the tutorial's
  // ("percent") and the implementation guide's ("sensor").
  set_attribute(&resource->attributes.ptr[0], "rt", "humidity-rh percent sensor");
  set_attribute(&resource->attributes.ptr[1], "if", "sensor");
  set_attribute(&resource->attributes.ptr[2], "title", "Relative humidity");
  resource->sample_interval_ms.is_some = true;
  resource->sample_interval_ms.val = SAMPLE_INTERVAL_MS;

  ret->resources.len = 1;
  ret->resources.ptr = resource;
}

void exports_plugin_handle(plugin_request_t *request, plugin_response_t *ret) {
  // The host routes only GET /humidity here, with an Accept of ours or none.
  int format = request->accept.is_some ? request->accept.val : JSON;
  plugin_request_free(request);  // an export owns its arguments

  int tenths = stored_tenths();
  char body[128];
  int length;
  if (format == TEXT) {
    length = snprintf(body, sizeof body, "%d.%d %%RH", tenths / 10, tenths % 10);
  } else {
    char timestamp[32];
    rfc3339_now(timestamp, sizeof timestamp);
    length = snprintf(body, sizeof body,
                      "{\"timestamp\":\"%s\",\"unit\":\"percent\",\"value\":%d.%d}",
                      timestamp, tenths / 10, tenths % 10);
  }

  memset(ret, 0, sizeof *ret);
  ret->code = COAPWASM_PLUGIN_TYPES_RESPONSE_CODE_CONTENT;
  ret->content_format.is_some = true;
  ret->content_format.val = (coapwasm_plugin_types_content_format_t)format;
  ret->max_age.is_some = true;
  ret->max_age.val = MAX_AGE_SECS;
  ret->payload.len = (size_t)length;
  ret->payload.ptr = allocate((size_t)length);
  memcpy(ret->payload.ptr, body, (size_t)length);
}

bool exports_plugin_sample(plugin_string_t *path) {
  plugin_string_free(path);
  int previous = stored_tenths();
  int next = previous + random_step();
  if (next < MIN_TENTHS) next = MIN_TENTHS;
  if (next > MAX_TENTHS) next = MAX_TENTHS;
  if (next == previous) return false;
  store_tenths(next);
  return true;
}
