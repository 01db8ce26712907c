/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "msjson.h"

json_object *msj_u64(uint64_t v)
{
	return v == MS_UNKNOWN ? NULL : json_object_new_uint64(v);
}

/* A double printed with @decimals digits (json-c would print 17). */
static json_object *dbl(double v, int decimals)
{
	char txt[64];

	if (isnan(v) || isinf(v))
		return NULL;
	snprintf(txt, sizeof(txt), "%.*f", decimals, v);
	return json_object_new_double_s(v, txt);
}

json_object *msj_double(double v)
{
	return dbl(v, 3);
}

static void add(json_object *o, const char *key, json_object *v)
{
	json_object_object_add(o, key, v);
}

static json_object *psi_stat(const struct ms_psi_stat *st)
{
	json_object *o = json_object_new_object();

	/* The kernel prints two decimals. */
	add(o, "avg10", dbl(st->avg10, 2));
	add(o, "avg60", dbl(st->avg60, 2));
	add(o, "avg300", dbl(st->avg300, 2));
	add(o, "total_us", json_object_new_uint64(st->total_us));
	return o;
}

json_object *msj_psi(const struct ms_psi *psi)
{
	json_object *o = json_object_new_object();

	add(o, "some", psi->present & MS_PSI_SOME ? psi_stat(&psi->some) : NULL);
	add(o, "full", psi->present & MS_PSI_FULL ? psi_stat(&psi->full) : NULL);
	return o;
}

#define U64(o, s, f) add(o, #f, msj_u64((s)->f))

json_object *msj_meminfo(const struct ms_meminfo *mi)
{
	json_object *o = json_object_new_object();

	U64(o, mi, total_bytes);
	U64(o, mi, free_bytes);
	U64(o, mi, available_bytes);
	U64(o, mi, used_bytes);
	U64(o, mi, buffers_bytes);
	U64(o, mi, cached_bytes);
	U64(o, mi, file_pages_bytes);
	U64(o, mi, swap_cached_bytes);
	U64(o, mi, active_anon_bytes);
	U64(o, mi, inactive_anon_bytes);
	U64(o, mi, active_file_bytes);
	U64(o, mi, inactive_file_bytes);
	U64(o, mi, unevictable_bytes);
	U64(o, mi, mlocked_bytes);
	U64(o, mi, swap_total_bytes);
	U64(o, mi, swap_free_bytes);
	U64(o, mi, dirty_bytes);
	U64(o, mi, writeback_bytes);
	U64(o, mi, anon_pages_bytes);
	U64(o, mi, mapped_bytes);
	U64(o, mi, shmem_bytes);
	U64(o, mi, kreclaimable_bytes);
	U64(o, mi, slab_bytes);
	U64(o, mi, sreclaimable_bytes);
	U64(o, mi, sunreclaim_bytes);
	U64(o, mi, page_tables_bytes);
	return o;
}

json_object *msj_vmstat(const struct ms_vmstat *vs)
{
	json_object *o = json_object_new_object();

	U64(o, vs, refault_anon_bytes);
	U64(o, vs, refault_file_bytes);
	U64(o, vs, refault_bytes);
	U64(o, vs, activate_bytes);
	U64(o, vs, pgscan_kswapd_bytes);
	U64(o, vs, pgscan_direct_bytes);
	U64(o, vs, pgsteal_kswapd_bytes);
	U64(o, vs, pgsteal_direct_bytes);
	U64(o, vs, pgscan_bytes);
	U64(o, vs, pgsteal_bytes);
	U64(o, vs, pgmajfault);
	U64(o, vs, pswpin_bytes);
	U64(o, vs, pswpout_bytes);
	U64(o, vs, oom_kill);
	return o;
}

json_object *msj_lru(const struct ms_lru_summary *s)
{
	json_object *o, *nodes;

	if (!s)
		return NULL;
	o = json_object_new_object();
	nodes = json_object_new_array();
	add(o, "source", json_object_new_string(ms_lru_source_name(s->source)));
	for (uint32_t i = 0; i < s->nr_nodes; i++) {
		const struct ms_lru_node *n = &s->nodes[i];
		json_object *jn = json_object_new_object(), *bins = json_object_new_array();

		add(jn, "node", json_object_new_int(n->node));
		for (uint32_t j = 0; j < n->nr_bins && j < MS_LRU_MAX_BINS; j++) {
			const struct ms_lru_bin *b = &n->bins[j];
			json_object *jb = json_object_new_object();

			if (s->source == MS_LRU_SOURCE_CLASSIC) {
				add(jb, "list", json_object_new_string(j == 0 ? "active" : "inactive"));
			} else {
				add(jb, "min_age_ms", msj_u64(b->min_age_ms));
				/* null: open-ended (the last bin) */
				add(jb, "max_age_ms", b->max_age_ms == MS_AGE_INFINITE
							      ? NULL : json_object_new_uint64(b->max_age_ms));
			}
			add(jb, "anon_bytes", msj_u64(b->anon_bytes));
			add(jb, "file_bytes", msj_u64(b->file_bytes));
			json_object_array_add(bins, jb);
		}
		add(jn, "bins", bins);
		add(jn, "slab_reclaimable_bytes", msj_u64(n->slab_reclaimable_bytes));
		add(jn, "shmem_bytes", msj_u64(n->shmem_bytes));
		add(jn, "unevictable_bytes", msj_u64(n->unevictable_bytes));
		json_object_array_add(nodes, jn);
	}
	add(o, "nodes", nodes);
	return o;
}

json_object *msj_numa(const struct ms_numa_node *nodes, size_t nr)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < nr; i++) {
		json_object *o = msj_meminfo(&nodes[i].meminfo);

		add(o, "node", json_object_new_int(nodes[i].node));
		json_object_array_add(a, o);
	}
	return a;
}

json_object *msj_rates(const struct ms_rates *r)
{
	json_object *o = json_object_new_object();

	add(o, "interval_s", dbl(r->interval_s, 3));
	add(o, "some_stall_us_per_s", msj_double(r->some_stall_us_per_s));
	add(o, "full_stall_us_per_s", msj_double(r->full_stall_us_per_s));
	add(o, "refault_bytes_per_s", msj_double(r->refault_bytes_per_s));
	add(o, "refault_anon_bytes_per_s", msj_double(r->refault_anon_bytes_per_s));
	add(o, "refault_file_bytes_per_s", msj_double(r->refault_file_bytes_per_s));
	add(o, "pgscan_bytes_per_s", msj_double(r->pgscan_bytes_per_s));
	add(o, "pgsteal_bytes_per_s", msj_double(r->pgsteal_bytes_per_s));
	add(o, "pgmajfault_per_s", msj_double(r->pgmajfault_per_s));
	add(o, "pswpin_bytes_per_s", msj_double(r->pswpin_bytes_per_s));
	add(o, "pswpout_bytes_per_s", msj_double(r->pswpout_bytes_per_s));
	add(o, "resets", json_object_new_int64(r->resets));
	return o;
}

json_object *msj_report(const struct ms_report *rep)
{
	static const char *const reasons[] = { "periodic", "psi_trigger", "after_reclaim" };
	json_object *o = json_object_new_object();

	add(o, "mono_us", json_object_new_uint64(rep->mono_us));
	add(o, "reason", json_object_new_string(rep->reason < 3 ? reasons[rep->reason] : "unknown"));
	add(o, "psi", rep->has_psi ? msj_psi(&rep->psi) : NULL);
	add(o, "meminfo", msj_meminfo(&rep->meminfo));
	add(o, "vmstat", msj_vmstat(&rep->vmstat));
	add(o, "lru", msj_lru(rep->lru));
	return o;
}

json_object *msj_reclaim_result(const struct ms_reclaim_result *res)
{
	json_object *o = json_object_new_object(), *methods = json_object_new_array();

	add(o, "status", json_object_new_int(res->status));
	add(o, "error", res->status ? json_object_new_string(strerror(-res->status)) : NULL);
	for (int m = MS_RECLAIM_METHOD_MEMCG; m <= MS_RECLAIM_METHOD_DROP_SLAB; m++)
		if (res->method & (1u << m))
			json_object_array_add(methods, json_object_new_string(ms_reclaim_method_name(m)));
	add(o, "methods", methods);
	add(o, "requested_bytes", json_object_new_uint64(res->requested_bytes));
	add(o, "freed_bytes", json_object_new_uint64(res->freed_bytes));
	add(o, "freed_file_bytes", json_object_new_uint64(res->freed_file_bytes));
	add(o, "freed_anon_bytes", json_object_new_uint64(res->freed_anon_bytes));
	add(o, "freed_slab_bytes", json_object_new_uint64(res->freed_slab_bytes));
	add(o, "duration_us", json_object_new_uint64(res->duration_us));
	return o;
}

json_object *msj_capabilities(uint64_t caps)
{
	static const char *const names[] = {
		"psi", "psi_trigger", "mglru", "classic_lru", "memcg_reclaim",
		"memcg_reclaim_swappiness", "slab_reclaim", "numa", "free_page_reporting",
	};
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (caps & (1ull << i))
			json_object_array_add(a, json_object_new_string(names[i]));
	return a;
}

/* @key of @obj if it has type @type, else NULL (also for a non-object @obj). */
static json_object *member(json_object *obj, const char *key, enum json_type type)
{
	json_object *v;

	if (!json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, type))
		return NULL;
	return v;
}

uint64_t msj_get_u64(json_object *obj, const char *key)
{
	json_object *v = member(obj, key, json_type_int);

	/* json-c keeps integers above INT64_MAX as uint64: get_int64 clamps
	 * those to INT64_MAX, so a sign check is enough. */
	if (!v || json_object_get_int64(v) < 0)
		return MS_UNKNOWN;
	return json_object_get_uint64(v);
}

bool msj_get_int64(json_object *obj, const char *key, int64_t *out)
{
	json_object *v = member(obj, key, json_type_int);

	if (!v)
		return false;
	*out = json_object_get_int64(v);
	return true;
}

double msj_get_double(json_object *obj, const char *key)
{
	json_object *v = member(obj, key, json_type_double);

	if (!v)
		v = member(obj, key, json_type_int);
	return v ? json_object_get_double(v) : NAN;
}

const char *msj_get_string(json_object *obj, const char *key)
{
	json_object *v = member(obj, key, json_type_string);

	return v ? json_object_get_string(v) : NULL;
}

int msj_get_bool(json_object *obj, const char *key)
{
	json_object *v = member(obj, key, json_type_boolean);

	return v ? json_object_get_boolean(v) != 0 : -1;
}

json_object *msj_get_object(json_object *obj, const char *key)
{
	return member(obj, key, json_type_object);
}

json_object *msj_get_array(json_object *obj, const char *key)
{
	return member(obj, key, json_type_array);
}
