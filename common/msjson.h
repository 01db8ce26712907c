/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * JSON renderings (json-c) of libmemshare's structs, shared by
 * memshare-hostd (control socket) and memsharectl (--json and status).
 * Keys are the struct field names, units in the name; a figure the kernel
 * did not provide is null.
 */
#ifndef MSJSON_H
#define MSJSON_H

#include <stdbool.h>
#include <json-c/json.h>
#include <memshare/memshare.h>

json_object *msj_u64(uint64_t v);                  /* null for MS_UNKNOWN */
json_object *msj_double(double v);                 /* null for NaN */
json_object *msj_psi(const struct ms_psi *psi);    /* {"some": {...}, "full": {...}} */
json_object *msj_meminfo(const struct ms_meminfo *mi);
json_object *msj_vmstat(const struct ms_vmstat *vs);
json_object *msj_lru(const struct ms_lru_summary *s);
json_object *msj_numa(const struct ms_numa_node *nodes, size_t nr);
json_object *msj_rates(const struct ms_rates *r);
json_object *msj_report(const struct ms_report *rep);
json_object *msj_reclaim_result(const struct ms_reclaim_result *res);
json_object *msj_capabilities(uint64_t caps);      /* ["psi", "mglru", ...] */

/*
 * Field getters for JSON that came from elsewhere (a control socket peer
 * can send anything): each checks the member's type, and answers "absent"
 * when @obj is NULL or not an object, @key is missing or null, or the
 * member has another type.  None of them asserts or crashes.
 */
/* A non-negative integer; MS_UNKNOWN if absent (or negative, or not one). */
uint64_t msj_get_u64(json_object *obj, const char *key);
/* An integer of either sign: true and *@out, or false if absent. */
bool msj_get_int64(json_object *obj, const char *key, int64_t *out);
/* A number (integer or not); NAN if absent. */
double msj_get_double(json_object *obj, const char *key);
/* A string (owned by @obj); NULL if absent. */
const char *msj_get_string(json_object *obj, const char *key);
/* A boolean: 1 true, 0 false, -1 absent. */
int msj_get_bool(json_object *obj, const char *key);
/* An object or an array member (owned by @obj); NULL if absent. */
json_object *msj_get_object(json_object *obj, const char *key);
json_object *msj_get_array(json_object *obj, const char *key);

#endif
