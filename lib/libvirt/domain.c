/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Domain XML (virDomainGetXMLDesc) to the XML-derived fields of
 * struct ms_domain_info, with libxml2 and XPath:
 *
 *   /domain/name, /domain/uuid
 *   /domain/devices/vsock/cid/@address
 *   /domain/devices/channel[@type='unix'][target/@type='virtio' and
 *       target/@name=MS_LIBVIRT_CHANNEL_NAME]/source/@path (mode bind)
 *   /domain/devices/memballoon/@model, @autodeflate, @freePageReporting,
 *       stats/@period
 *   /domain/memtune/min_guarantee (+ @unit, libvirt scaled integer)
 *   /domain/numatune/memory/@nodeset (libvirt bitmap syntax)
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>

#include "lv-internal.h"

LV_EXPORT const char *ms_domain_warning_name(unsigned warning)
{
	switch (warning) {
	case MS_DOMAIN_WARN_NO_BALLOON:
		return "no balloon device";
	case MS_DOMAIN_WARN_NO_STATS_PERIOD:
		return "balloon stats period is 0";
	case MS_DOMAIN_WARN_NO_FREE_PAGE_REPORTING:
		return "free page reporting off";
	case MS_DOMAIN_WARN_NO_AUTODEFLATE:
		return "autodeflate off";
	case MS_DOMAIN_WARN_NO_AGENT_CHANNEL:
		return "no vsock CID and no " MS_LIBVIRT_CHANNEL_NAME " channel";
	default:
		return NULL;
	}
}

/* ---- numbers --------------------------------------------------------------- */

/* A whole unsigned decimal, surrounding blanks allowed (no sign, no base). */
static int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -EBADMSG;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -EBADMSG;
	while (isspace((unsigned char)*end))
		end++;
	if (*end)
		return -EBADMSG;
	*out = v;
	return 0;
}

/*
 * The bytes of a libvirt scaled integer (virScaleInteger): no unit is KiB;
 * "b", "byte", "bytes" are bytes; "k", "KiB" ... "e", "EiB" are powers of
 * 1024 and "KB" ... "EB" powers of 1000, the letter in any case.
 */
static int parse_scaled(const char *num, const char *unit, uint64_t *bytes)
{
	uint64_t v, scale = 1, base;
	int r;

	r = parse_u64(num, &v);
	if (r < 0)
		return r;
	if (!unit || !*unit) {
		scale = 1024;
	} else if (!strcasecmp(unit, "b") || !strcasecmp(unit, "byte") ||
		   !strcasecmp(unit, "bytes")) {
		scale = 1;
	} else {
		static const char prefixes[] = "kmgtpe";
		const char *p = strchr(prefixes, tolower((unsigned char)unit[0]));

		if (!unit[1] || !strcasecmp(unit + 1, "iB"))
			base = 1024;
		else if (tolower((unsigned char)unit[1]) == 'b' && !unit[2])
			base = 1000;
		else
			return -EBADMSG;
		if (!p)
			return -EBADMSG;
		for (long i = 0; i <= p - prefixes; i++)
			scale *= base;
	}
	if (v > UINT64_MAX / scale)
		return -EBADMSG;
	*bytes = v * scale;
	return 0;
}

static int parse_int_at(const char **cur, int *out)
{
	long v;
	char *end;

	if (!isdigit((unsigned char)**cur))
		return -EBADMSG;
	errno = 0;
	v = strtol(*cur, &end, 10);
	if (errno == ERANGE || v > INT_MAX)
		return -EBADMSG;
	*out = (int)v;
	*cur = end;
	return 0;
}

static void skip_blanks(const char **cur)
{
	while (isspace((unsigned char)**cur))
		(*cur)++;
}

/*
 * A libvirt bitmap (virBitmapParse): comma-separated "N", "N-M" (N <= M)
 * and "^N" (clear N from what came before), blanks allowed around items.
 * Bits above 63 are dropped; *@dropped says whether any were.
 */
static int parse_nodeset(const char *s, uint64_t *mask, bool *dropped)
{
	const char *cur = s;
	uint64_t m = 0;
	int start, last;

	*dropped = false;
	skip_blanks(&cur);
	if (!*cur)
		return -EBADMSG;
	while (*cur) {
		bool neg = false;

		if (*cur == '^') {
			neg = true;
			cur++;
		}
		if (parse_int_at(&cur, &start) < 0)
			return -EBADMSG;
		skip_blanks(&cur);
		last = start;
		if (*cur == '-') {
			if (neg)
				return -EBADMSG;
			cur++;
			skip_blanks(&cur);
			if (parse_int_at(&cur, &last) < 0 || last < start)
				return -EBADMSG;
			skip_blanks(&cur);
		}
		for (int i = start; i <= last; i++) {
			if (i > 63) {
				*dropped = true;
				break;
			}
			if (neg)
				m &= ~(UINT64_C(1) << i);
			else
				m |= UINT64_C(1) << i;
		}
		if (*cur == ',') {
			cur++;
			skip_blanks(&cur);
			if (!*cur)
				return -EBADMSG;
		} else if (*cur) {
			return -EBADMSG;
		}
	}
	*mask = m;
	return 0;
}

/* ---- XPath ----------------------------------------------------------------- */

struct xp {
	struct ms_ctx *ctx;
	xmlXPathContextPtr x;
};

/* libxml2 2.12 made the structured error handler take a const error. */
#if LIBXML_VERSION >= 21200
typedef const xmlError *lv_xml_error_t;
#else
typedef xmlErrorPtr lv_xml_error_t;
#endif

/* libxml2's diagnostics are collected from the parser context, not printed. */
static void xml_quiet(void *userdata, lv_xml_error_t err)
{
}

/* The first node matching @expr (relative to the root), or NULL. */
static int xp_node(struct xp *xp, const char *expr, xmlNodePtr *out)
{
	xmlXPathObjectPtr o;

	*out = NULL;
	xp->x->node = xmlDocGetRootElement(xp->x->doc);
	o = xmlXPathEval((const xmlChar *)expr, xp->x);
	if (!o)
		return -ENOMEM;
	if (o->type == XPATH_NODESET && o->nodesetval && o->nodesetval->nodeNr > 0)
		*out = o->nodesetval->nodeTab[0];
	xmlXPathFreeObject(o);
	return 0;
}

/* An attribute of @node as a malloc'd string (free()), or NULL if absent. */
static int xml_attr(xmlNodePtr node, const char *name, char **out)
{
	xmlChar *v;

	*out = NULL;
	if (!node || !xmlHasProp(node, (const xmlChar *)name))
		return 0;
	v = xmlGetProp(node, (const xmlChar *)name);
	if (!v)
		return -ENOMEM;
	*out = strdup((const char *)v);
	xmlFree(v);
	return *out ? 0 : -ENOMEM;
}

/* The text content of @node (malloc'd, free()). */
static int xml_text(xmlNodePtr node, char **out)
{
	xmlChar *v = xmlNodeGetContent(node);

	*out = NULL;
	if (!v)
		return -ENOMEM;
	*out = strdup((const char *)v);
	xmlFree(v);
	return *out ? 0 : -ENOMEM;
}

/* "on" is true; "off" or no attribute false; anything else -EBADMSG. */
static int xml_onoff(struct xp *xp, xmlNodePtr node, const char *name, bool *out)
{
	char *v;
	int r;

	r = xml_attr(node, name, &v);
	if (r < 0)
		return r;
	*out = false;
	if (v && !strcmp(v, "on"))
		*out = true;
	else if (v && strcmp(v, "off")) {
		lv_err(xp->ctx, "domain XML: memballoon %s='%s' is neither 'on' nor 'off'",
		       name, v);
		r = -EBADMSG;
	}
	free(v);
	return r;
}

/* ---- the fields ---------------------------------------------------------- */

static int parse_identity(struct xp *xp, struct ms_domain_info *info)
{
	xmlNodePtr n;
	char *v;
	int r;

	r = xp_node(xp, "/domain/name", &n);
	if (r < 0)
		return r;
	if (!n) {
		lv_err(xp->ctx, "domain XML: no <name>");
		return -EBADMSG;
	}
	r = xml_text(n, &v);
	if (r < 0)
		return r;
	if (!*v || !lv_strcpy(info->name, sizeof(info->name), v)) {
		lv_err(xp->ctx, "domain XML: <name> is empty or longer than %zu bytes",
		       sizeof(info->name) - 1);
		free(v);
		return -EBADMSG;
	}
	free(v);

	r = xp_node(xp, "/domain/uuid", &n);
	if (r < 0 || !n)
		return r;
	r = xml_text(n, &v);
	if (r < 0)
		return r;
	if (!lv_strcpy(info->uuid, sizeof(info->uuid), v)) {
		lv_err(xp->ctx, "domain %s: <uuid> '%.64s' is too long", info->name, v);
		r = -EBADMSG;
	}
	free(v);
	return r;
}

static int parse_vsock(struct xp *xp, struct ms_domain_info *info)
{
	xmlNodePtr n;
	uint64_t cid;
	char *v;
	int r;

	r = xp_node(xp, "/domain/devices/vsock/cid[@address]", &n);
	if (r < 0 || !n)
		return r;
	r = xml_attr(n, "address", &v);
	if (r < 0)
		return r;
	if (parse_u64(v, &cid) < 0 || cid > UINT32_MAX) {
		lv_err(xp->ctx, "domain %s: vsock cid address='%.32s' is not a CID",
		       info->name, v);
		r = -EBADMSG;
	} else if (cid < 3) {
		/* 0, 1 and 2 are the hypervisor, local and host: no guest. */
		lv_dbg(xp->ctx, "domain %s: vsock cid %llu is reserved, ignored",
		       info->name, (unsigned long long)cid);
	} else {
		info->vsock_cid = (uint32_t)cid;
	}
	free(v);
	return r;
}

static int parse_channel(struct xp *xp, struct ms_domain_info *info)
{
	static const char expr[] =
		"/domain/devices/channel[@type='unix']"
		"[target[@type='virtio' and @name='" MS_LIBVIRT_CHANNEL_NAME "']]"
		"/source[@path][not(@mode) or @mode='bind']";
	xmlNodePtr n;
	char *v;
	int r;

	r = xp_node(xp, expr, &n);
	if (r < 0 || !n)
		return r;
	r = xml_attr(n, "path", &v);
	if (r < 0)
		return r;
	if (!*v || !lv_strcpy(info->channel_path, sizeof(info->channel_path), v))
		lv_warn(xp->ctx, "domain %s: channel %s path '%s' does not fit a unix socket address, ignored",
			info->name, MS_LIBVIRT_CHANNEL_NAME, v);
	free(v);
	return 0;
}

static int parse_balloon(struct xp *xp, struct ms_domain_info *info)
{
	xmlNodePtr n, stats;
	uint64_t period;
	char *v;
	int r;

	r = xp_node(xp, "/domain/devices/memballoon", &n);
	if (r < 0 || !n)
		return r;
	r = xml_attr(n, "model", &v);
	if (r < 0)
		return r;
	if (v && !lv_strcpy(info->balloon_model, sizeof(info->balloon_model), v)) {
		lv_err(xp->ctx, "domain %s: memballoon model '%.64s' is too long", info->name, v);
		free(v);
		return -EBADMSG;
	}
	free(v);
	info->has_balloon = strcmp(info->balloon_model, "none") != 0;
	r = xml_onoff(xp, n, "autodeflate", &info->autodeflate);
	if (r < 0)
		return r;
	r = xml_onoff(xp, n, "freePageReporting", &info->free_page_reporting);
	if (r < 0)
		return r;

	r = xp_node(xp, "/domain/devices/memballoon/stats[@period]", &stats);
	if (r < 0 || !stats)
		return r;
	r = xml_attr(stats, "period", &v);
	if (r < 0)
		return r;
	if (parse_u64(v, &period) < 0 || period > UINT32_MAX) {
		lv_err(xp->ctx, "domain %s: memballoon stats period='%.32s' is not a number of seconds",
		       info->name, v);
		r = -EBADMSG;
	} else {
		info->stats_period_s = (uint32_t)period;
	}
	free(v);
	return r;
}

static int parse_memtune(struct xp *xp, struct ms_domain_info *info)
{
	char *num = NULL, *unit = NULL;
	xmlNodePtr n;
	int r;

	r = xp_node(xp, "/domain/memtune/min_guarantee", &n);
	if (r < 0 || !n)
		return r;
	r = xml_text(n, &num);
	if (r >= 0)
		r = xml_attr(n, "unit", &unit);
	if (r >= 0 && parse_scaled(num, unit, &info->min_guarantee_bytes) < 0) {
		lv_err(xp->ctx, "domain %s: min_guarantee '%.32s' unit '%.16s' is not a size",
		       info->name, num, unit ? unit : "");
		r = -EBADMSG;
	}
	free(num);
	free(unit);
	return r;
}

static int parse_numatune(struct xp *xp, struct ms_domain_info *info)
{
	xmlNodePtr n;
	bool dropped;
	char *v;
	int r;

	r = xp_node(xp, "/domain/numatune/memory[@nodeset]", &n);
	if (r < 0 || !n)
		return r;
	r = xml_attr(n, "nodeset", &v);
	if (r < 0)
		return r;
	if (parse_nodeset(v, &info->numa_nodeset, &dropped) < 0) {
		lv_err(xp->ctx, "domain %s: numatune nodeset '%.64s' does not parse",
		       info->name, v);
		r = -EBADMSG;
	} else if (dropped) {
		lv_warn(xp->ctx, "domain %s: numatune nodeset '%.64s' names nodes above 63, left out",
			info->name, v);
	}
	free(v);
	return r;
}

static uint32_t warnings_of(const struct ms_domain_info *info)
{
	uint32_t w = 0;

	if (!info->has_balloon) {
		w |= MS_DOMAIN_WARN_NO_BALLOON;
	} else {
		if (!info->stats_period_s)
			w |= MS_DOMAIN_WARN_NO_STATS_PERIOD;
		if (!info->free_page_reporting)
			w |= MS_DOMAIN_WARN_NO_FREE_PAGE_REPORTING;
		if (!info->autodeflate)
			w |= MS_DOMAIN_WARN_NO_AUTODEFLATE;
	}
	if (!info->vsock_cid && !info->channel_path[0])
		w |= MS_DOMAIN_WARN_NO_AGENT_CHANNEL;
	return w;
}

static xmlDocPtr read_doc(struct ms_ctx *ctx, const char *xml, int *err)
{
	xmlParserCtxtPtr pc;
	xmlDocPtr doc;
	size_t len = strlen(xml);

	*err = 0;
	if (len > INT_MAX) {
		lv_err(ctx, "domain XML: %zu bytes is too long", len);
		*err = -EBADMSG;
		return NULL;
	}
	pc = xmlNewParserCtxt();
	if (!pc) {
		*err = -ENOMEM;
		return NULL;
	}
	/* Per-context handler: neither stderr nor the application's global
	 * libxml2 handler sees our parse errors. */
#if LIBXML_VERSION >= 21300
	xmlCtxtSetErrorHandler(pc, xml_quiet, NULL);
#else
	pc->sax->serror = xml_quiet;
#endif
	doc = xmlCtxtReadMemory(pc, xml, (int)len, "domain.xml", NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xmlCtxtGetLastError(pc);

		if (e && e->code == XML_ERR_NO_MEMORY) {
			*err = -ENOMEM;
		} else {
			size_t n = e && e->message ? strlen(e->message) : 0;

			/* libxml2's messages end with a newline. */
			while (n && e->message[n - 1] == '\n')
				n--;
			lv_err(ctx, "domain XML: line %d: %.*s", e ? e->line : 0, (int)n,
			       e && e->message ? e->message : "not well-formed");
			*err = -EBADMSG;
		}
	}
	xmlFreeParserCtxt(pc);
	return doc;
}

LV_EXPORT int ms_libvirt_parse_domain_xml(struct ms_ctx *ctx, const char *xml,
					  struct ms_domain_info *out)
{
	struct ms_domain_info info;
	struct xp xp = { .ctx = ctx };
	xmlNodePtr root;
	xmlDocPtr doc;
	int r;

	if (!xml || !out)
		return -EINVAL;
	doc = read_doc(ctx, xml, &r);
	if (!doc)
		return r;
	root = xmlDocGetRootElement(doc);
	if (doc->intSubset || doc->extSubset) {
		lv_err(ctx, "domain XML: a document type declaration is not accepted");
		r = -EBADMSG;
		goto out;
	}
	if (!root || root->ns || strcmp((const char *)root->name, "domain")) {
		lv_err(ctx, "domain XML: root element is <%.32s>, not <domain>",
		       root ? (const char *)root->name : "");
		r = -EBADMSG;
		goto out;
	}
	xp.x = xmlXPathNewContext(doc);
	if (!xp.x) {
		r = -ENOMEM;
		goto out;
	}
	xp.x->error = xml_quiet;

	memset(&info, 0, sizeof(info));
	info.min_guarantee_bytes = MS_UNKNOWN;
	r = parse_identity(&xp, &info);
	if (r >= 0)
		r = parse_vsock(&xp, &info);
	if (r >= 0)
		r = parse_channel(&xp, &info);
	if (r >= 0)
		r = parse_balloon(&xp, &info);
	if (r >= 0)
		r = parse_memtune(&xp, &info);
	if (r >= 0)
		r = parse_numatune(&xp, &info);
	xmlXPathFreeContext(xp.x);
	if (r < 0)
		goto out;

	info.warnings = warnings_of(&info);
	memcpy(out->name, info.name, sizeof(out->name));
	memcpy(out->uuid, info.uuid, sizeof(out->uuid));
	out->vsock_cid = info.vsock_cid;
	memcpy(out->channel_path, info.channel_path, sizeof(out->channel_path));
	out->has_balloon = info.has_balloon;
	memcpy(out->balloon_model, info.balloon_model, sizeof(out->balloon_model));
	out->autodeflate = info.autodeflate;
	out->free_page_reporting = info.free_page_reporting;
	out->stats_period_s = info.stats_period_s;
	out->min_guarantee_bytes = info.min_guarantee_bytes;
	out->numa_nodeset = info.numa_nodeset;
	out->warnings = info.warnings;
	r = 0;
out:
	xmlFreeDoc(doc);
	return r;
}
